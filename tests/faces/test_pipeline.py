"""Detection, alignment, embedding, rotation retries, quality and video frames on real faces."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from vigil.content.decode import decode
from vigil.faces.analyzer import FaceAnalyzer, FacePayload
from vigil.faces.dlib_models import DlibHogDetector, DlibResNetEmbedder
from vigil.faces.model import Detector, Embedder, weights_sha256
from vigil.faces.pipeline import FacePipeline, _rotate_cw, _unrotate_point

from .helpers import DATA, PEOPLE, blob_of, photo_bytes


def _pixels(name: str) -> np.ndarray:
    return decode(DATA / name).pixels


def test_models_satisfy_protocols_and_cards_hash_the_weights() -> None:
    import face_recognition_models as frm

    det, emb = DlibHogDetector(), DlibResNetEmbedder()
    assert isinstance(det, Detector)
    assert isinstance(emb, Embedder)
    assert emb.card.dim == 128
    assert emb.card.sha256 == weights_sha256(str(frm.face_recognition_model_location()))
    assert det.card.sha256 == weights_sha256(str(frm.pose_predictor_five_point_model_location()))
    assert len(emb.card.sha256) == 64
    assert det.card.name != emb.card.name


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_one_face_per_portrait_with_landmarks_inside_the_box(
    pipeline: FacePipeline, name: str
) -> None:
    image = _pixels(name)
    faces = pipeline.faces_in(image)
    assert len(faces) == 1, f"{name}: {len(faces)} faces"
    face = faces[0]
    left, top, right, bottom = face.box
    h, w = image.shape[:2]
    assert 0 <= left < right <= w
    assert 0 <= top < bottom <= h
    assert face.rotation == 0
    assert len(face.landmarks) == 5
    for x, y in face.landmarks:
        assert left - 10 <= x <= right + 10
        assert top - 10 <= y <= bottom + 10
    assert face.vector.dtype == np.float32
    assert face.vector.shape == (128,)
    assert face.size >= 40
    assert 0.0 < face.quality <= 1.0


def test_same_person_closer_than_different_people(pipeline: FacePipeline) -> None:
    vec = {n: pipeline.faces_in(_pixels(n))[0].vector for n in sorted(PEOPLE)}
    names = sorted(vec)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            d = float(np.linalg.norm(vec[a] - vec[b]))
            if PEOPLE[a] == PEOPLE[b]:
                assert d < 0.5, (a, b, d)
            else:
                assert d > 0.6, (a, b, d)


def test_embedder_is_deterministic_and_batched(pipeline: FacePipeline) -> None:
    image = _pixels("hopper_1.jpg")
    det = pipeline.detector.detect(image)[0]
    chip = pipeline.embedder.align(image, det)
    assert chip.shape == (150, 150, 3)
    one = pipeline.embedder.embed([chip])
    two = pipeline.embedder.embed([chip, chip])
    assert one.shape == (1, 128)
    assert two.shape == (2, 128)
    assert two.dtype == np.float32
    np.testing.assert_allclose(two[0], one[0], atol=1e-5)
    assert pipeline.embedder.embed([]).shape == (0, 128)


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_rotated_photo_is_found_by_retrying_rotations(pipeline: FacePipeline, angle: int) -> None:
    upright = _pixels("collins_1.jpg")
    ref = pipeline.faces_in(upright)[0]
    # store the photo turned by `angle` counter-clockwise: the face is found after turning it
    # back clockwise by `angle`
    turned = np.ascontiguousarray(np.rot90(upright, k=angle // 90))
    no_retry = FacePipeline(pipeline.detector, pipeline.embedder, try_rotations=False)
    assert no_retry.faces_in(turned) == []
    faces = pipeline.faces_in(turned)
    assert len(faces) == 1
    face = faces[0]
    assert face.rotation == angle
    # the box is reported in the coordinates of the stored (turned) image: turning the upright
    # box the same way must give (nearly) the same box
    h, w = upright.shape[:2]
    corners = [
        _turn_ccw(x, y, angle, w, h)
        for x, y in ((ref.box[0], ref.box[1]), (ref.box[2], ref.box[3]))
    ]
    exp = (
        min(c[0] for c in corners),
        min(c[1] for c in corners),
        max(c[0] for c in corners),
        max(c[1] for c in corners),
    )
    assert _iou(face.box, exp) > 0.7, (face.box, exp)
    assert float(np.linalg.norm(face.vector - ref.vector)) < 0.25


def _turn_ccw(x: float, y: float, angle: int, w: int, h: int) -> tuple[float, float]:
    for _ in range(angle // 90):
        x, y, w, h = y, w - x, h, w
    return x, y


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@given(
    st.integers(min_value=2, max_value=50),
    st.integers(min_value=2, max_value=50),
    st.sampled_from([0, 90, 180, 270]),
    st.data(),
)
def test_unrotate_inverts_rotate(w: int, h: int, angle: int, data: st.DataObject) -> None:
    img = np.zeros((h, w, 3), dtype=np.uint8)
    x = data.draw(st.integers(0, w - 1))
    y = data.draw(st.integers(0, h - 1))
    img[y, x] = 255
    rotated = _rotate_cw(img, angle)
    ry, rx = (int(v) for v in np.argwhere(rotated[:, :, 0] == 255)[0])
    # pixel centres: map (rx + .5, ry + .5) back and expect (x + .5, y + .5)
    ox, oy = _unrotate_point(rx + 0.5, ry + 0.5, angle, w, h)
    assert (ox, oy) == pytest.approx((x + 0.5, y + 0.5))


def test_no_face_in_a_gradient(pipeline: FacePipeline) -> None:
    ramp = np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (150, 1))
    assert pipeline.faces_in(np.dstack([ramp, ramp, ramp])) == []


def test_blur_lowers_sharpness_and_quality(pipeline: FacePipeline) -> None:
    img = Image.open(DATA / "obama_1.jpg").convert("RGB")
    sharp = pipeline.faces_in(np.asarray(img))[0]
    blurred_img = img.filter(ImageFilter.GaussianBlur(3))
    blurred = pipeline.faces_in(np.asarray(blurred_img))
    assert blurred, "a moderately blurred portrait should still be detected"
    assert blurred[0].blur < sharp.blur / 2
    assert blurred[0].quality <= sharp.quality


def test_exif_orientation_is_applied_before_detection(pipeline: FacePipeline) -> None:
    img = Image.open(DATA / "hopper_1.jpg").convert("RGB")
    stored = img.transpose(Image.Transpose.ROTATE_90)  # pixels stored turned ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with the tag that tells viewers to turn them back
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", quality=90, exif=exif)
    result = pipeline.process_photo(buf.getvalue())
    assert len(result.faces) == 1
    assert result.faces[0].rotation == 0  # found upright thanks to the orientation tag


def test_analyzer_outputs_payload_and_warnings(analyzer: FaceAnalyzer) -> None:
    out = analyzer.analyze(blob_of(photo_bytes("biden_1.jpg"), "biden.jpg"))
    assert isinstance(out.payload, FacePayload)
    assert len(out.payload.faces) == 1
    assert out.payload.embedder["dim"] == 128
    assert out.warnings == []
    damaged = photo_bytes("biden_1.jpg")[:4000]
    bad = analyzer.analyze(blob_of(damaged, "truncated.jpg"))
    assert bad.payload is None
    assert bad.warnings
    assert bad.warnings[0][0] == "faces_damaged"
    junk = analyzer.analyze(blob_of(b"not an image at all", "junk.jpg"))
    assert junk.payload is None
    assert junk.warnings[0][0] == "faces_wrong_format"


def test_analyzer_is_registered_and_on_by_default() -> None:
    import pickle

    from vigil.ingest.analyzers import ANALYZERS

    a = ANALYZERS.get("faces")
    assert a.default_enabled is True  # part of the default `full` profile (docs/faces.md)
    assert a.kinds == frozenset({"photo", "video"})
    clone = pickle.loads(pickle.dumps(a))  # noqa: S301 - our own object, round trip
    assert clone.name == "faces"
    for blob in a.examples():
        out = a.analyze(blob)
        assert isinstance(out.payload, FacePayload)
        assert out.payload.faces == []


def _make_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = frames[0].shape[1]
        stream.height = frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for px in frames:
            frame = av.VideoFrame.from_ndarray(px, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_video_faces_carry_their_frame_times(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    face = np.asarray(Image.open(DATA / "obama_1.jpg").convert("RGB").resize((320, 400)))
    blank = np.full_like(face, 90)
    fps = 4
    # 0-1 s blank, 1-3 s face, 3-4 s blank
    frames = [blank] * fps + [face] * (2 * fps) + [blank] * fps
    video = tmp_path / "clip.mp4"
    _make_video(video, frames, fps)
    out = analyzer.analyze(blob_of(video.read_bytes(), "clip.mp4", kind="video", ctype="mp4"))
    assert isinstance(out.payload, FacePayload)
    assert out.payload.frames == 4
    assert sorted(f["frame_time"] for f in out.payload.faces) == pytest.approx([1.0, 2.0])


def test_corrupt_video_is_a_warning(analyzer: FaceAnalyzer) -> None:
    out = analyzer.analyze(
        blob_of(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "x.mp4", "video", "mp4")
    )
    assert out.payload is None or out.payload.faces == []
    assert out.warnings
    assert all(code.startswith("faces_") for code, _msg in out.warnings)


def test_detector_card_describes_the_rotation_policy(pipeline: FacePipeline) -> None:
    card = pipeline.detector_card
    assert "upsample=1" in card.version
    assert "rotations=[" in card.version  # retries use the cheaper detector, and say so
    off = FacePipeline(pipeline.detector, pipeline.embedder, try_rotations=False).detector_card
    assert off.version.endswith("rotations=off")
    assert off.sha256 == card.sha256


# --- small faces: tiled full-resolution pass ---------------------------------------------------


def test_tiles_cover_the_image_with_the_overlap_asked_for() -> None:
    from vigil.faces.dlib_models import tiles

    for w, h, side, overlap in (
        (4000, 3000, 2048, 145),
        (5000, 700, 1024, 300),
        (900, 900, 1024, 50),
    ):
        ts = tiles(w, h, side, overlap)
        covered = np.zeros((h, w), bool)
        for left, top, right, bottom in ts:
            assert right - left <= side and bottom - top <= side
            covered[top:bottom, left:right] = True
        assert covered.all()
        xs = sorted({(t[0], t[2]) for t in ts})
        for (_, r0), (l1, _) in itertools.pairwise(xs):
            assert r0 - l1 >= overlap  # neighbours overlap by at least ``overlap``


def test_a_small_face_in_a_large_photo_is_found_by_the_tiled_pass() -> None:
    import cv2

    from vigil.faces.dlib_models import DlibHogDetector

    portrait = np.asarray(Image.open(DATA / "biden_1.jpg").convert("RGB"))
    plain = DlibHogDetector(max_pixels=300_000)
    (face,) = plain.detect(np.ascontiguousarray(portrait))
    left, _, right, _ = face.box
    scale = 48 / (right - left)  # a 48 px face in a 2 MP photo scaled to 0.3 MP: ~19 px there
    small = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((1200, 1700, 3), 140, np.uint8)
    canvas[700 : 700 + small.shape[0], 1100 : 1100 + small.shape[1]] = small
    assert plain.detect(canvas) == []
    tiled = DlibHogDetector(max_pixels=300_000, small_faces=True, tile=1024)
    found = tiled.detect(canvas)
    assert len(found) == 1
    cx = (found[0].box[0] + found[0].box[2]) / 2 - 1100
    assert abs(cx - (left + right) / 2 * scale) < 10
    assert "tiles=1024" in tiled.card.version and "tiles" not in plain.card.version
