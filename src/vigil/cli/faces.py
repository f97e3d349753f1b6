"""``vigil faces`` (find, cluster, search faces) and ``vigil victims`` (the victim library).

Every result is a candidate lead with its distance; nothing is merged automatically. See
docs/faces.md for the models, the measured accuracy and its limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vigil.cli.context import runtime
from vigil.cli.options import BackfillWorkersOpt, ExecutorOpt, RayAddressOpt
from vigil.cli.output import emit_json, emit_lines
from vigil.errors import InvalidInput

app = typer.Typer(
    help=(
        "Faces: find them in a case (scan), group them per person (cluster), record feedback "
        "(same / different), search a photo against every case and the victim library.\n\n"
        "Typical flow: vigil faces scan CASE; vigil faces cluster CASE; vigil faces links CASE; "
        "vigil faces decide LINK confirm."
    ),
    no_args_is_help=True,
)
victims_app = typer.Typer(
    help=(
        "The victim library: identities (victims and unknown persons of interest) with status, "
        "series, owning agency and reference faces.\n\n"
        "Example: vigil victims add V-0001 --series 'Blue Room' --agency NCA --photo ref.jpg"
    ),
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
CaseArg = Annotated[str, typer.Argument(help="Case name.")]


def _pipeline(model: str | None = None) -> Any:
    """The default pipeline, or one whose embedder is a registered model (``--model NAME``)."""
    if model is not None:
        from vigil.faces.service import model_pipeline

        return model_pipeline(runtime().db, model)
    from vigil.faces.pipeline import default_pipeline

    return default_pipeline()


ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="A face model the unit registered (`vigil faces models add`); default: dlib.",
    ),
]

models_app = typer.Typer(
    help=(
        "Face models a unit brings (ArcFace-class ONNX, loaded from a local file, never "
        "downloaded). Each runs beside the default model with its own vectors and index, and "
        "must be calibrated before search or clustering use it.\n\n"
        "Example: vigil faces models add /models/arcface.onnx --name arcface-r100 "
        "--licence 'licensed to Unit 7 until 2027'"
    ),
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


@models_app.command("add")
def models_add(
    path: Annotated[Path, typer.Argument(help="The ONNX file (stays where it is).", exists=True)],
    name: Annotated[str, typer.Option(help="Short unique name, used as --model NAME.")],
    licence: Annotated[str, typer.Option(help="Under which licence the unit holds the model.")],
    as_json: JsonOpt = False,
) -> None:
    """Register an ArcFace-class ONNX face model (input N x 3 x 112 x 112, output N x dim).

    The file is loaded and run once to check it, and its SHA-256 recorded (a changed file is
    refused later). Then: vigil faces scan CASE --model NAME; vigil faces calibrate SET
    --model NAME; only then search and clustering accept it.

    Example: vigil faces models add arcface.onnx --name arcface --licence 'unit licence 2026'
    """
    from vigil.faces.service import register_model

    rt = runtime()
    data = register_model(rt.db, path, name, licence, rt.actor)
    if as_json:
        emit_json(data)
        return
    emit_lines(
        [
            f"registered {data['name']}: {data['card']['dim']}-d vectors, "
            f"SHA-256 {data['card']['sha256'][:16]}...; calibrate it before use: "
            f"vigil faces calibrate SET --model {data['name']}"
        ]
    )


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Registered face models with their licence and whether they are calibrated.

    Example: vigil faces models list --json
    """
    from vigil.faces.service import model_dict
    from vigil.store import faces as store

    rt = runtime()
    with rt.db.read() as s:
        rows = [model_dict(s, r) for r in store.list_model_files(s)]
    if as_json:
        emit_json(rows)
        return
    emit_lines(
        [
            f"{r['name']}: {r['card']['dim']}-d, {r['path']}, licence: {r['licence']}, "
            + (
                f"calibrated (threshold {r['threshold']:.3f})"
                if r["calibrated"]
                else "NOT calibrated: refused for search and clustering"
            )
            for r in rows
        ]
        or ["no face models registered (the default dlib model is always there)"]
    )


# --- vigil faces ------------------------------------------------------------------------------


