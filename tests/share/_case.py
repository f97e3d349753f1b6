"""A local case with one of everything `vigil share export` reads, written straight to the store.

Evidence is generated (random shapes, no people); faces are random vectors of a registered model
card; the person is invented. The files and names are kept so tests can look for them in a
bundle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vigil.camera.prnu import Fingerprint
from vigil.persons.cards import CardVault
from vigil.places.features import SceneFeatures
from vigil.places.vlad import GlobalIndex, Vocabulary
from vigil.settings import Settings
from vigil.signals.pdq import HASHER_VERSION, Hashed, hash_pixels
from vigil.store import faces as fstore
from vigil.store import places as pstore
from vigil.store import repo
from vigil.store.db import Database
from vigil.store.hashsets import ItemSignal
from vigil.store.models import EvidenceSource, MediaItem, Occurrence
from vigil.store.persons import Person, PersonBatch, PersonLink, PersonRecord

PERSON_NAME = "Christopher Montgomery"
EMAIL = "c.montgomery77@example.org"
CARD = "4921810000000000"
FILE_NAMES = ("IMG_0001.JPG", "holiday_photo.png")


@dataclass
class LocalCase:
    """What was put in the store (for assertions)."""

    name: str
    case_id: int
    files: list[Path]
    codebook: Path
    item_ids: list[int]
    face_id: int
    person_id: int
    camera_id: int


def _image(seed: int, fmt: str) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (256, 192), tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x, y = (int(v) for v in rng.integers(0, 230, 2))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        draw.rectangle(
            [x, y, x + int(rng.integers(8, 60)), y + int(rng.integers(8, 60))], fill=colour
        )
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def build_case(settings: Settings, db: Database, tmp: Path, name: str = "op-local") -> LocalCase:
    folder = tmp / "seizure"
    folder.mkdir(parents=True)
    files = []
    for i, (fname, fmt) in enumerate(zip(FILE_NAMES, ("JPEG", "PNG"), strict=True)):
        path = folder / fname
        path.write_bytes(_image(i, fmt))
        files.append(path)
    rng = np.random.default_rng(5)
    vault = CardVault.for_data_dir(settings.data_dir)
    with db.write() as s:
        agency = repo.ensure_agency(s, "Agency A", "GB")
        case = repo.ensure_case(s, name, "tester")
        case.agency_id = agency.id
        src = EvidenceSource(case_id=case.id, path=str(folder), kind="folder", status="done")
        s.add(src)
        s.flush()
        item_ids = []
        for path in files:
            data = path.read_bytes()
            item = MediaItem(
                sha256=hashlib.sha256(data).hexdigest(),
                sha1=hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                size=len(data),
                content_type="image/jpeg" if path.suffix == ".JPG" else "image/png",
                kind="photo",
                extractor_version="test",
            )
            s.add(item)
            s.flush()
            item_ids.append(item.id)
            s.add(
                Occurrence(
                    source_id=src.id,
                    item_id=item.id,
                    path=str(path.relative_to(folder)),
                    raw_path=bytes(path.relative_to(folder)),
                )
            )
            h = hash_pixels(np.asarray(Image.open(path).convert("RGB")))
            assert isinstance(h, Hashed)
            s.add(
                ItemSignal(
                    item_id=item.id,
                    signal_type="pdq",
                    value=h.value,
                    quality=h.quality,
                    hasher_version=HASHER_VERSION,
                )
            )
        det = fstore.ensure_model(s, "detector", "det", "1", "ab" * 32)
        emb = fstore.ensure_model(
            s, "embedder", "dlib_resnet_v1", "chip=150;jitter=0", "cd" * 32, 128
        )
        fstore.add_scan(
            s,
            item_ids[0],
            detector_id=det.id,
            embedder_id=emb.id,
            analyzer_version="t",
            frames=1,
            status="ok",
            dim=128,
            faces=[
                {
                    "vector": rng.normal(0, 0.1, 128),
                    "box": (10, 10, 60, 60),
                    "score": 0.9,
                    "landmarks": [[1, 2]],
                    "blur": 1.0,
                    "size": 50,
                    "quality": 0.8,
                }
            ],
        )
        face_id = fstore.case_faces(s, case.id, emb.id)[0][0].id
        feats = SceneFeatures(
            xy=rng.uniform(0, 200, (300, 2)).astype(np.float32),
            descriptors=rng.integers(0, 255, (300, 128)).astype(np.uint8),
            width=256,
            height=192,
            scale=1.0,
        )
        from vigil.places.analyzer import EXTRACTOR

        pstore.add_scene_feature(
            s,
            data=feats.to_bytes(),
            n_keypoints=300,
            width=256,
            height=192,
            extractor=EXTRACTOR,
            item_id=item_ids[1],
        )
        fp_path = settings.data_dir / "cameras" / "cam.vpf"
        fp = Fingerprint(k=rng.normal(size=(96, 128)).astype(np.float32), n_images=5)
        digest = fp.save(fp_path)
        cam = pstore.CameraFingerprint(
            name="Canon EOS 5D serial 0123456",
            width=128,
            height=96,
            n_images=5,
            path=str(fp_path),
            sha256=digest,
            case_id=case.id,
            created_by="tester",
        )
        s.add(cam)
        batch = PersonBatch(
            case_id=case.id,
            kind="records",
            file_name="payments.csv",
            sha256="00" * 32,
            size=1,
            source="processor",
            legal_basis="order 1",
            received_from="NCA",
            imported_by="tester",
        )
        s.add(batch)
        s.flush()
        rec = PersonRecord(
            batch_id=batch.id,
            case_id=case.id,
            line=2,
            name=PERSON_NAME,
            address="12 Kingsway Road, Leeds",
            postcode="LS1 4AB",
            dob=dt.date(1984, 3, 7),
            email=EMAIL,
            first_name_n="christopher",
            surname_n="montgomery",
            card_token=vault.token(CARD),
            card_enc=vault.encrypt(CARD),
            card_last4=CARD[-4:],
        )
        s.add(rec)
        person = Person(case_id=case.id, label=PERSON_NAME)
        s.add(person)
        s.flush()
        s.add(PersonLink(record_id=rec.id, person_id=person.id))
        case_id, person_id, camera_id = case.id, person.id, cam.id
    codebook = tmp / "codebook.vgi"
    GlobalIndex(Vocabulary(rng.normal(size=(16, 128)).astype(np.float32)), regions=False).save(
        codebook
    )
    return LocalCase(name, case_id, files, codebook, item_ids, face_id, person_id, camera_id)
