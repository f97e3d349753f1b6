"""``vigil places`` (same-room search, places, reference collections, metadata leads) and
``vigil camera`` (sensor-noise fingerprints).

Every result is a candidate lead with its evidence (inliers, PCE); only a person attaches an
image to a place. See docs/places.md for the method, the measured figures and the limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vigil.cli.context import runtime
from vigil.cli.options import BackfillWorkersOpt, ExecutorOpt, RayAddressOpt
from vigil.cli.output import emit_json, emit_lines
from vigil.errors import InvalidInput, VigilError
from vigil.places.defaults import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_INLIERS, DEFAULT_SHORTLIST

app = typer.Typer(
    help=(
        "Places: find images taken in the same room (across every case and every reference "
        "collection), keep place records, import reference photos of places, attach images to "
        "places, and list metadata leads (camera devices, GPS locations).\n\n"
        "Typical flow: vigil places search photo.jpg --draw out/; vigil places add 'Room 12' "
        "--type hotel_room; vigil places link ITEM PLACE --status confirmed."
    ),
    no_args_is_help=True,
)
camera_app = typer.Typer(
    help=(
        "Camera fingerprints (PRNU): estimate a sensor-noise fingerprint from >= 20 photos of "
        "one camera, then test whether an image was taken by it (PCE > 60 = candidate same "
        "camera). Resized or heavily re-compressed images may carry no usable fingerprint.\n\n"
        "Example: vigil camera fingerprint seized_phone_dcim/ -o phone.vpf; "
        "vigil camera test img_0042.jpg --fingerprint phone.vpf"
    ),
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
CaseArg = Annotated[str, typer.Argument(help="Case name.")]


def _parse_box(text: str) -> tuple[int, int, int, int]:
    try:
        x0, y0, x1, y1 = (int(float(v)) for v in text.split(","))
    except ValueError:
        raise InvalidInput(f"--exclude wants x0,y0,x1,y1 in pixels, got {text!r}") from None
    if x1 <= x0 or y1 <= y0:
        raise InvalidInput(f"--exclude box {text!r} is empty")
    return x0, y0, x1, y1


# --- search -----------------------------------------------------------------------------------

PLACE_CSV_COLUMNS = (
    "query", "query_item_id", "error", "rank", "kind", "verified", "inliers", "coverage",
    "small_region", "item_id", "path", "cases", "collection", "place_key", "place_name",
    "drawing",
)  # fmt: skip


def _place_csv_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (query, candidate); a query without candidates or unreadable gets one row."""
    rows: list[dict[str, Any]] = []
    for r in results:
        q = r["query"]
        base = {"query": q.get("path"), "query_item_id": q.get("item_id"), "error": r.get("error")}
        if "error" in r or not r["candidates"]:
            rows.append(base)
        rows.extend(dict(c, **base) for c in r.get("candidates", []))
    return rows


