"""Run an analyzer over items ingested before it existed (or with an older version of it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vigil.errors import VigilError
from vigil.evidence.locate import open_item
from vigil.ingest.analyzers import ANALYZERS, AnalyzerOutput, run_analyzer
from vigil.settings import Settings
from vigil.store import audit, repo
from vigil.store.db import Database


@dataclass
class BackfillReport:
    """Counts of one back-fill run."""

    analyzer: str
    version: str
    pending: int = 0
    done: int = 0
    failed: int = 0


def pending_items(db: Database, case_name: str, analyzer_name: str) -> tuple[int, list[int]]:
    """(case id, ids of the case's items the analyzer has not processed at its current version)."""
    analyzer = ANALYZERS.get(analyzer_name)
    with db.read() as s:
        case = repo.get_case(s, case_name)
        items = repo.case_items(s, case.id, kinds=analyzer.kinds)
        done = repo.analysed_item_ids(s, analyzer.name, analyzer.version)
    return case.id, [i.id for i in items if i.id not in done and i.status == "ok"]


Progress = Callable[["BackfillReport"], None]
"""Called with the running counts before the first item and after each one."""


def backfill(
    settings: Settings,
    db: Database,
    case_name: str,
    analyzer_name: str,
    actor: str,
    *,
    progress: Progress | None = None,
) -> BackfillReport:
    """Analyse every pending item of the case, re-reading its content from the evidence."""
    analyzer = ANALYZERS.get(analyzer_name)
    case_id, pending = pending_items(db, case_name, analyzer_name)
    report = BackfillReport(analyzer.name, analyzer.version, pending=len(pending))
    if progress is not None:
        progress(report)
    for item_id in pending:
        try:
            with open_item(db, item_id, spool_dir=settings.spool_dir) as blob:
                output = run_analyzer(analyzer, blob)
        except VigilError as exc:
            output = AnalyzerOutput(None, [(f"{analyzer.name}_failed", str(exc))])
        with db.write() as s:
            ok = output.payload is not None
            if ok:
                analyzer.persist(s, item_id, output)
            for code, message in output.warnings:
                repo.add_item_warning(s, case_id, item_id, code, message)
            repo.record_analysis(s, item_id, analyzer.name, analyzer.version, ok=ok)
        report.done += ok
        report.failed += not ok
        if progress is not None:
            progress(report)
    with db.write() as s:
        audit.append(s, actor, "analyze.backfill", case_id=case_id, details=report.__dict__)
    return report
