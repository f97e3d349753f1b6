"""``vigil hub``: set up a hub from the command line and import air-gapped bundle files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.cli.main import ReturnCode, main
from vigil.share import keys
from vigil.share.protocol import make_bundle, sign_bundle


def test_hub_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub = tmp_path / "hub"
    assert main(["hub", "init", str(hub)]) == 0
    assert "administrator key" in capsys.readouterr().out
    assert main(["hub", "init", str(hub)]) == ReturnCode.CONFLICT
    capsys.readouterr()
    for name, country in (("de-bka", "DE"), ("nl-police", "NL")):
        assert main(["hub", "keygen", str(tmp_path / f"{name}.pem")]) == 0
        args = [
            "hub",
            "members",
            "add",
            name,
            "--country",
            country,
            "--force",
            "unit",
            "--contact",
            "desk",
        ]
        args += ["--public-key", str(tmp_path / f"{name}.pub"), "--hub", str(hub)]
        assert main(args) == 0
    assert (
        main(
            [
                "hub",
                "operations",
                "add",
                "op-1",
                "--name",
                "Op One",
                "--action-day",
                "2027-02-03",
                "--hub",
                str(hub),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "hub",
                "operations",
                "add",
                "op-2",
                "--name",
                "x",
                "--action-day",
                "soon",
                "--hub",
                str(hub),
            ]
        )
        == ReturnCode.INVALID_INPUT
    )
    again = ["hub", "operations", "add", "op-1", "--name", "again", "--hub", str(hub)]
    assert main(again) == ReturnCode.CONFLICT
    for name in ("de-bka", "nl-police"):
        assert main(["hub", "operations", "join", "op-1", name, "--hub", str(hub)]) == 0
    capsys.readouterr()
    files = []
    for name, ref in (("de-bka", "item:1"), ("nl-police", "item:7")):
        key = keys.load_private(tmp_path / f"{name}.pem")
        sig = {"kind": "sha256", "value": "ab" * 32, "local_ref": ref, "meta": {}}
        bundle = make_bundle(
            agency=name, operation="op-1", case_ref="c1", key_id=keys.key_id(key), signals=[sig]
        )
        path = tmp_path / f"{name}.vigil.json"
        path.write_bytes(sign_bundle(bundle, key))
        files.append(str(path))
    assert main(["hub", "import-bundle", *files, "--hub", str(hub), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["overlaps"] for r in results] == [0, 1]
    # the same file again is a replay
    assert main(["hub", "import-bundle", files[0], "--hub", str(hub)]) == ReturnCode.INTEGRITY
    assert "replay" in capsys.readouterr().err
    assert main(["hub", "members", "list", "--json", "--hub", str(hub)]) == 0
    assert {m["name"] for m in json.loads(capsys.readouterr().out)} == {
        "hub-admin",
        "de-bka",
        "nl-police",
    }
    assert main(["hub", "operations", "board", "op-1", "--json", "--hub", str(hub)]) == 0
    assert json.loads(capsys.readouterr().out)["operation"]["action_day"] == "2027-02-03"
    assert main(["hub", "quarantine", "--hub", str(hub)]) == 0
    assert "nothing in quarantine" in capsys.readouterr().out
    assert main(["hub", "quarantine", "--keep", "1", "--hub", str(hub)]) == ReturnCode.NOT_FOUND
    assert main(["hub", "members", "revoke", "nl-police", "--hub", str(hub)]) == 0
    capsys.readouterr()
    assert main(["hub", "import-bundle", files[1], "--hub", str(hub)]) == ReturnCode.INTEGRITY
    assert "unknown key" in capsys.readouterr().err
    assert main(["hub", "audit", "--hub", str(hub)]) == 0
    assert "intact" in capsys.readouterr().out
    assert (
        main(["hub", "members", "list", "--hub", str(tmp_path / "nowhere")]) == ReturnCode.NOT_FOUND
    )