@app.command("scan")
def scan(
    case: CaseArg,
    search: Annotated[
        bool,
        typer.Option(
            "--search/--no-search",
            help="When new faces were found, re-cluster the case and search other cases.",
        ),
    ] = True,
    model: ModelOpt = None,
    workers: BackfillWorkersOpt = 0,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find faces in the case's photos and videos not scanned yet (re-reads the evidence).

    With --model NAME, a registered model embeds the case's faces beside the default one.

    Same as `vigil analyze CASE --analyzer faces`, followed (when new faces were found) by
    `vigil faces cluster CASE`, which searches them against other cases and the library.
    Costs ~1 s per 1 MP photo on one core; videos are sampled every 2 s. Unreadable items
    become warnings. `-j N` finds faces in N worker processes, `--executor ray` as Ray tasks
    (default model only); interrupted, re-run it: scanned items are skipped.
    To find faces during ingest instead: vigil ingest PATH --case CASE --analyzer faces

    Example: vigil faces scan op-birch
    """
    from vigil.faces.service import refresh_case, scan_case

    rt = runtime()
    executor = "ray" if ray_address else executor
    if model is not None:
        from vigil.faces.service import scan_case_with

        if workers or executor != "local":
            raise InvalidInput("-j/--executor work with the default model only; drop --model")
        report = scan_case_with(rt.settings, rt.db, case, rt.actor, pipeline=_pipeline(model))
    else:
        report = scan_case(
            rt.settings,
            rt.db,
            case,
            rt.actor,
            workers=workers,
            executor=executor,
            ray_address=ray_address,
        )
    data: dict[str, Any] = {
        "case": case,
        "pending": report.pending,
        "scanned": report.scanned,
        "failed": report.failed,
        "faces": report.faces,
        "clusters": None,
        "candidate_links": None,
    }
    if search and report.faces and model is None:
        refreshed = refresh_case(rt.settings, rt.db, case, rt.actor, pipeline=_pipeline())
        if refreshed is not None:
            data["clusters"] = len(refreshed.clusters)
            data["candidate_links"] = len(refreshed.links)
    if as_json:
        emit_json(data)
        return
    lines = [
        f"{case}: {report.scanned} of {report.pending} pending items scanned, "
        f"{report.failed} failed (see `vigil case warnings {case}`), {report.faces} faces found"
    ]
    if data["clusters"] is not None:
        lines.append(
            f"re-clustered: {data['clusters']} clusters; {data['candidate_links']} candidate "
            f"links to review with `vigil faces links {case}`"
        )
    emit_lines(lines)


@app.command("cluster")
def cluster_cmd(
    case: CaseArg,
    threshold: Annotated[
        float | None,
        typer.Option(help="Distance threshold (default: the calibrated one, else 0.5)."),
    ] = None,
    search: Annotated[
        bool,
        typer.Option(
            "--search/--no-search",
            help="Also search the clusters against other cases and the library.",
        ),
    ] = True,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Group the case's faces per person, respecting feedback; then search other cases.

    Re-running re-clusters from scratch; "same"/"different" feedback is always respected.
    Search results are stored as candidate links (see `vigil faces links`).

    Example: vigil faces cluster op-birch --json
    """
    from vigil.faces.service import cluster_case, link_case

    rt = runtime()
    pipeline = _pipeline(model)
    report = cluster_case(rt.db, case, rt.actor, pipeline=pipeline, threshold=threshold)
    links = link_case(rt.db, rt.settings, case, rt.actor, pipeline=pipeline) if search else []
    data = {
        "case": report.case,
        "faces": report.faces,
        "threshold": report.threshold.as_dict(),
        "constraints": report.constraints,
        "clusters": report.clusters,
        "candidate_links": links,
    }
    if as_json:
        emit_json(data)
        return
    lines = [
        f"{report.case}: {report.faces} faces in {len(report.clusters)} clusters "
        f"(threshold {report.threshold.value:.3f}, {report.threshold.source}; "
        f"{report.constraints} feedback constraints)"
    ]
    for c in report.clusters:
        lines.append(
            f"  cluster {c['cluster']}: {c['size']} faces, representative face #"
            f"{c['representative_face']}"
        )
    lines.append(
        f"{len(links)} candidate links (need human confirmation): vigil faces links {case}"
    )
    emit_lines(lines)


@app.command("clusters")
def clusters_cmd(case: CaseArg, as_json: JsonOpt = False) -> None:
    """List the case's clusters from the last `vigil faces cluster` run.

    Example: vigil faces clusters op-birch --json
    """
    from vigil.store import faces as store
    from vigil.store.repo import get_case

    rt = runtime()
    with rt.db.read() as s:
        c = get_case(s, case)
        rows = [
            {
                "cluster": cl.label,
                "size": cl.size,
                "representative_face": cl.representative_face_id,
                "faces": members,
                "threshold": cl.threshold,
            }
            for cl, members in store.case_clusters(s, c.id)
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(
            [f"cluster {r['cluster']}: {r['size']} faces {r['faces']}" for r in rows]
            or [f"no clusters yet: run `vigil faces cluster {case}`"]
        )


@app.command("list")
def list_faces(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Every face of a case: item, box, detector score, quality, frame time, cluster, age.

    The age is a range (10th-90th percentile, widened), "likely minor", or "unsure" with the
    reason (small or blurred face, wide distribution, range straddling 18). A triage hint
    only: never tested on children (docs/faces.md). Back-fill older faces: vigil faces ages CASE

    Example: vigil faces list op-birch --json
    """
    from vigil.store import faces as store
    from vigil.store.repo import get_case

    rt = runtime()
    with rt.db.read() as s:
        c = get_case(s, case)
        cluster_of = {f: cl.label for cl, members in store.case_clusters(s, c.id) for f in members}
        models = store.embedder_model_ids(s)
        seen: dict[int, dict[str, Any]] = {}
        for model_id in sorted(models):
            for face, _emb in store.case_faces(s, c.id, model_id):
                seen[face.id] = {
                    "face": face.id,
                    "item_id": face.item_id,
                    "box": list(face.box),
                    "score": round(face.score, 3),
                    "quality": face.quality,
                    "blur": face.blur,
                    "size": face.size,
                    "rotation": face.rotation,
                    "frame_time": face.frame_time,
                    "landmarks": face.landmarks,
                    "cluster": cluster_of.get(face.id),
                    "embedder_model_id": model_id,
                }
        paths = store.first_item_path(s, [r["item_id"] for r in seen.values()])
        ages = store.face_ages(s, seen.keys())
        rows = [
            dict(
                r,
                path=paths.get(r["item_id"], ""),
                age=ages[r["face"]].as_dict() if r["face"] in ages else None,
            )
            for r in seen.values()
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(
            [
                f"face #{r['face']} cluster {r['cluster']} {r['path']} box={r['box']} "
                f"q={r['quality']:.2f}"
                + (f" t={r['frame_time']}s" if r["frame_time"] else "")
                + f" age: {_age_label(r['age'])}"
                for r in rows
            ]
            or ["no faces: run `vigil faces scan CASE`"]
        )


def _age_label(age: dict[str, Any] | None) -> str:
    if age is None:
        return "not estimated"
    if age["status"] != "estimate":
        return f"unsure ({age['reason']})"
    span = f"{age['low']:.0f}-{age['high']:.0f} y"
    return f"LIKELY MINOR {span}" if age["likely_minor"] else span


@app.command("ages")
def ages_cmd(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Estimate the apparent age of the case's faces that have none yet (re-reads the evidence).

    New scans estimate ages already; this back-fills faces found before the age model was
    installed. Each face gets a range, a "likely minor" flag, or "unsure" with the reason;
    flagged items come first in the review screens (nothing is hidden). A triage hint, never a
    finding: accuracy on children cannot be measured with public data (docs/faces.md).

    Example: vigil faces ages op-birch
    """
    from vigil.faces.age_service import backfill_ages

    rt = runtime()
    report = backfill_ages(rt.settings, rt.db, case, rt.actor, pipeline=_pipeline())
    data = {
        "case": case,
        "pending": report.pending,
        "estimated": report.estimated,
        "abstained": report.abstained,
        "likely_minor": report.likely_minor,
        "failed_items": report.failed_items,
    }
    if as_json:
        emit_json(data)
        return
    emit_lines(
        [
            f"{case}: {report.pending} faces without an age; {report.estimated} estimated "
            f"({report.likely_minor} likely minor), {report.abstained} unsure, "
            f"{report.failed_items} items unreadable (see `vigil case warnings {case}`)"
        ]
    )


def _feedback(
    case: str, face_a: int, face_b: int, kind: str, note: str | None, as_json: bool
) -> None:
    from vigil.faces.service import add_feedback

    rt = runtime()
    data = add_feedback(rt.db, case, face_a, face_b, kind, rt.actor, note)
    if as_json:
        emit_json(data)
    else:
        word = "the same person" if kind == "same" else "NOT the same person"
        emit_lines(
            [f"recorded: faces #{face_a} and #{face_b} are {word} (re-run `vigil faces cluster`)"]
        )


NoteOpt = Annotated[str | None, typer.Option(help="Why (kept in the audit log).")]


@app.command("same")
def same(
    case: CaseArg,
    face_a: Annotated[int, typer.Argument(help="Face id.")],
    face_b: Annotated[int, typer.Argument(help="Face id.")],
    note: NoteOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that two faces of a case show the same person (clustering will keep them together).

    Example: vigil faces same op-birch 12 40 --note "same tattoo"
    """
    _feedback(case, face_a, face_b, "same", note, as_json)


@app.command("different")
def different(
    case: CaseArg,
    face_a: Annotated[int, typer.Argument(help="Face id.")],
    face_b: Annotated[int, typer.Argument(help="Face id.")],
    note: NoteOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that two faces of a case show different people (clustering will keep them apart).

    Example: vigil faces different op-birch 12 41
    """
    _feedback(case, face_a, face_b, "different", note, as_json)


@app.command("forget")
def forget(
    case: CaseArg,
    face_a: Annotated[int, typer.Argument(help="Face id.")],
    face_b: Annotated[int, typer.Argument(help="Face id.")],
) -> None:
    """Withdraw same/different feedback on two faces.

    Example: vigil faces forget op-birch 12 41
    """
    from vigil.faces.service import remove_feedback

    rt = runtime()
    removed = remove_feedback(rt.db, case, face_a, face_b, rt.actor)
    emit_lines(["feedback removed" if removed else "there was no feedback on these two faces"])


FACE_CSV_COLUMNS = (
    "image", "sha256", "error", "face", "box", "age", "rank", "kind", "identity", "face_id",
    "item_id", "cases", "distance", "within_threshold", "threshold",
)  # fmt: skip


def _face_csv_rows(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (image, face, candidate); the nearest candidate beyond the threshold gets
    ``within_threshold`` false; an image without faces or unreadable gets one row."""
    rows: list[dict[str, Any]] = []
    for a in answers:
        base = {"image": a["image"], "sha256": a.get("sha256"), "error": a.get("error")}
        if "error" in a or not a["faces"]:
            rows.append(base)
            continue
        for n, face in enumerate(a["faces"], start=1):
            fbase = dict(base, face=n, box=face["box"], age=_age_label(face.get("age")),
                         threshold=a["threshold"]["value"])  # fmt: skip
            near = face.get("nearest_beyond_threshold")
            listed = [(c, True) for c in face["candidates"]] + ([(near, False)] if near else [])
            if not listed:
                rows.append(fbase)
            for c, within in listed:
                rows.append(
                    dict(
                        fbase,
                        rank=c.get("rank"),
                        kind=c["kind"],
                        identity=c.get("identity"),
                        face_id=c.get("face_id"),
                        item_id=c.get("item_id"),
                        cases=c.get("cases", []),
                        distance=c["distance"],
                        within_threshold=within,
                    )
                )
    return rows


def _candidate_line(c: dict[str, Any]) -> str:
    rank = f"#{c['rank']}" if c.get("rank") else "beyond"
    if c["kind"] == "identity":
        return (
            f"{rank} identity {c.get('identity')} ({c.get('status')}) distance {c['distance']:.3f}"
        )
    return (
        f"{rank} face #{c['face_id']} in {', '.join(c.get('cases', []))} "
        f"distance {c['distance']:.3f}"
    )


@app.command("search")
def search(
    images: Annotated[
        list[Path],
        typer.Argument(
            help="Photos and/or folders of photos (searched recursively).", metavar="PHOTO"
        ),
    ],
    limit: Annotated[int, typer.Option(help="Most candidates per face.", min=1)] = 10,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Distance threshold for candidates (default: the newest calibration of the "
            "model, else 0.5). The nearest candidate beyond it is shown, marked as such."
        ),
    ] = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="One CSV row per image, face and candidate.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the JSON/CSV result to this file.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Who is this? Search every face of photos against all cases and the victim library.

    Candidates are within the operating threshold, closest first; each needs confirmation. The
    nearest candidate beyond the threshold is shown separately ("beyond"), never as a link.
    Many photos or folders are searched in one process (models and the index load once), with
    a progress bar; unreadable files are reported and the rest go on.

    Example: vigil faces search stills/ more.jpg --threshold 0.55 --csv -o results.csv
    """
    from vigil.cli.batch import expand_inputs, progress, show_progress, to_csv, write_out
    from vigil.faces.service import search_images

    files = expand_inputs(images)
    single = len(images) == 1 and not images[0].is_dir()
    rt = runtime()
    pipe = _pipeline(model)
    machine = as_json or as_csv
    with progress(len(files), "faces search", enabled=show_progress(quiet, machine)) as advance:
        answers = search_images(rt.db, rt.settings, files, rt.actor, pipeline=pipe, limit=limit,
                                threshold=threshold, advance=advance)  # fmt: skip
    if all("error" in a for a in answers):
        raise InvalidInput("no query image could be read: " + "; ".join(
            f"{a['image']}: {a['error']}" for a in answers))  # fmt: skip
    if as_csv:
        write_out(to_csv(_face_csv_rows(answers), FACE_CSV_COLUMNS), out)
        return
    if as_json or out is not None:
        import json

        doc = answers[0] if single else answers
        write_out(json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n", out)
        return
    lines: list[str] = []
    for data in answers:
        if "error" in data:
            lines.append(f"{data['image']}: not searched ({data['error']})")
            continue
        lines.append(
            f"{data['image']}: {len(data['faces'])} faces; threshold "
            f"{data['threshold']['value']:.3f} ({data['threshold']['source']}); "
            f"{data['indexed_vectors']} faces indexed"
        )
        for n, face in enumerate(data["faces"], start=1):
            lines.append(
                f"face {n} box={face['box']} quality={face['quality']:.2f} "
                f"age: {_age_label(face.get('age'))}"
            )
            for c in face["candidates"] or []:
                lines.append("  " + _candidate_line(c))
            if not face["candidates"]:
                lines.append("  no candidate within the threshold")
            near = face.get("nearest_beyond_threshold")
            if near:
                lines.append("  (not a candidate) nearest " + _candidate_line(near))
    emit_lines(lines)


@app.command("links")
def links(
    case: CaseArg,
    status: Annotated[
        str | None, typer.Option(help="candidate, confirmed or rejected (default: all).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Candidate links of a case's faces to identities and to faces in other cases.

    Example: vigil faces links op-birch --status candidate --json
    """
    from vigil.faces.service import link_dict
    from vigil.store import faces as store
    from vigil.store.repo import get_case

    rt = runtime()
    with rt.db.read() as s:
        c = get_case(s, case)
        cluster_of = {f: cl.label for cl, members in store.case_clusters(s, c.id) for f in members}
        rows = [
            link_dict(s, link, cluster=cluster_of.get(link.face_id))
            for link in store.case_links(s, c.id, status=status)
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(
            [
                f"link #{r['link']} [{r['status']}] face #{r['face']} (cluster {r['cluster']}) → "
                + (
                    f"identity {r['identity']}"
                    if r["identity"]
                    else f"face #{r['matched_face']} in {r['matched_case']}"
                )
                + f" distance {r['distance']:.3f} rank {r['rank']}"
                for r in rows
            ]
            or ["no links"]
        )


@app.command("decide")
def decide(
    link: Annotated[int, typer.Argument(help="Link id (from `vigil faces links`).")],
    decision: Annotated[str, typer.Argument(help="confirmed, rejected (or candidate to undo).")],
    note: NoteOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Confirm or reject a candidate link. Confirming an identity link adds the face as reference.

    Example: vigil faces decide 17 confirmed --note "same scar, same room"
    """
    from vigil.faces.service import decide_link

    aliases = {"confirm": "confirmed", "reject": "rejected", "undo": "candidate"}
    rt = runtime()
    data = decide_link(rt.db, link, aliases.get(decision, decision), rt.actor, note)
    if as_json:
        emit_json(data)
    else:
        emit_lines([f"link #{data['link']} is now {data['status']}"])


@app.command("calibrate")
def calibrate_cmd(
    folder: Annotated[
        Path, typer.Argument(help="Folder with one sub-folder of photos per person.", exists=True)
    ],
    target_fmr: Annotated[
        float, typer.Option(help="Target false-match rate (0.001 = 0.1%).")
    ] = 0.001,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Choose the operating threshold for a target false-match rate on a labelled photo set.

    Every pair of photos is compared; the threshold is the largest distance whose false-match
    rate on the set is at most the target, reported with the true-match rate there.

    Example: vigil faces calibrate ./eval-set --target-fmr 0.001 --json
    """
    from vigil.faces.service import calibrate_folder

    rt = runtime()
    data = calibrate_folder(
        rt.db, folder, rt.actor, pipeline=_pipeline(model), target_fmr=target_fmr
    )
    if as_json:
        emit_json(data)
        return
    lines = [
        f"threshold {data['threshold']:.4f} for target FMR {data['target_fmr']:.4%}: "
        f"TMR {data['tmr']:.2%}, FMR {data['fmr']:.4%} on {data['n_genuine']} genuine / "
        f"{data['n_impostor']} impostor pairs (AUC {data['auc']:.5f}, EER {data['eer']:.2%})"
    ]
    if not data["fmr_resolvable"]:
        lines.append(
            "warning: too few impostor pairs to show this false-match rate; add more people"
        )
    emit_lines(lines)


# --- vigil victims ----------------------------------------------------------------------------


@victims_app.command("add")
def victims_add(
    code: Annotated[str, typer.Argument(help="Reference code, e.g. V-2024-0012.")],
    kind: Annotated[str, typer.Option(help="victim or person_of_interest.")] = "victim",
    status: Annotated[
        str, typer.Option(help="unidentified, identified or safeguarded.")
    ] = "unidentified",
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Series name (repeatable).")
    ] = None,
    agency: Annotated[str | None, typer.Option(help="Agency that owns the record.")] = None,
    photo: Annotated[
        list[Path] | None,
        typer.Option(
            "--photo", help="Reference photo with exactly one face (repeatable).", exists=True
        ),
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Free-text notes.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an identity to the victim library (optionally with reference photos).

    Example: vigil victims add V-0001 --series "Blue Room" --agency NCA --photo ref.jpg
    """
    from vigil.faces.service import add_identity

    rt = runtime()
    data = add_identity(
        rt.db,
        code,
        rt.actor,
        kind=kind,
        status=status,
        series=series or [],
        agency=agency or rt.settings.agency,
        notes=notes,
        photos=photo or [],
        pipeline=_pipeline() if photo else None,
    )
    if as_json:
        emit_json(data)
    else:
        emit_lines(
            [f"added {data['code']} ({data['status']}) with {data['references']} references"]
        )


@victims_app.command("list")
def victims_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    series: Annotated[str | None, typer.Option(help="Only identities in this series.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the victim library.

    Example: vigil victims list --status unidentified --json
    """
    from vigil.faces.service import identity_dict
    from vigil.store import faces as store

    rt = runtime()
    with rt.db.read() as s:
        rows = [identity_dict(s, i) for i in store.list_identities(s, status=status, series=series)]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(
            [
                f"{r['code']} [{r['status']}] {r['kind']} series={','.join(r['series']) or '-'} "
                f"agency={r['agency'] or '-'} references={r['references']}"
                for r in rows
            ]
            or ["the victim library is empty: vigil victims add CODE --photo ref.jpg"]
        )


@victims_app.command("show")
def victims_show(
    identity: Annotated[str, typer.Argument(help="Identity code or id.")],
    as_json: JsonOpt = False,
) -> None:
    """One identity: status, series, agency, reference faces and every link to it.

    Example: vigil victims show V-0001 --json
    """
    from vigil.faces.service import identity_dict, link_dict
    from vigil.store import faces as store
    from vigil.store.models import Case

    rt = runtime()
    with rt.db.read() as s:
        ident = store.get_identity(s, identity)
        data = identity_dict(s, ident)
        data["reference_list"] = [
            {
                "face": r.face_id,
                "source": r.source,
                "added_by": r.added_by,
                "added_at": r.added_at.isoformat(),
            }
            for r in store.identity_references(s, ident.id)
        ]
        links = []
        for link in store.identity_links(s, ident.id):
            row = link_dict(s, link)
            case = s.get(Case, link.case_id)
            row["case"] = case.name if case else None
            links.append(row)
        data["links"] = links
    from vigil.store import audit

    with rt.db.write() as s:  # viewing a victim record is itself recorded
        audit.append(s, rt.actor, "victims.show", details={"identity_id": data["id"]})
    if as_json:
        emit_json(data)
        return
    lines = [
        f"{data['code']} [{data['status']}] {data['kind']} series="
        f"{','.join(data['series']) or '-'} agency={data['agency'] or '-'}",
        f"{len(data['reference_list'])} reference faces:",
    ]
    lines += [f"  {r['source']} (added by {r['added_by']})" for r in data["reference_list"]]
    lines.append(f"{len(links)} links:")
    lines += [
        f"  link #{r['link']} [{r['status']}] face #{r['face']} in {r['case']} "
        f"distance {r['distance']:.3f}"
        for r in links
    ]
    emit_lines(lines)


@victims_app.command("link")
def victims_link(
    identity: Annotated[str, typer.Argument(help="Identity code or id.")],
    face: Annotated[list[int] | None, typer.Option("--face", help="Face id (repeatable).")] = None,
    case: Annotated[str | None, typer.Option(help="Case of --cluster.")] = None,
    cluster: Annotated[int | None, typer.Option(help="Cluster label in --case.")] = None,
    link: Annotated[int | None, typer.Option(help="Confirm this candidate link.")] = None,
    note: NoteOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Confirm that faces show an identity: they become references for future searches.

    Example: vigil victims link V-0001 --case op-birch --cluster 0 --note "confirmed by DC Smith"
    """
    from vigil.faces.service import link_identity

    if not face and cluster is None and link is None:
        raise InvalidInput("say which faces: --face ID, --case NAME --cluster N, or --link ID")
    rt = runtime()
    data = link_identity(
        rt.db,
        identity,
        rt.actor,
        face_ids=face or [],
        case_name=case,
        cluster_label=cluster,
        link_id=link,
        note=note,
    )
    if as_json:
        emit_json(data)
    else:
        emit_lines(
            [
                f"{data['identity']['code']}: {len(data['faces'])} faces confirmed, "
                f"{data['references_added']} new references"
            ]
        )


@victims_app.command("update")
def victims_update(
    identity: Annotated[str, typer.Argument(help="Identity code or id.")],
    status: Annotated[str | None, typer.Option(help="New status.")] = None,
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Add a series name (repeatable).")
    ] = None,
    notes: Annotated[str | None, typer.Option(help="Replace the notes.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an identity's status (e.g. safeguarded), add series names or notes.

    Example: vigil victims update V-0001 --status safeguarded
    """
    from vigil.faces.service import identity_dict
    from vigil.store import audit
    from vigil.store import faces as store

    rt = runtime()
    with rt.db.write() as s:
        ident = store.get_identity(s, identity)
        store.update_identity(s, ident, status=status, add_series=series or [], notes=notes)
        audit.append(
            s,
            rt.actor,
            "victims.update",
            details={"identity_id": ident.id, "status": status, "series": series, "notes": notes},
        )
        data = identity_dict(s, ident)
    if as_json:
        emit_json(data)
    else:
        emit_lines([f"{data['code']} [{data['status']}] series={','.join(data['series']) or '-'}"])
