"""Signals: exact digests and perceptual hashes (PDQ for photos, vPDQ for video frames)."""

from __future__ import annotations

from vigil.signals.base import SIGNAL_TYPES


def register_defaults() -> None:
    """Register everything of the known-vs-fresh capability (idempotent): the built-in signal
    types, the PDQ / vPDQ ingest analyzers, the hash-set formats and the ``known_vs_fresh``
    section of the case summary."""
    from vigil.hashsets.formats import register_defaults as register_formats
    from vigil.ingest.analyzers import ANALYZERS
    from vigil.signals.analyzers import PdqAnalyzer, VpdqAnalyzer
    from vigil.signals.exact import Md5Signal, Sha1Signal, Sha256Signal
    from vigil.signals.pdq import PdqSignal
    from vigil.signals.vpdq import VpdqSignal

    for signal in (Md5Signal, Sha1Signal, Sha256Signal, PdqSignal, VpdqSignal):
        if signal.name not in SIGNAL_TYPES:
            SIGNAL_TYPES.register(signal)
    for analyzer in (PdqAnalyzer(), VpdqAnalyzer()):
        if analyzer.name not in ANALYZERS:
            ANALYZERS.register(analyzer)
    register_formats()
    from vigil.triage.report import register_summary_section

    register_summary_section()


__all__ = ["SIGNAL_TYPES", "register_defaults"]
