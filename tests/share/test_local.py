"""The local side against a real hub (in-process): push from two installations' stores, pull the
overlaps, resolve them to the local cases, confirm and reject; and the `vigil share` CLI."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub._world import OP, World, make_world  # tests/hub (pytest puts tests/ on the path)
from vigil.cli.main import main
from vigil.errors import PermissionDenied
from vigil.hub.app import create_app
from vigil.hub.client import HubClient
from vigil.settings import Settings
from vigil.share import export, local, persons
from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.store.models import CaseMember

from ._case import LocalCase, build_case

SECRET = persons.OperationSecret(b"operation ore secret, 32 bytes!!")
URL = "http://127.0.0.1"


@dataclass
class Unit:
    name: str
    db: Database
    case: LocalCase
    client: HubClient


@pytest.fixture
def units(tmp_path: Path) -> Iterator[tuple[World, dict[str, Unit]]]:
    world = make_world(tmp_path)
    http = TestClient(create_app(world.hub), base_url=URL)
    out = {}
    for name in ("de-bka", "nl-police"):
        settings = Settings.load(tmp_path / name, workers=1, user="tester")
        settings.data_dir.mkdir(parents=True)
        db = Database(settings.database_url)
        case = build_case(settings, db, tmp_path / f"{name}-evidence")
        client = HubClient(URL, world.agencies[name].key, http=http)
        built = export.build(
            settings,
            db,
            case.name,
            agency=name,
            operation=OP,
            private_key=world.agencies[name].key,
            options=export.ExportOptions(secret=SECRET, codebook=case.codebook),
        )
        client.push(built.envelope)
        export.record(db, built, actor="tester", destination=URL)
        out[name] = Unit(name, db, case, client)
    yield world, out
    http.close()
    for u in out.values():
        u.db.dispose()
    world.hub.close()


def test_pushed_cases_meet_at_the_hub_and_come_back_resolved(
    units: tuple[World, dict[str, Unit]],
) -> None:
    _, u = units
    a, b = u["de-bka"], u["nl-police"]
    result = local.pull(a.db, a.client, URL, actor="tester")
    assert result["new"] >= 4
    rows = local.overlaps(a.db, a.case.case_id)
    assert len(rows) == result["new"]
    # the same photos, face, room (same shared codebook), camera, person, card and e-mail are
    # in both units' cases
    assert {r["category"] for r in rows} == {
        "same_file",
        "same_face",
        "same_room",
        "same_camera",
        "same_person",
        "same_card",
        "same_email",
    }
    for r in rows:
        assert r["case_id"] == a.case.case_id
        assert r["other_agency"]["name"] == "nl-police"
        assert r["local_ref"].split(":")[0] in ("item", "face", "person", "camera")
    person = next(r for r in rows if r["category"] == "same_person")
    assert person["local_ref"] == f"person:{a.case.person_id}"
    # reject it here: the hub suppresses it; the other side sees the rejection
    decided = local.decide(a.db, a.client, person["id"], "reject", actor="tester")
    assert decided["my_decision"] == "reject" and decided["status"] == "rejected"
    local.pull(b.db, b.client, URL, actor="tester")
    theirs = next(
        r for r in local.overlaps(b.db, b.case.case_id) if r["remote_id"] == person["remote_id"]
    )
    assert theirs["their_decision"] == "reject" and theirs["status"] == "rejected"
    with a.db.read() as s:
        actions = [e.action for e in audit.iter_entries(s)]
    assert {"share.push", "share.pull", "share.overlap_reject"} <= set(actions)


def test_web_style_decisions_need_case_membership(units: tuple[World, dict[str, Unit]]) -> None:
    _, u = units
    a = u["de-bka"]
    local.pull(a.db, a.client, URL, actor="tester")
    first = local.overlaps(a.db, a.case.case_id)[0]
    with a.db.write() as s:
        repo.ensure_user(s, "outsider")
    with pytest.raises(PermissionDenied):
        local.decide(
            a.db, a.client, first["id"], "confirm", actor="outsider", require_membership=True
        )
    with a.db.write() as s:
        user = repo.ensure_user(s, "member")
        s.add(CaseMember(case_id=a.case.case_id, user_id=user.id))
    done = local.decide(
        a.db, a.client, first["id"], "confirm", actor="member", require_membership=True
    )
    assert done["my_decision"] == "confirm"


def test_cli_keygen_secret_export_and_overlaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    settings = Settings.load(home, user="tester")
    home.mkdir()
    db = Database(settings.database_url)
    case = build_case(settings, db, tmp_path / "evidence")
    db.dispose()
    key, secret, out = tmp_path / "agency.key", tmp_path / "ore.secret", tmp_path / "b.bundle"
    base = ["--data-dir", str(home)]
    assert main([*base, "share", "keygen", str(key)]) == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.with_name("agency.key.pub").exists()
    assert main([*base, "share", "secret", str(secret)]) == 0
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    capsys.readouterr()
    rc = main(
        [*base, "share", "export", case.name, "--operation", "ORE", "--key", str(key),
         "--secret", str(secret), "--out", str(out), "--json"]
    )  # fmt: skip
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["person"] == 1 and report["counts"]["sha256"] == 2
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_bytes())["bundle"]["header"]["operation"] == "ORE"
    assert main([*base, "share", "overlaps", case.name]) == 0
    assert "no overlaps" in capsys.readouterr().out
    db = Database(settings.database_url)
    with db.read() as s:
        assert [e.action for e in audit.iter_entries(s, case_id=case.case_id)][-1] == "share.export"
    db.dispose()


def test_an_air_gapped_bundle_file_imports_once_and_tampering_is_refused(
    units: tuple[World, dict[str, Unit]], tmp_path: Path
) -> None:
    from vigil.errors import IntegrityError

    world, _ = units
    name = "es-pn"
    settings = Settings.load(tmp_path / name, workers=1, user="tester")
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.database_url)
    case = build_case(settings, db, tmp_path / f"{name}-evidence")
    built = export.build(
        settings,
        db,
        case.name,
        agency=name,
        operation=OP,
        private_key=world.agencies[name].key,
        options=export.ExportOptions(secret=SECRET, codebook=case.codebook),
    )
    db.dispose()
    path = tmp_path / "es.bundle"
    export.write_file(path, built.envelope)
    tampered = tmp_path / "tampered.bundle"
    envelope = json.loads(built.envelope)
    envelope["bundle"]["signals"][0]["value"] = "0" * len(envelope["bundle"]["signals"][0]["value"])
    tampered.write_text(json.dumps(envelope))
    with pytest.raises(IntegrityError):
        world.hub.import_file(tampered)
    result = world.hub.import_file(path)
    assert result["signals"] == sum(built.counts.values()) and result["overlaps"] > 0
    with pytest.raises(IntegrityError):  # the same file again is a replay
        world.hub.import_file(path)


@pytest.mark.slow
def test_cli_push_pull_overlaps_and_reject(
    units: tuple[World, dict[str, Unit]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import vigil.hub.client
    from vigil.share import keys

    world, u = units
    http = u["de-bka"].client.http

    def client(url: str, key: object) -> HubClient:
        return HubClient(url, key, http=http)  # type: ignore[arg-type]

    monkeypatch.setattr(vigil.hub.client, "HubClient", client)
    home = tmp_path / "es-home"
    settings = Settings.load(home, user="tester")
    home.mkdir()
    db = Database(settings.database_url)
    case = build_case(settings, db, tmp_path / "es-evidence")
    db.dispose()
    key = tmp_path / "es.key"
    key.write_bytes(keys.private_pem(world.agencies["es-pn"].key))
    key.chmod(0o600)
    secret = tmp_path / "ore.secret"
    persons.write_secret(secret, b"operation ore secret, 32 bytes!!")
    base = ["--data-dir", str(home), "share"]
    hub = ["--hub", URL, "--key", str(key)]
    rc = main(
        [*base, "push", case.name, "--operation", OP, *hub, "--secret", str(secret),
         "--agency", "es-pn", "--only", "hashes", "--only", "persons", "--json"]
    )  # fmt: skip
    assert rc == 0
    pushed = json.loads(capsys.readouterr().out)
    assert set(pushed["counts"]) == {"md5", "sha1", "sha256", "person", "card_token", "email_token"}
    assert main([*base, "pull", *hub, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["new"] >= 2
    assert main([*base, "overlaps", case.name, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["category"] for r in rows} >= {"same_file", "same_person"}
    assert {r["other_agency"]["name"] for r in rows} == {"de-bka", "nl-police"}
    target = rows[0]["id"]
    assert main([*base, "reject", str(target), "--key", str(key), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "rejected"
