"""Helpers for the review web app tests: a store with two cases, one user per role (members of
case A only), synthetic items, and helpers to log in quickly."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.settings import Settings
from vigil.store import web as store
from vigil.store.db import Database
from vigil.store.models import Case, EvidenceSource, MediaItem, Occurrence
from vigil.web.auth import SESSION_COOKIE
from vigil.web.passwords import hash_password

PASSWORD = "correct horse battery staple"  # noqa: S105 - test account


def synthetic_png(seed: int, size: int = 96) -> bytes:
    """A generated colour pattern (no people, no content): random blocks + gradient."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
    img = Image.fromarray(blocks, "RGB").resize((size, size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@dataclass
class World:
    """What the fixtures built."""

    app_db: Database
    settings: Settings
    case_a: int
    case_b: int
    items_a: list[int]
    items_b: list[int]
    users: dict[str, int]
    media: dict[int, bytes] = field(default_factory=dict)
    extra: dict[str, dict[int, int]] = field(default_factory=dict)
    """Per capability: case id -> one record id of that case (person, face cluster ...)."""


def add_item(
    session: Session, case_id: int, source_id: int, n: int, media: dict[int, bytes], kind: str
) -> int:
    data = synthetic_png(n) if kind == "photo" else f"not an image {n}".encode()
    item = MediaItem(
        sha256=hashlib.sha256(data).hexdigest(),
        sha1=hashlib.sha1(data).hexdigest(),  # noqa: S324 - a file digest, not security
        md5=hashlib.md5(data).hexdigest(),  # noqa: S324
        size=len(data),
        content_type="png" if kind == "photo" else "text",
        kind=kind,
        width=96 if kind == "photo" else None,
        height=96 if kind == "photo" else None,
        camera_serial="SN-123456789" if n % 2 == 0 else None,
        extractor_version="test",
    )
    session.add(item)
    session.flush()
    path = f"DCIM/{kind}_{n:04d}.png"
    session.add(
        Occurrence(
            source_id=source_id, item_id=item.id, path=path, raw_path=path.encode(), size=len(data)
        )
    )
    media[item.id] = data
    return item.id


def seed_capabilities(
    s: Session, ids: dict[str, int], items: dict[str, list[int]]
) -> dict[str, dict[int, int]]:
    """One record per case for each capability screen's path parameters: a person; two faces
    (synthetic 4-d vectors from a test model card) in two clusters and a candidate link to a
    library identity."""
    from vigil.store import faces as fstore
    from vigil.store import share as sstore
    from vigil.store.persons import Person

    extra: dict[str, dict[int, int]] = {
        "person_id": {},
        "face_id": {},
        "label": {},
        "link_id": {},
        "overlap_id": {},
    }
    det = fstore.ensure_model(s, "detector", "test-detector", "1", "d" * 64)
    emb = fstore.ensure_model(s, "embedder", "test-embedder", "1", "e" * 64, dim=4)
    for name, case_id in ids.items():
        person = Person(case_id=case_id, label=f"synthetic person of {name}")
        s.add(person)
        s.flush()
        extra["person_id"][case_id] = person.id
        face_ids = []
        for k, item_id in enumerate(items[name][:2]):
            scan = fstore.add_scan(
                s,
                item_id,
                detector_id=det.id,
                embedder_id=emb.id,
                analyzer_version="test",
                frames=1,
                status="ok",
                dim=4,
                faces=[
                    {
                        "vector": [1.0, float(k), 0.0, 0.0],
                        "box": (20, 20, 70, 70),
                        "score": 1.0,
                        "landmarks": [[30, 30]],
                        "blur": 100.0,
                        "size": 50,
                        "quality": 0.9,
                    }
                ],
            )
            face_ids.append(
                s.execute(
                    select(fstore.FaceRow.id).where(fstore.FaceRow.scan_id == scan.id)
                ).scalar_one()
            )
        fstore.replace_clusters(s, case_id, emb.id, 0.5, [(f, [f]) for f in face_ids])
        ident = fstore.add_identity(
            s,
            f"V-{name}",
            kind="victim",
            status="unidentified",
            series=[],
            agency=None,
            notes=None,
            actor="test",
        )
        link, _ = fstore.upsert_link(
            s,
            case_id=case_id,
            face_id=face_ids[0],
            identity_id=ident.id,
            matched_face_id=None,
            matched_case_id=None,
            distance=0.3,
            rank=1,
            threshold=0.5,
            model_id=emb.id,
        )
        extra["face_id"][case_id] = face_ids[0]
        extra["label"][case_id] = 0
        extra["link_id"][case_id] = link.id
        overlap, _ = sstore.upsert_overlap(
            s,
            "https://hub.invalid",
            case_id,
            case_id=case_id,
            operation="ORE",
            category="same_file",
            score=0.0,
            evidence={"signal": "sha256"},
            local_ref=f"item:{items[name][0]}",
            other_agency={"name": "other", "country": "NL"},
            status="open",
        )
        extra["overlap_id"][case_id] = overlap.id
    return extra


def build_world(tmp_path: Path, photos: int = 4, database_url: str | None = None) -> World:
    settings = Settings.load(tmp_path / "home", database_url=database_url)
    db = Database(settings.database_url)
    digest = hash_password(PASSWORD)
    media: dict[int, bytes] = {}
    with db.write() as s:
        users = {role: store.create_user(s, f"{role}1", role, digest).id for role in store.ROLES}
        outsider = store.create_user(s, "outsider", "investigator", digest)
        users["outsider"] = outsider.id
        ids: dict[str, int] = {}
        items: dict[str, list[int]] = {}
        for name in ("case-a", "case-b"):
            case = Case(name=name, description=f"synthetic {name}")
            s.add(case)
            s.flush()
            ids[name] = case.id
            src = EvidenceSource(
                case_id=case.id,
                path=f"/evidence/{name}",
                kind="folder",
                label=f"{name} card",
                sha256=hashlib.sha256(name.encode()).hexdigest(),
                status="done",
            )
            s.add(src)
            s.flush()
            items[name] = [
                add_item(s, case.id, src.id, 1000 * case.id + n, media, "photo")
                for n in range(photos)
            ] + [add_item(s, case.id, src.id, 1000 * case.id + 99, media, "document")]
        extra = seed_capabilities(s, ids, items)
        for role in store.ROLES:
            store.add_member(s, ids["case-a"], users[role])
        store.add_member(s, ids["case-b"], outsider.id)
    world = World(
        db, settings, ids["case-a"], ids["case-b"], items["case-a"], items["case-b"], users, media
    )
    world.extra = extra
    return world


def session_for(world: World, username: str) -> tuple[str, str]:
    """A fresh server-side session for ``username`` without the password round trip:
    (cookie token, csrf token)."""
    import datetime as dt

    with world.app_db.write() as s:
        user = store.get_user(s, username)
        new = store.create_session(s, user.id, dt.timedelta(hours=1), client="test")
        return new.token, new.row.csrf_token


def login_as(client: TestClient, world: World, username: str) -> str:
    """Put a fresh session cookie for ``username`` on ``client``; return its CSRF token."""
    token, csrf = session_for(world, username)
    client.cookies.set(SESSION_COOKIE, token)
    return csrf


def login_form(
    client: TestClient, username: str, password: str = PASSWORD, next_url: str = "/"
) -> httpx2.Response:
    """Log in through the real form (login CSRF cookie + field)."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": token.group(1),
            "next": next_url,
        },
    )


def page_csrf(html: str) -> str:
    """The session CSRF token a page carries in its ``<meta name="csrf-token">``."""
    found = re.search(r'<meta name="csrf-token" content="([^"]*)">', html)
    assert found is not None
    return found.group(1)
