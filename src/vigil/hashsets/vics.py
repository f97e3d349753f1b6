"""Project VIC / VICS JSON hash sets: a tolerant reader and a strict writer that round-trips.

Versions: 1.x files carry ``odata.metadata``; 2.0 files carry ``@odata.context`` whose URL names
the variant (``US``, ``UK`` or neither = ``Default``). ``value`` holds Media objects, or Case
objects with a ``Media`` list. Real-world quirks handled: UTF-8 BOM (and UTF-16 with BOM),
.NET ``/Date(ms)/`` dates (normalised to ISO-8601, written back in 1.x form for 1.x files),
string/number/boolean mixes (``"true"``, ``1``, ``"1234"``), null categories with
``IsPrecategorized`` true, lower-case keys, and truncated files (complete objects before the
damage are imported, the damage is reported with its line number).

PhotoDNA values are stored and written back but never matched. Media content (thumbnails,
base64 data) is never stored: such fields are dropped on import with a warning, and the writer
refuses them (:class:`vigil.errors.PolicyViolation`).
"""

from __future__ import annotations

import json
import re
from json import decoder as json_decoder
from json import scanner as json_scanner
from typing import Any

from vigil.errors import InvalidInput, PolicyViolation, WrongFormat
from vigil.hashsets.common import (
    LineIndex,
    dates_to_net,
    decode_text,
    digest,
    normalise_dates,
    note_encoding,
    to_bool,
    to_code,
    to_int,
)
from vigil.hashsets.model import Entry, ParsedSet

NAME = "vics_json"

# VICS key -> (entry attribute, parser)
_BOOL_FIELDS = {
    "VictimIdentified": "victim_identified",
    "OffenderIdentified": "offender_identified",
    "IsDistributed": "is_distributed",
    "IsPrecategorized": "is_precategorized",
}
_CORE_ORDER = (
    "MediaID",
    "Category",
    "MD5",
    "SHA1",
    "PhotoDNA",
    "MediaSize",
    "VictimIdentified",
    "OffenderIdentified",
    "IsDistributed",
    "IsPrecategorized",
    "Series",
)
_KNOWN = {
    k.lower(): k
    for k in (*_CORE_ORDER, "SHA256", "Tags", "MediaFiles", "AlternativeHashes", "Exifs")
}
_MEDIA_CONTENT = re.compile(r"thumb|base64|^data$|^content$|^image(data)?$|^bytes$", re.IGNORECASE)
_DEFAULT_CONTEXT = {
    "1": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media",
    "2.0/Default": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/$metadata#Media",
    "2.0/US": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
    "2.0/UK": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media",
}


def sniff(head: bytes) -> bool:
    """Whether the file looks like VICS JSON (by its first bytes)."""
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n").replace(b"\x00", b"")
    return text.startswith(b"{") and (b"odata" in head.replace(b"\x00", b"") or b'"value"' in text)


_STORE_META = ("odata.metadata", "@odata.context", "cases", "warnings", "scheme_source", "encoding")
"""Keys of a stored set's ``meta`` that are not header fields of the file."""


def _variant(doc: dict[str, Any]) -> tuple[str, str | None]:
    """(variant, implied scheme) from the odata header."""
    if "@odata.context" in doc:
        ctx = str(doc.get("@odata.context") or "")
        flavour = "Default"
        for name in ("US", "UK"):
            if re.search(rf"[/#.]{name}([/#$.]|$)", ctx, flags=re.IGNORECASE):
                flavour = name
        scheme = {"US": "vics_us", "UK": "uk_caid"}.get(flavour)
        return f"2.0/{flavour}", scheme
    ctx = str(doc.get("odata.metadata") or "")
    m = re.search(r"(\d+\.\d+)\.xml", ctx)
    return (m.group(1) if m else "1.x"), "dhs_legacy"


