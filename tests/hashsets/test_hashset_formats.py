"""Hash-set readers are tolerant (line-numbered warnings, good rows import) and writers are
strict and round-trip (read -> write -> read gives identical records)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import InvalidInput, PolicyViolation, VigilError, WrongFormat
from vigil.hashsets import icse, lists, vics
from vigil.hashsets.formats import FORMATS, detect, register_defaults
from vigil.hashsets.model import Entry, ParsedSet

register_defaults()

MD5 = ["%032x" % (i * 7919 + 1) for i in range(10)]
SHA1 = ["%040x" % (i * 104729 + 3) for i in range(10)]
SHA256 = ["%064x" % (i * 15485863 + 5) for i in range(10)]
PDQ = ["%064x" % (i * 982451653 + 11) for i in range(10)]


def vics_1x() -> bytes:
    doc = {
        "odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases",
        "value": [
            {
                "CaseNumber": "TEST-1",
                "SourceApplicationName": "generator",
                "DateCreated": "/Date(1514764800000)/",
                "Media": [
                    {
                        "MediaID": 1,
                        "Category": 0,
                        "MD5": MD5[0].upper(),
                        "SHA1": SHA1[0].upper(),
                        "PhotoDNA": "AAEC" * 8,
                        "MediaSize": "2048",
                        "VictimIdentified": "true",
                        "OffenderIdentified": False,
                        "IsDistributed": 1,
                        "Series": "SERIES-X",
                        "Tags": ["t1"],
                        "MediaFiles": [{"FileName": "a.jpg", "Created": "/Date(1514764800123)/"}],
                        "AlternativeHashes": [
                            {"HashName": "SHA256", "HashValue": SHA256[0]},
                            {"HashName": "PDQ", "HashValue": PDQ[0]},
                        ],
                        "Exifs": [{"PropertyName": "Make", "PropertyValue": "GenCam"}],
                    },
                    {
                        "MediaID": 2,
                        "Category": None,
                        "IsPrecategorized": True,
                        "MD5": MD5[1],
                    },
                ],
            },
            {
                "CaseNumber": "TEST-2",
                "Media": [{"MediaID": 3, "Category": 2, "SHA1": SHA1[2], "Custom": {"x": 1}}],
            },
        ],
    }
    return b"\xef\xbb\xbf" + json.dumps(doc, indent=2).encode("utf-8")


def vics_20(variant: str) -> bytes:
    ctx = f"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{variant}/$metadata#Media"
    if variant == "Default":
        ctx = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/$metadata#Media"
    doc = {
        "@odata.context": ctx,
        "value": [
            {"MediaID": "m1", "Category": 1, "MD5": MD5[3], "IsDistributed": True},
            {"MediaID": "m2", "Category": "A", "SHA1": SHA1[4], "Series": "S"},
        ],
    }
    return json.dumps(doc, indent=2).encode("utf-8")


def dicts(ps: ParsedSet) -> list[dict[str, object]]:
    return [e.as_dict() for e in ps.entries]


def test_vics_1x_quirks() -> None:
    ps = vics.read(vics_1x())
    assert ps.warnings == []
    assert ps.variant == "1.3"
    assert ps.scheme == "dhs_legacy"
    first, second, third = ps.entries
    assert first.md5 == MD5[0]
    assert first.sha1 == SHA1[0]
    assert first.sha256 == SHA256[0]
    assert first.pdq == PDQ[0]
    assert first.category == "0"
    assert first.media_size == 2048
    assert first.victim_identified is True
    assert first.is_distributed is True
    assert first.offender_identified is False
    assert first.photodna == "AAEC" * 8
    assert first.record["MediaFiles"][0]["Created"] == "2018-01-01T00:00:00.123Z"
    assert second.category is None
    assert second.is_precategorized is True
    assert third.record["_case"] == 1
    assert ps.meta["cases"][0]["DateCreated"] == "2018-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("variant", "scheme"), [("US", "vics_us"), ("UK", "uk_caid"), ("Default", None)]
)
def test_vics_20_variants(variant: str, scheme: str | None) -> None:
    ps = vics.read(vics_20(variant))
    assert ps.variant == f"2.0/{variant}"
    assert ps.scheme == scheme
    assert [e.category for e in ps.entries] == ["1", "A"]


@pytest.mark.parametrize(
    "data", [vics_1x(), vics_20("US"), vics_20("UK"), vics_20("Default")], ids=str
)
def test_vics_round_trip(data: bytes) -> None:
    first = vics.read(data)
    written = vics.write(first.entries, variant=first.variant, meta=first.meta)
    assert not written.startswith(b"\xef\xbb\xbf")
    second = vics.read(written)
    assert second.warnings == []
    assert dicts(second) == dicts(first)
    assert second.variant == first.variant
    again = vics.write(second.entries, variant=second.variant, meta=second.meta)
    assert again == written


def test_vics_1x_writes_net_dates() -> None:
    ps = vics.read(vics_1x())
    out = vics.write(ps.entries, variant=ps.variant, meta=ps.meta).decode()
    assert "/Date(1514764800123)/" in out
    assert '"odata.metadata"' in out


def test_vics_bad_rows_are_line_numbered_and_good_rows_import() -> None:
    text = vics_20("US").decode()
    doc = json.loads(text)
    doc["value"].insert(1, {"MediaID": "bad", "MD5": "xyz", "Category": 1})
    doc["value"].append({"MediaID": "m9", "MD5": MD5[5], "MediaSize": "huge"})
    raw = json.dumps(doc, indent=2)
    ps = vics.read(raw.encode())
    assert [e.media_id for e in ps.entries] == ["m1", "m2", "m9"]
    lines = raw.splitlines()
    bad_md5 = next(w for w in ps.warnings if w.code == "bad_md5")
    no_hash = next(w for w in ps.warnings if w.code == "no_hash")
    bad_size = next(w for w in ps.warnings if w.code == "bad_mediasize")
    assert lines[bad_md5.line - 1].strip() == "{"
    assert '"bad"' in lines[bad_md5.line]
    assert no_hash.line == bad_md5.line
    assert '"m9"' in lines[bad_size.line]
    assert ps.entries[2].media_size is None


def test_vics_truncated_file_keeps_complete_objects() -> None:
    raw = vics_20("US").decode()
    cut = raw[: raw.index('"m2"') + 10]
    ps = vics.read(cut.encode())
    assert [e.media_id for e in ps.entries] == ["m1"]
    assert ps.warnings
    assert ps.warnings[0].code == "json_syntax"
    assert ps.warnings[0].line > 1


def test_vics_media_content_is_dropped_and_refused() -> None:
    doc = json.loads(vics_20("US"))
    doc["value"][0]["Thumbnail"] = "iVBORw0KGgo" * 20
    ps = vics.read(json.dumps(doc).encode())
    assert any(w.code == "media_dropped" for w in ps.warnings)
    assert "Thumbnail" not in ps.entries[0].record
    ps.entries[0].record["Thumbnail"] = "iVBORw0KGgo" * 20
    with pytest.raises(PolicyViolation):
        vics.write(ps.entries, variant=ps.variant)


def test_writer_is_strict() -> None:
    with pytest.raises(InvalidInput):
        vics.write([Entry(md5="not-a-digest")])
    with pytest.raises(InvalidInput):
        icse.write([Entry(sha1="abc")])
    with pytest.raises(InvalidInput):
        lists.write_pdq_csv([Entry(md5=MD5[0])])


ICSE = (
    "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
    "Series name;Notes\r\n"
    f"{MD5[0].upper()};{SHA1[0]};;IMG-1;Yes;No;;SER-1;first\r\n"
    f'{MD5[1]};;;IMG-2;No;Yes;Yes;;"semi;colon"\r\n'
    f"zz-not-md5;;;IMG-3;Yes;;;;\r\n"
    f"{MD5[4]};{SHA1[4]};;IMG-4;maybe;;;;\r\n"
    f"{MD5[5]};;;IMG-5\r\n"
)


def test_icse_tolerant_reader() -> None:
    ps = icse.read(b"\xef\xbb\xbf" + ICSE.encode())
    assert [e.media_id for e in ps.entries] == ["IMG-1", "IMG-2", "IMG-4", "IMG-5"]
    by_code = {w.code: w.line for w in ps.warnings}
    assert by_code["bad_md5"] == 4
    assert by_code["no_hash"] == 4
    assert by_code["bad_isdistributed"] == 5
    assert by_code["column_count"] == 6
    first = ps.entries[0]
    assert first.md5 == MD5[0]
    assert first.is_distributed is True
    assert first.victim_identified is False
    assert first.offender_identified is None
    assert first.series == "SER-1"
    assert ps.entries[1].record == {"columns": {"Notes": "semi;colon"}}


def test_icse_round_trip() -> None:
    first = icse.read(ICSE.encode())
    written = icse.write(first.entries, meta=first.meta)
    second = icse.read(written)
    assert second.warnings == []
    assert dicts(second) == dicts(first)
    assert written.decode().splitlines()[0].startswith("MD5;SHA1;PhotoDNA;Image ID")


def test_digest_list_and_pdq_csv_round_trip() -> None:
    text = f"# comment\nsha256\n{MD5[0]}\n{SHA1[1].upper()}  photo one.jpg\nnothex\n{SHA256[2]}\n"
    ps = lists.read_digest_list(text.encode())
    assert [(e.md5, e.sha1, e.sha256) for e in ps.entries] == [
        (MD5[0], None, None),
        (None, SHA1[1], None),
        (None, None, SHA256[2]),
    ]
    assert [(w.line, w.code) for w in ps.warnings] == [(5, "bad_digest")]
    again = lists.read_digest_list(lists.write_digest_list(ps.entries))
    assert dicts(again) == dicts(ps)
    csv_text = f"pdq,quality,label\n{PDQ[0]},100,a\n{PDQ[1]},,\nbad,3\n{PDQ[2]},900,c\n"
    pq = lists.read_pdq_csv(csv_text.encode())
    assert [(e.pdq, e.pdq_quality, e.label) for e in pq.entries] == [
        (PDQ[0], 100, "a"),
        (PDQ[1], None, None),
        (PDQ[2], None, "c"),
    ]
    assert [(w.line, w.code) for w in pq.warnings] == [(4, "bad_pdq"), (5, "bad_quality")]
    assert dicts(lists.read_pdq_csv(lists.write_pdq_csv(pq.entries))) == dicts(pq)


def test_detection() -> None:
    assert detect(vics_1x()).name == "vics_json"
    assert detect(ICSE.encode()).name == "icse_csv"
    assert detect(f"{PDQ[0]},100\n".encode()).name == "pdq_csv"
    assert detect(f"{MD5[0]}\n".encode()).name == "digest_list"
    with pytest.raises(WrongFormat):
        detect(b"\x89PNG\r\n\x1a\n binary")


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_readers_never_crash_on_fuzz(data: bytes) -> None:
    for fmt in FORMATS:
        with contextlib.suppress(VigilError):
            fmt.read(data)


def test_utf16_with_bom_and_lowercase_keys() -> None:
    doc = {
        "@odata.context": "x/2.0.xml/UK/$metadata#Media",
        "value": [{"mediaid": 7, "md5": MD5[2], "category": "B"}],
    }
    ps = vics.read(json.dumps(doc).encode("utf-16"))
    assert ps.variant == "2.0/UK"
    assert [(e.media_id, e.md5, e.category) for e in ps.entries] == [("7", MD5[2], "B")]