@app.command("search")
def search_cmd(
    images: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Image files and/or folders of images (searched recursively), or use --item.",
            metavar="IMAGE",
        ),
    ] = None,
    item: Annotated[int | None, typer.Option(help="Search with an ingested item instead.")] = None,
    case: Annotated[
        str | None, typer.Option(help="Only this case's items (plus all reference collections).")
    ] = None,
    top: Annotated[int, typer.Option(help="Candidates to show.")] = 10,
    shortlist: Annotated[
        int, typer.Option(help="Shortlist size verified geometrically (more: slower, finds more).")
    ] = DEFAULT_SHORTLIST,
    min_inliers: Annotated[
        int, typer.Option(help="Inliers needed to call a pair verified.")
    ] = DEFAULT_MIN_INLIERS,
    min_coverage: Annotated[
        float,
        typer.Option(
            help="Share of the query image the inliers must span (smaller: a shared "
            "object such as a print, not the room)."
        ),
    ] = DEFAULT_MIN_COVERAGE,
    model: Annotated[str, typer.Option(help="homography (default) or fundamental.")] = "homography",
    near_misses: Annotated[
        bool, typer.Option("--near-misses", help="Also list unverified shortlist entries.")
    ] = False,
    guided: Annotated[
        bool,
        typer.Option(
            "--guided",
            help="Extend each first fit of >= 11 inliers by guided matching: finds more "
            "rooms with repeated wallpaper or bedding, but also more wrong links.",
        ),
    ] = False,
    mask_people: Annotated[
        bool, typer.Option("--mask-people", help="Ignore keypoints on detected faces/bodies.")
    ] = False,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Box x0,y0,x1,y1 to ignore (repeatable).")
    ] = None,
    draw: Annotated[
        Path | None, typer.Option(help="Write one PNG per candidate (inlier lines) into DIR.")
    ] = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="One CSV row per query and candidate.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the JSON/CSV result to this file.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Find images of the same place: local-feature vote shortlist, then RootSIFT + MAGSAC++ check.

    Candidates are ranked by verified inliers (geometrically consistent matches); a pair with
    fewer than --min-inliers, or whose inliers span less than --min-coverage of the image (one
    shared object such as the same print in another room), is not reported as verified. People in the foreground, crops,
    viewpoint and lighting changes and re-compression are tolerated; drawings show why.

    Many images or folders are searched in one process (the index loads once) with a progress
    bar and one JSON or CSV result; an unreadable file is reported and the rest go on.

    Examples:
      vigil places search photo.jpg --draw /tmp/why
      vigil places search stills/ more.jpg --csv -o rooms.csv
      vigil places search --item 1234 --case op-birch --json
      vigil places search photo.jpg --mask-people --exclude 100,50,400,600
    """
    from vigil.cli.batch import expand_inputs, progress, show_progress, to_csv, write_out
    from vigil.places import service
    from vigil.places.search import SearchParams

    if bool(images) == (item is not None):
        raise InvalidInput("give IMAGE files/folders or --item ID (one of them)")
    # SearchParams refuses out-of-range values (and an unknown --model) before any work
    params = SearchParams(shortlist=shortlist, top=top, min_inliers=min_inliers,
                          min_coverage=min_coverage, model=model,  # type: ignore[arg-type]
                          include_unverified=near_misses, guided=guided)  # fmt: skip
    rt = runtime()
    boxes = [_parse_box(b) for b in exclude or []]
    # a query: (features, info, own keys, pixels, image path) - files are decoded one by one
    # inside the loop, so a folder of thousands of photos is never held in memory at once
    queries: list[tuple[Any, dict[str, Any], set[int], Any, Path | None]] = []
    files = expand_inputs(images) if images else []
    single = images is not None and len(images) == 1 and not images[0].is_dir()
    if item is not None:
        stored = service.item_queries(rt.settings, rt.db, item)
        own = {fid for fid, _, _ in stored}
        for fid, f, source in stored:
            queries.append((f, {"item_id": item, "feature_id": fid, "keypoints": len(f),
                                "query_features": source}, own, None, None))  # fmt: skip
    queries.extend((None, {}, set(), None, path) for path in files)
    results: list[dict[str, Any]] = []
    machine = as_json or as_csv
    with progress(len(queries), "places search",
                  enabled=show_progress(quiet, machine)) as advance:  # fmt: skip
        for n, (feats, info, own, pixels, path) in enumerate(queries, start=1):
            if path is not None:
                try:
                    feats, info, pixels = service.query_from_file(path, mask_people=mask_people,
                                                                  exclude=boxes)  # fmt: skip
                except VigilError as exc:
                    results.append({"query": {"path": str(path)}, "error": str(exc)})
                    advance()
                    continue
            rich = (service.retry_from_pixels(pixels, info.get("masked_boxes"))
                    if path is not None
                    else service.retry_from_store(rt.db, int(info["feature_id"]), feats))  # fmt: skip
            res = service.search_features(rt.settings, rt.db, feats, params, query_info=info,
                                          actor=rt.actor, exclude_keys=own, case_name=case,
                                          rich=rich)  # fmt: skip
            if draw is not None:
                draw.mkdir(parents=True, exist_ok=True)
                qpix = pixels
                if qpix is None:
                    qpix = service.target_pixels(rt.settings, rt.db, int(info["feature_id"]))
                tag = f"q{info['feature_id']}" if path is None else f"q{n:04d}_{path.stem}"
                for cand, row in zip(res.raw, res.candidates, strict=True):
                    cpix = service.target_pixels(rt.settings, rt.db, cand.key)
                    png = draw / f"{tag}_rank{row['rank']:02d}_f{cand.key}.png"
                    qname = str(path) if path is not None else f"item #{info.get('item_id')}"
                    what = row.get("path") or row.get("collection") or ""
                    cname = (f"item #{row['item_id']} {what}" if row.get("item_id")
                             else f"reference {what}")  # fmt: skip
                    png.write_bytes(service.draw_candidate(qpix, cpix, cand, f"rank {row['rank']}",
                                                           names=(qname, cname),
                                                           min_coverage=params.min_coverage))  # fmt: skip
                    row["drawing"] = str(png)
            results.append({"query": res.query, "index": res.index.__dict__,
                            "candidates": res.candidates})  # fmt: skip
            advance()
    if results and all("error" in r for r in results):
        raise InvalidInput("no query image could be read: " + "; ".join(
            f"{r['query']['path']}: {r['error']}" for r in results))  # fmt: skip
    if as_csv:
        write_out(to_csv(_place_csv_rows(results), PLACE_CSV_COLUMNS), out)
        return
    if as_json or out is not None:
        import json

        doc = results[0] if (single or (item is not None and len(results) == 1)) else results
        write_out(json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n", out)
        return
    lines: list[str] = []
    for r in results:
        q = r["query"]
        if "error" in r:
            lines.append(f"query {q['path']}: not searched ({r['error']})")
            continue
        lines.append(f"query {q.get('path') or 'item #' + str(q.get('item_id'))}: "
                     f"{q['keypoints']} keypoints"
                     + (f" ({q['query_features']})" if q.get("query_features") else "")
                     + f"; index of {r['index']['images']} images")  # fmt: skip
        if not r["candidates"]:
            lines.append("  no verified candidate (a miss is not proof of a different place)")
        for c in r["candidates"]:
            what = (f"item #{c.get('item_id')} {c.get('path', '')} [{', '.join(c.get('cases', []))}]"
                    if c.get("kind") == "item" else
                    f"reference {c.get('collection')}: {c.get('path')} -> place "
                    f"{c.get('place_key')} {c.get('place_name') or ''}")  # fmt: skip
            flag = "verified" if c["verified"] else "not verified"
            if c.get("small_region"):
                flag += (f": the matches span only {100 * c['coverage']:.0f}% of the image, "
                         "probably a shared object (a print, a bedspread), not the room")  # fmt: skip
            if c.get("by_two_surfaces"):
                flag += (f": the main surface spans only {100 * c['coverage']:.0f}% of the image, "
                         f"its two surfaces, moving with one camera, "
                         f"{100 * c['surfaces_coverage']:.0f}%")  # fmt: skip
            if c.get("guided"):
                flag += f"; {c['first_fit_inliers']} before guided matching"
            if c.get("retried"):
                flag += "; found by the retry with a richer description of the query"
            if c.get("layout"):
                lay = c["layout"]
                flag += (f"; {lay['verdict'].replace('_', ' ')}: surfaces {lay['planes']}, "
                         f"{lay['regions']}/9 regions")  # fmt: skip
                if lay.get("shared_with") is not None:
                    flag += f", on the same objects as feature #{lay['shared_with']}"
                if lay.get("contested_by") is not None:
                    flag += (f", feature #{lay['contested_by']} shows the same decor with "
                             "comparable evidence")  # fmt: skip
                if lay.get("rival") is not None:
                    flag += (f", feature #{lay['rival']} has more inliers partly on the same "
                             "objects")  # fmt: skip
            lines.append(f"  {c['rank']:>2}. {c['inliers']:>4} inliers ({flag}) {what}"
                         + (f"  drawing: {c['drawing']}" if c.get("drawing") else ""))  # fmt: skip
    lines.append(
        "candidate leads only: confirm with `vigil places link ITEM PLACE --status confirmed`"
    )
    emit_lines(lines)


@app.command("draw")
def draw_cmd(
    first: Annotated[str, typer.Argument(help="Image file, item:ID or feature:ID.")],
    second: Annotated[str, typer.Argument(help="Image file, item:ID or feature:ID.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="PNG file to write.")],
    model: Annotated[str, typer.Option(help="homography or fundamental.")] = "homography",
    as_json: JsonOpt = False,
) -> None:
    """Verify one pair and draw its inlier correspondences and matched regions.

    Example: vigil places draw query.jpg item:1234 -o pair.png
    """
    from vigil.places import service
    from vigil.places.draw import draw_pair, encode_png
    from vigil.places.features import DEFAULT_PARAMS, extract
    from vigil.places.verify import verify

    rt = runtime()

    def load(ref: str) -> tuple[Any, Any]:
        if ref.startswith(("item:", "feature:")):
            kind, _, num = ref.partition(":")
            if not num.isdigit():
                raise InvalidInput(f"{ref!r}: expected {kind}:NUMBER")
            fid = int(num)
            if kind == "item":
                fid = service.item_features(rt.db, int(num))[0][0]
            pix = service.target_pixels(rt.settings, rt.db, fid)
        else:
            _, _, pix = service.query_from_file(Path(ref))
        return extract(pix, DEFAULT_PARAMS), pix

    fa, pa = load(first)
    fb, pb = load(second)
    if model not in ("homography", "fundamental"):
        raise InvalidInput("--model must be homography or fundamental")
    v = verify(fa, fb, model=model, layout=True)  # type: ignore[arg-type]
    out.write_bytes(encode_png(draw_pair(pa, pb, v, names=(first, second))))
    data = {"inliers": v.inliers, "matches": v.matches, "model": v.model,
            "coverage": round(v.coverage, 3), "drawing": str(out)}  # fmt: skip
    if as_json:
        emit_json(data)
    else:
        emit_lines([f"{v.inliers} inliers of {v.matches} matches ({v.model}); wrote {out}"])


@app.command("index")
def index_cmd(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Re-learn the vocabulary (~1 min at 10k images).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring the scene shortlist index up to date (searches do this themselves).

    Example: vigil places index --rebuild
    """
    from vigil.places import service

    rt = runtime()
    st = service.refresh_index(rt.settings, rt.db, rebuild=rebuild)
    if as_json:
        emit_json(st.__dict__)
    else:
        emit_lines([f"scene index {st.path}: {st.images} images ({st.postings} local features, "
                    f"{st.words} visual words); +{st.added} -{st.removed}"
                    + ("; vocabulary re-learnt" if st.retrained else "")]
                   + [f"warning: {n} images have scene features of {name}, an earlier extractor "
                      f"version, and are not searched: run `vigil places scan CASE` for cases "
                      f"and import reference collections again"
                      for name, n in sorted(st.other_extractors.items())])  # fmt: skip


