"""`vigil persons ...` end to end on generated data through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vigil.cli.main import ReturnCode, app, main

runner = CliRunner()
PROV = ["--source", "synthetic", "--legal-basis", "test", "--received-from", "suite"]


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_persons_end_to_end(tmp_path: Path) -> None:
    gen = tmp_path / "op"
    _ok(["persons", "generate", str(gen), "--persons", "250", "--seed", "4", "--followup", "30"])
    for kind in ("register", "convictions", "roles", "compromised_cards", "breaches"):
        _ok(["persons", "reference", str(gen / f"{kind}.csv"), "--kind", kind, *PROV])
    out = _ok(
        [
            "persons",
            "import",
            str(gen / "records.csv"),
            "--case",
            "op-cli",
            "--mapping",
            str(gen / "mapping.yaml"),
            *PROV,
            "--received-on",
            "2026-11-01",
            "--json",
        ]
    )
    batch = json.loads(out)
    assert batch["rows_imported"] > 400
    assert "watch" not in batch
    linked = json.loads(_ok(["persons", "link", "--case", "op-cli", "--json"]))
    assert linked["persons"] < linked["records"]
    assert linked["enrichment"]["links"] > 0
    pri = json.loads(_ok(["persons", "prioritise", "--case", "op-cli", "--json"]))
    assert pri["bands"].get("corroborate", 0) > 0
    people = json.loads(_ok(["persons", "list", "--case", "op-cli", "--limit", "1000", "--json"]))
    banded = [p for p in people if p["band"] != "corroborate"]
    assert banded
    assert all(p["factors"] for p in banded if p["band"] in ("P1", "P2", "P3"))
    shown = json.loads(_ok(["persons", "show", str(banded[0]["id"]), "--json"]))
    assert shown["factors"]
    assert shown["records"][0]["card"].count("*") >= 4
    review = json.loads(_ok(["persons", "review", "--case", "op-cli", "--json"]))
    assert all(r["evidence"]["comparisons"] for r in review)
    summary = _ok(["case", "summary", "op-cli"])
    assert "payment records ->" in summary
    record_id = shown["records"][0]["id"]
    revealed = _ok(["persons", "card", str(record_id), "--reason", "test"]).strip()
    assert revealed.isdigit() and revealed.endswith(shown["records"][0]["card"][-4:])
    refer = json.loads(
        _ok(
            [
                "persons",
                "refer",
                "--case",
                "op-cli",
                "--out",
                str(tmp_path / "ref"),
                "--band",
                "P1",
                "--band",
                "P2",
                "--json",
            ]
        )
    )
    assert refer["packages"]
    # export: every record → its person, band, flags and evidence; no card number
    csv_out = tmp_path / "export.csv"
    said = _ok(["persons", "export", "--case", "op-cli", "--output", str(csv_out)])
    assert f"exported {linked['records']} records" in said
    import csv as csv_mod

    with csv_out.open(encoding="utf-8") as fh:
        rows = list(csv_mod.DictReader(fh))
    assert len(rows) == linked["records"]
    assert len({r["person_id"] for r in rows}) == linked["persons"]
    assert {r["band"] for r in rows} >= {"corroborate"}
    assert any(r["record_flags"] for r in rows if r["band"] == "corroborate")
    assert any("first_name" in r["evidence"] for r in rows)
    as_json = json.loads(_ok(["persons", "export", "--case", "op-cli", "--format", "json"]))
    assert [r["record_ref"] for r in as_json] == [r["record_ref"] for r in rows]
    shown_person = next(r for r in as_json if r["person_id"] == banded[0]["id"])
    assert shown_person["band"] == banded[0]["band"]
    card_digits = revealed[-8:]
    assert card_digits not in csv_out.read_text(encoding="utf-8")
    pid = str(banded[0]["id"])
    _ok(["persons", "outcome", pid, "suspect"])
    _ok(["persons", "outcome", pid, "arrested", "--children", "3"])
    funnel = json.loads(_ok(["persons", "funnel", "--case", "op-cli", "--json"]))
    assert funnel["reached"]["arrested"] == 1
    assert funnel["children_safeguarded"] == 3
    # a later batch: returning subscribers with convictions raise alerts at import
    later = json.loads(
        _ok(
            [
                "persons",
                "import",
                str(gen / "later" / "records.csv"),
                "--case",
                "op-later",
                "--mapping",
                str(gen / "later" / "mapping.yaml"),
                *PROV,
                "--json",
            ]
        )
    )
    assert later["watch"]["alerts"] > 0
    alerts = json.loads(_ok(["persons", "alerts", "--json"]))
    assert alerts
    assert alerts[0]["reasons"]
    audit = json.loads(_ok(["audit", "show", "--json"]))
    actions = {a["action"] for a in audit}
    assert {
        "persons.import.records",
        "persons.link",
        "persons.prioritise",
        "persons.refer",
        "persons.outcome",
        "persons.watch",
        "persons.export",
    } <= actions


def test_errors_map_to_exit_codes(tmp_path: Path) -> None:
    assert main(["persons", "funnel", "--case", "nope"]) == ReturnCode.NOT_FOUND
    bad = tmp_path / "m.yaml"
    bad.write_text("columns: {name: A}\n", encoding="utf-8")
    data = tmp_path / "r.csv"
    data.write_text("A\nX\n", encoding="utf-8")
    assert main(
        [
            "persons",
            "import",
            str(data),
            "--case",
            "c",
            "--mapping",
            str(bad),
            "--source",
            "s",
            "--legal-basis",
            " ",
            "--received-from",
            "r",
        ]
    ) == (ReturnCode.INVALID_INPUT)
    assert main(["persons", "outcome", "999", "charged"]) == ReturnCode.NOT_FOUND


def test_link_batch_without_card_or_shared_identifier(tmp_path: Path) -> None:
    """Issue 14, defect 6: no card column mapped and no two records sharing any identifier."""
    rows = ["ref,first,last,born"]
    for i in range(120):
        first = ("anna", "ben", "carla", "dev", "eli")[i % 5]
        born = f"{1950 + i % 40}-0{1 + i % 9}-1{i % 10}"
        rows += [f"a{i},{first},surname{i},{born}", f"b{i},{first},surname{i},{born}"]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text(
        "columns: {record_ref: ref, first_name: first, last_name: last, dob: born}\n",
        encoding="utf-8",
    )
    args = ["persons", "import", str(tmp_path / "r.csv"), "--case", "op-bare"]
    _ok([*args, "--mapping", str(tmp_path / "m.yaml"), *PROV])
    linked = json.loads(_ok(["persons", "link", "--case", "op-bare", "--json"]))
    assert linked["records"] == 240
    assert linked["persons"] == 120
    assert any("card_token: skipped" in n for n in linked["training_notes"])
