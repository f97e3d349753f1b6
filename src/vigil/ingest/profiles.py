"""Processing profiles: which analyzers an ingest runs, and how ``--analyzer`` / ``--only`` adjust.

* ``full`` (the default): every analyzer that is enabled by default: digests and metadata, PDQ
  of photos, vPDQ of videos, scene features for places, faces (with age estimation where the
  faces analyzer provides it). The victim and place screens are filled without anyone having to
  know about a scan. Cost on this class of CPU: ~0.12 s of SIFT plus ~0.2-0.4 s of face
  detection per 1 MP photo (docs/ingest.md has the figures).
* ``fast``: digests, metadata, PDQ and vPDQ only: known/fresh triage on scene in a fraction of
  the time; run ``vigil analyze CASE --analyzer faces`` / ``vigil places scan CASE`` later to
  back-fill the rest.

``--analyzer NAME`` *adds* to the profile (it used to replace the defaults, silently dropping
PDQ and scene features: hardening issue, defect 11); ``--only NAME`` replaces the profile.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.errors import InvalidInput
from vigil.ingest.analyzers import ANALYZERS

PROFILES: dict[str, str] = {
    "full": "every default analyzer: PDQ, vPDQ, scene features, faces (and age)",
    "fast": "digests, metadata, PDQ and vPDQ only (first triage on scene)",
}
FAST = ("pdq", "vpdq")
"""Analyzers of the ``fast`` profile (those registered; a build without vPDQ simply lacks it)."""
DEFAULT_PROFILE = "full"


def profile_analyzers(profile: str) -> tuple[str, ...]:
    """Names of the analyzers a profile runs, in registry order."""
    if profile not in PROFILES:
        raise InvalidInput(
            f"unknown processing profile {profile!r}: choose one of {', '.join(PROFILES)}"
        )
    if profile == "fast":
        return tuple(a.name for a in ANALYZERS if a.name in FAST)
    return tuple(a.name for a in ANALYZERS if a.default_enabled)


def choose_analyzers(
    profile: str = DEFAULT_PROFILE,
    *,
    add: Sequence[str] = (),
    only: Sequence[str] | None = None,
    none: bool = False,
) -> tuple[str, ...]:
    """The analyzers to run: the profile's plus ``add``, or exactly ``only``, or none.

    Raises:
        InvalidInput: an unknown profile or analyzer name, or ``only`` with ``add``/``none``.
    """
    if none and (only or add):
        raise InvalidInput("--no-analyzers cannot be combined with --analyzer or --only")
    if only and add:
        raise InvalidInput(
            "--only replaces the profile and --analyzer adds to it: give one or the other"
        )
    if none:
        return ()
    if only:
        return tuple(dict.fromkeys(ANALYZERS.get(n).name for n in only))
    chosen = list(profile_analyzers(profile))
    for name in add:
        analyzer = ANALYZERS.get(name).name
        if analyzer not in chosen:
            chosen.append(analyzer)
    return tuple(chosen)