@app.command("scan")
def scan_cmd(
    case: CaseArg,
    workers: BackfillWorkersOpt = 0,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute scene features for the case's photos/videos that lack them (re-reads evidence).

    Same as `vigil analyze CASE --analyzer scene` (same -j / --executor ray options).
    Example: vigil places scan op-birch -j 2
    """
    from vigil.ingest.backfill import backfill
    from vigil.plugins import load_defaults

    load_defaults()
    rt = runtime()
    rep = backfill(
        rt.settings,
        rt.db,
        case,
        "scene",
        rt.actor,
        workers=workers,
        executor="ray" if ray_address else executor,
        ray_address=ray_address,
    )
    if as_json:
        emit_json(rep.__dict__)
    else:
        emit_lines([f"{case}: {rep.done} of {rep.pending} pending items analysed, {rep.failed} "
                    f"failed (see `vigil case warnings {case}`)"])  # fmt: skip


# --- places and collections -------------------------------------------------------------------
@app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="Place name, e.g. 'Hotel Example, room 12'.")],
    key: Annotated[str | None, typer.Option(help="Stable key (default: P000123).")] = None,
    address: Annotated[str | None, typer.Option()] = None,
    lat: Annotated[str | None, typer.Option(help="Latitude (decimal or DMS text).")] = None,
    lon: Annotated[str | None, typer.Option(help="Longitude (decimal or DMS text).")] = None,
    place_type: Annotated[
        str, typer.Option("--type", help="hotel_room, residence, vehicle, outdoor, ...")
    ] = "unknown",
    agency: Annotated[str | None, typer.Option(help="Owning agency.")] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a place record.

    Example: vigil places add "Hotel Example room 12" --type hotel_room --lat 51.5 --lon -0.12
    """
    from vigil.places.geo import parse_coordinate
    from vigil.store import audit
    from vigil.store import places as store

    la = parse_coordinate(lat, axis="lat") if lat else None
    lo = parse_coordinate(lon, axis="lon") if lon else None
    if (lat and la is None) or (lon and lo is None):
        raise InvalidInput(f"unusable coordinates --lat {lat!r} --lon {lon!r}")
    rt = runtime()
    with rt.db.write() as s:
        place = store.add_place(s, name=name, key=key, address=address, lat=la, lon=lo,
                                place_type=place_type, agency=agency, notes=notes,
                                created_by=rt.actor)  # fmt: skip
        data = store.place_dict(s, place)
        audit.append(s, rt.actor, "places.add", details=data)
    if as_json:
        emit_json(data)
    else:
        emit_lines([f"place #{data['id']} {data['key']}: {data['name']}"])


@app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """List places with their reference images and links. Example: vigil places list --json"""
    from vigil.store import places as store

    rt = runtime()
    with rt.db.read() as s:
        rows = [store.place_dict(s, p) for p in store.list_places(s)]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        emit_lines(["no places yet: vigil places add NAME, or vigil places import"])
    for r in rows:
        where = f" ({r['lat']:.5f}, {r['lon']:.5f})" if r["lat"] is not None else ""
        emit_lines([f"#{r['id']} {r['key']}: {r['name']} [{r['type']}]{where}; "
                    f"{r['reference_images']} reference images; links {r['links']}"])  # fmt: skip


@app.command("import")
def import_cmd(
    name: Annotated[str, typer.Argument(help="Collection name.")],
    folder: Annotated[Path, typer.Argument(help="Folder holding the images.")],
    csv_file: Annotated[
        Path,
        typer.Option(
            "--csv",
            help="CSV: image, place_id, [place_name, address, lat, lon, place_type], metadata...",
        ),
    ],
    agency: Annotated[str | None, typer.Option(help="Owning agency.")] = None,
    provenance: Annotated[str | None, typer.Option(help="Where the photos come from.")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a reference collection of place photos (e.g. hotel rooms) from a folder + CSV.

    Bad rows become warnings with their line number; the rest is imported. Re-running skips
    images already imported.

    Example: vigil places import hotels-2026 ./hotel_photos --csv hotels.csv --agency NCA
    """
    from vigil.places import service

    rt = runtime()
    rep = service.import_collection(rt.settings, rt.db, name=name, folder=folder,
                                    csv_path=csv_file, actor=rt.actor, agency=agency,
                                    provenance=provenance, description=description)  # fmt: skip
    if as_json:
        emit_json(rep.__dict__)
        return
    lines = [f"{name}: {rep.imported} images imported from {rep.rows} rows, "
             f"{rep.skipped_existing} already there, {rep.places_created} places created"]  # fmt: skip
    lines += [f"  line {w['line']}: {w['code']}: {w['message']}" for w in rep.warnings]
    emit_lines(lines)


@app.command("collections")
def collections_cmd(as_json: JsonOpt = False) -> None:
    """List reference collections. Example: vigil places collections"""
    from vigil.store import places as store

    rt = runtime()
    with rt.db.read() as s:
        rows = [{"id": c.id, "name": c.name, "source": c.source_path, "provenance": c.provenance,
                 "imported_by": c.imported_by, "imported_at": c.imported_at.isoformat(),
                 "stats": c.stats} for c in store.list_collections(s)]  # fmt: skip
    if as_json:
        emit_json(rows)
    else:
        emit_lines([f"{r['name']}: {r['stats']} from {r['source']}" for r in rows]
                   or ["no reference collections"])  # fmt: skip


@app.command("link")
def link_cmd(
    item: Annotated[int, typer.Argument(help="Item id.")],
    place: Annotated[str, typer.Argument(help="Place id or key.")],
    status: Annotated[str, typer.Option(help="candidate, confirmed or rejected.")] = "candidate",
    note: Annotated[str | None, typer.Option(help="Why (shown in review and reports).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Attach an item to a place (or confirm / reject an existing link).

    Example: vigil places link 1234 P000007 --status confirmed --note "same wallpaper, 96 inliers"
    """
    from vigil.store import audit
    from vigil.store import places as store

    rt = runtime()
    with rt.db.write() as s:
        p = store.get_place(s, place)
        link, old = store.set_link(s, place_id=p.id, item_id=item, status=status,
                                   actor=rt.actor, note=note)  # fmt: skip
        data = {"link": link.id, "item_id": item, "place": p.key, "status": status, "was": old}
        audit.append(s, rt.actor, "places.link", item_id=item, details=data)
    if as_json:
        emit_json(data)
    else:
        emit_lines([f"item #{item} -> place {p.key}: {status}" + (f" (was {old})" if old else "")])


@app.command("links")
def links_cmd(
    place: Annotated[str | None, typer.Option(help="Only this place (id or key).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List item-to-place links. Example: vigil places links --place P000007"""
    from vigil.store import places as store

    rt = runtime()
    with rt.db.read() as s:
        pid = store.get_place(s, place).id if place else None
        rows = [{"id": x.id, "place_id": x.place_id, "item_id": x.item_id, "status": x.status,
                 "note": x.note, "created_by": x.created_by, "decided_by": x.decided_by}
                for x in store.links(s, place_id=pid)]  # fmt: skip
    if as_json:
        emit_json(rows)
    else:
        emit_lines([f"#{r['id']} item #{r['item_id']} -> place #{r['place_id']}: {r['status']}"
                    for r in rows] or ["no links"])  # fmt: skip


# --- metadata leads ---------------------------------------------------------------------------
@app.command("devices")
def devices_cmd(case: CaseArg, as_json: JsonOpt = False) -> None:
    """List the case's images by camera (EXIF make/model/serial) with capture-time ranges.

    Example: vigil places devices op-birch --json
    """
    from vigil.places.leads import case_devices
    from vigil.store import repo

    rt = runtime()
    with rt.db.read() as s:
        rows = case_devices(s, repo.get_case(s, case).id)
    if as_json:
        emit_json(rows)
        return
    emit_lines([f"{r['device']}: {r['count']} items, {r['first_capture'] or '?'} .. "
                f"{r['last_capture'] or '?'}" + (f", {r['undated']} undated" if r["undated"] else "")
                for r in rows] or ["no camera metadata in this case"])  # fmt: skip


@app.command("locations")
def locations_cmd(
    case: CaseArg,
    radius: Annotated[float, typer.Option(help="Cluster radius in metres.")] = 100.0,
    geojson: Annotated[Path | None, typer.Option(help="Write a GeoJSON file.")] = None,
    kml: Annotated[Path | None, typer.Option(help="Write a KML file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Group the case's GPS-tagged images into location clusters; export GeoJSON / KML.

    EXIF positions are leads (editable by anyone); 0,0 and out-of-range values are left out.

    Example: vigil places locations op-birch --radius 50 --geojson op.geojson --kml op.kml
    """
    from vigil.places.leads import case_positions, location_clusters, to_geojson, to_kml
    from vigil.store import audit, repo

    if radius <= 0:
        raise InvalidInput("--radius must be positive")
    rt = runtime()
    with rt.db.read() as s:
        c = repo.get_case(s, case)
        positions = case_positions(s, c.id)
    clusters = location_clusters(positions, radius)
    written = []
    if geojson:
        geojson.write_text(to_geojson(positions, case), encoding="utf-8")
        written.append(str(geojson))
    if kml:
        kml.write_text(to_kml(positions, case), encoding="utf-8")
        written.append(str(kml))
    if written:
        with rt.db.write() as s:
            audit.append(s, rt.actor, "places.locations_export", case_id=c.id,
                         details={"files": written, "positions": len(positions)})  # fmt: skip
    if as_json:
        emit_json({"case": case, "positions": len(positions), "clusters": clusters,
                   "written": written})  # fmt: skip
        return
    lines = [f"{case}: {len(positions)} GPS-tagged items in {len(clusters)} location clusters"]
    for cl in clusters:
        lines.append(f"  {cl['cluster']}. ({cl['lat']:.5f}, {cl['lon']:.5f}) ±{cl['spread_m']} m: "
                     f"{cl['count']} items, {cl['first_capture'] or '?'} .. "
                     f"{cl['last_capture'] or '?'}; {', '.join(cl['devices'])}")  # fmt: skip
    lines += [f"wrote {w}" for w in written]
    emit_lines(lines)


# --- vigil camera -----------------------------------------------------------------------------
@camera_app.command("fingerprint")
def fingerprint_cmd(
    folder: Annotated[Path, typer.Argument(help="Folder of photos from ONE camera.")],
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Fingerprint file (.vpf).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Register it under this name.")] = None,
    min_images: Annotated[int, typer.Option(help="Refuse with fewer usable photos.")] = 20,
    make: Annotated[str | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option()] = None,
    serial: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate a camera's sensor-noise (PRNU) fingerprint from >= 20 of its photos.

    Use original files (not resized, not re-shared through social media); flat, bright,
    unsaturated scenes (sky, walls) give the best fingerprints. Photos of another size than the
    majority are skipped with a warning.

    Example: vigil camera fingerprint ./phone_dcim -o phone.vpf --name suspect-phone
    """
    from vigil.camera import service

    rt = runtime()
    if out is None and name is None:
        raise InvalidInput("give -o FILE and/or --name NAME")
    rep = service.fingerprint_folder(rt.settings, rt.db, folder, actor=rt.actor, out=out,
                                     name=name, min_images=min_images,
                                     device={"make": make, "model": model, "serial": serial})  # fmt: skip
    if as_json:
        emit_json(rep)
        return
    lines = [f"fingerprint of {rep['n_images']} images {rep['width']}x{rep['height']} -> "
             f"{rep['path']}"]  # fmt: skip
    lines += [f"  warning: {w}" for w in rep["warnings"]]
    emit_lines(lines)


@camera_app.command("test")
def camera_test_cmd(
    image: Annotated[Path, typer.Argument(help="Image to test (original file).")],
    fingerprint: Annotated[Path | None, typer.Option(help="Fingerprint file (.vpf).")] = None,
    name: Annotated[str | None, typer.Option(help="Registered fingerprint name.")] = None,
    search_offsets: Annotated[
        bool, typer.Option("--search-offsets", help="Search every crop offset even at full size.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Test whether IMAGE was taken by the fingerprinted camera (PCE; > 60 = candidate).

    A smaller image is treated as a crop and every offset is searched. A low PCE is no
    evidence either way (resizing and heavy re-compression destroy the fingerprint).

    Example: vigil camera test img_0042.jpg --fingerprint phone.vpf --json
    """
    from vigil.camera import service

    rt = runtime()
    res = service.check_file(rt.settings, rt.db, image, actor=rt.actor, fingerprint=fingerprint,
                            name=name, search=True if search_offsets else None)  # fmt: skip
    if as_json:
        emit_json(res)
        return
    verdict = (
        "candidate SAME camera" if res["candidate_same_camera"] else "no evidence of this camera"
    )
    emit_lines([f"{image}: PCE {res['pce']} (threshold {res['threshold']}): {verdict}; offset "
                f"({res['offset_x']}, {res['offset_y']})", *[f"  note: {n}" for n in res["notes"]]])  # fmt: skip


@camera_app.command("list")
def camera_list_cmd(as_json: JsonOpt = False) -> None:
    """List registered fingerprints. Example: vigil camera list"""
    from vigil.store import places as store

    rt = runtime()
    with rt.db.read() as s:
        rows = [{"name": f.name, "make": f.make, "model": f.model, "serial": f.serial,
                 "width": f.width, "height": f.height, "n_images": f.n_images, "path": f.path,
                 "sha256": f.sha256} for f in store.list_fingerprints(s)]  # fmt: skip
    if as_json:
        emit_json(rows)
    else:
        emit_lines([f"{r['name']}: {r['n_images']} images {r['width']}x{r['height']} {r['path']}"
                    for r in rows] or ["no registered fingerprints"])  # fmt: skip