def _tracking_decoder(positions: dict[int, int]) -> json.JSONDecoder:
    """A JSON decoder that records where every object starts (for line numbers)."""
    dec = json.JSONDecoder()
    json_object = getattr(json_decoder, "JSONObject")  # noqa: B009 - untyped stdlib internals

    def parse_object(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> tuple[Any, int]:
        obj, end = json_object(s_and_end, *args, **kwargs)
        positions[id(obj)] = s_and_end[1] - 1
        return obj, end

    # the pure-Python scanner calls ``parse_object`` (the C one does not)
    setattr(dec, "parse_object", parse_object)  # noqa: B010
    setattr(dec, "scan_once", getattr(json_scanner, "py_make_scanner")(dec))  # noqa: B009, B010
    return dec


def read(data: bytes) -> ParsedSet:
    """Parse a VICS JSON file.

    Raises:
        WrongFormat: the data is not VICS JSON at all.
    """
    decoded = decode_text(data)
    ps = _read_text(decoded.text)
    note_encoding(decoded, ps)
    return ps


def _read_text(text: str) -> ParsedSet:
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        raise WrongFormat("not VICS JSON: does not start with a JSON object")
    # Fast path: the C parser (no positions). Only when some object needs a warning is the file
    # parsed again with the position-tracking (pure Python, ~10x slower) parser for line numbers.
    try:
        fast = json.loads(text)
    except json.JSONDecodeError:
        return _read(text)
    ps = _walk(fast, text, ParsedSet(NAME), {}, None)
    if any(w.line == 0 and w.code != "no_odata_header" for w in ps.warnings):
        return _read(text)
    return ps


def _read(text: str) -> ParsedSet:
    ps = ParsedSet(NAME)
    positions: dict[int, int] = {}
    lines = LineIndex(text)
    try:
        doc = _tracking_decoder(positions).decode(text)
    except json.JSONDecodeError as exc:
        doc = _salvage(text, exc, ps, positions, lines)
    return _walk(doc, text, ps, positions, lines)


def _walk(
    doc: Any, text: str, ps: ParsedSet, positions: dict[int, int], lines: LineIndex | None
) -> ParsedSet:
    """Turn a parsed document into entries; ``lines`` None means "no positions known"."""
    if not isinstance(doc, dict) or not isinstance(doc.get("value"), list):
        raise WrongFormat("not VICS JSON: no 'value' list")
    if "odata.metadata" not in doc and "@odata.context" not in doc:
        ps.warn(0, "no_odata_header", "no odata.metadata / @odata.context: read as VICS 2.0")
    ps.variant, ps.scheme = _variant(doc)
    ps.meta = {k: v for k, v in doc.items() if k != "value"}

    def line_of(obj: Any) -> int:
        pos = positions.get(id(obj))
        return lines.line(pos) if pos is not None and lines is not None else 0

    cases: list[dict[str, Any]] = []
    for item in doc["value"]:
        if not isinstance(item, dict):
            ps.warn(line_of(doc), "not_an_object", f"value entry is not an object: {item!r:.60}")
            continue
        media_key = next((k for k in item if k.lower() == "media"), None)
        if media_key is not None and isinstance(item[media_key], list):
            case_index = len(cases)
            cases.append(normalise_dates({k: v for k, v in item.items() if k != media_key}))
            for media in item[media_key]:
                if not isinstance(media, dict):
                    ps.warn(line_of(item), "not_an_object", "Media entry is not an object")
                    continue
                _media(media, line_of(media) or line_of(item), ps, case_index)
        else:
            _media(item, line_of(item), ps, None)
    if cases:
        ps.meta["cases"] = cases
    return ps


def _salvage(
    text: str,
    exc: json.JSONDecodeError,
    ps: ParsedSet,
    positions: dict[int, int],
    lines: LineIndex,
) -> dict[str, Any]:
    """Recover the complete objects of a damaged file's ``value`` list."""
    ps.warn(exc.lineno, "json_syntax", f"JSON syntax error ({exc.msg}); reading what is intact")
    m = re.search(r'"value"\s*:\s*\[', text)
    if m is None:
        raise WrongFormat(f"not VICS JSON: {exc.msg} at line {exc.lineno}") from exc
    doc: dict[str, Any] = {}
    for key in ("odata.metadata", "@odata.context"):
        hm = re.search(rf'"{re.escape(key)}"\s*:\s*"([^"]*)"', text[: m.start()])
        if hm:
            doc[key] = hm.group(1)
    dec = _tracking_decoder(positions)
    items: list[Any] = []
    i = m.end()
    n = len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n or text[i] == "]":
            break
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError as err:
            line = lines.line(err.pos)
            if err.pos > exc.pos or lines.line(i) != exc.lineno:
                ps.warn(
                    line, "damaged_object", f"object starting at line {lines.line(i)} is damaged"
                )
            nxt = re.compile(r"\n(\s*)\{").search(text, i + 1)
            if nxt is None:
                break
            i = nxt.end() - 1
            continue
        items.append(obj)
        i = end
    doc["value"] = items
    return doc


def _media(obj: dict[str, Any], line: int, ps: ParsedSet, case_index: int | None) -> None:
    """Turn one Media object into an Entry (or a warning)."""
    entry = Entry()
    record: dict[str, Any] = {}
    where = f"Media {obj.get('MediaID', obj.get('mediaid', '?'))!s:.40}"
    for raw_key, value in obj.items():
        key = _KNOWN.get(raw_key.lower(), raw_key)
        try:
            if key == "MediaID":
                entry.media_id = None if value is None else str(value)
            elif key == "Category":
                entry.category = to_code(value)
            elif key in ("MD5", "SHA1", "SHA256"):
                setattr(entry, key.lower(), digest(key.lower(), value))
                if key == "SHA256":
                    record["_top_sha256"] = True
            elif key == "PhotoDNA":
                entry.photodna = str(value).strip() or None if value is not None else None
            elif key == "MediaSize":
                entry.media_size = to_int(value)
            elif key in _BOOL_FIELDS:
                setattr(entry, _BOOL_FIELDS[key], to_bool(value))
            elif key == "Series":
                entry.series = None if value is None else str(value)
            elif _MEDIA_CONTENT.search(key) and isinstance(value, str) and len(value) > 64:
                ps.warn(
                    line, "media_dropped", f"{where}: field {raw_key!r} holds media; not stored"
                )
            else:
                record[key] = normalise_dates(value)
        except InvalidInput as exc:
            ps.warn(line, f"bad_{key.lower()}", f"{where}: {key}: {exc}")
    for alt in record.get("AlternativeHashes") or []:
        _alternative(alt, entry, line, ps, where)
    if case_index is not None:
        record["_case"] = case_index
    entry.record = record
    if not entry.has_signal() and not entry.photodna:
        ps.warn(
            line, "no_hash", f"{where}: no usable MD5, SHA-1, SHA-256, PDQ or PhotoDNA; skipped"
        )
        return
    ps.entries.append(entry)


def _alternative(alt: Any, entry: Entry, line: int, ps: ParsedSet, where: str) -> None:
    if not isinstance(alt, dict):
        return
    lower = {k.lower(): v for k, v in alt.items()}
    name = str(lower.get("hashname") or lower.get("name") or lower.get("algorithm") or "")
    value = lower.get("hashvalue") or lower.get("value") or lower.get("hash")
    kind = name.strip().lower().replace("-", "")
    if kind in ("sha256", "pdq", "md5", "sha1") and value:
        try:
            canonical = digest(kind, value)
        except InvalidInput as exc:
            ps.warn(line, f"bad_{kind}", f"{where}: AlternativeHashes {name}: {exc}")
            return
        if getattr(entry, kind) is None:
            setattr(entry, kind, canonical)
            if kind == "pdq":
                quality = lower.get("quality")
                entry.pdq_quality = quality if isinstance(quality, int) else None


# --- writer ---------------------------------------------------------------------------------


def write(
    entries: list[Entry], *, variant: str | None = None, meta: dict[str, Any] | None = None
) -> bytes:
    """Write a strict VICS JSON file (UTF-8, no BOM).

    Raises:
        InvalidInput: an entry is malformed (bad digest, non-text category).
        PolicyViolation: an entry carries media content.
    """
    meta = dict(meta or {})
    variant = variant or "2.0/Default"
    legacy = not variant.startswith("2")
    doc: dict[str, Any] = {}
    if legacy:
        doc["odata.metadata"] = meta.get("odata.metadata") or _DEFAULT_CONTEXT["1"]
    else:
        key = variant if variant in _DEFAULT_CONTEXT else "2.0/Default"
        doc["@odata.context"] = meta.get("@odata.context") or _DEFAULT_CONTEXT[key]
    for k, v in meta.items():
        if k not in _STORE_META and k not in doc:
            doc[k] = v
    media = [_media_out(e, legacy) for e in entries]
    cases = meta.get("cases")
    if cases and entries and all(isinstance(e.record.get("_case"), int) for e in entries):
        grouped: list[dict[str, Any]] = []
        for index, case in enumerate(cases):
            out_case = dates_to_net(case) if legacy else dict(case)
            out_case["Media"] = [
                m for m, e in zip(media, entries, strict=True) if e.record["_case"] == index
            ]
            grouped.append(out_case)
        doc["value"] = grouped
    else:
        doc["value"] = media
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _media_out(e: Entry, legacy: bool) -> dict[str, Any]:
    for kind in ("md5", "sha1", "sha256", "pdq"):
        value = getattr(e, kind)
        if value is not None:
            digest(kind, value)  # strict: never write a malformed hash
    if e.category is not None and not isinstance(e.category, str):
        raise InvalidInput(f"category must be text, got {e.category!r}")
    out: dict[str, Any] = {}
    if e.media_id is not None:
        out["MediaID"] = int(e.media_id) if legacy and _plain_int(e.media_id) else e.media_id
    out["Category"] = (
        int(e.category) if e.category is not None and _plain_int(e.category) else e.category
    )
    if e.md5:
        out["MD5"] = e.md5.upper()
    if e.sha1:
        out["SHA1"] = e.sha1.upper()
    if e.photodna:
        out["PhotoDNA"] = e.photodna
    if e.media_size is not None:
        out["MediaSize"] = e.media_size
    for key, attr in _BOOL_FIELDS.items():
        value = getattr(e, attr)
        if value is not None:
            out[key] = value
    if e.series is not None:
        out["Series"] = e.series
    record = {k: v for k, v in e.record.items() if not k.startswith("_")}
    for key, value in record.items():
        if _MEDIA_CONTENT.search(key) and isinstance(value, str) and len(value) > 64:
            raise PolicyViolation(f"refusing to export media content in field {key!r}")
    alts = list(record.get("AlternativeHashes") or [])
    present = {
        str(next((v for k, v in a.items() if k.lower() in ("hashname", "name")), "")).lower()
        for a in alts
        if isinstance(a, dict)
    }
    if e.sha256 and e.record.get("_top_sha256"):
        out["SHA256"] = e.sha256
    elif e.sha256 and "sha256" not in present:
        alts.append({"HashName": "SHA256", "HashValue": e.sha256})
    if e.pdq and "pdq" not in present:
        alts.append({"HashName": "PDQ", "HashValue": e.pdq})
    if alts:
        record["AlternativeHashes"] = alts
    out.update(record)
    return dates_to_net(out) if legacy else out


def _plain_int(text: str) -> bool:
    """Whether ``text`` is an integer written without sign or leading zeros."""
    return text.isdigit() and str(int(text)) == text
