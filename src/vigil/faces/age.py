"""Apparent-age estimation of detected faces: a plug-in estimator, and the policy that turns its
age distribution into a range, a "likely minor" flag, or an abstention.

Why a distribution and a policy: an age network's single number hides how unsure it is, and a
triage flag built on it would call bearded men children (IPED's users' complaint) or miss
children silently. The estimator returns a probability per age; :func:`judge` reports the
central interval, the probability of being under 18, and **abstains** when the face is too small
or blurred to read, when the distribution is too wide, or when the range straddles 18. The flag
only *raises* faces and items in the review order; nothing is ever hidden because of it.

Accuracy on children cannot be measured with public data here (docs/faces.md); the figures in
the model card come from public adult portraits only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from vigil.errors import BackendError
from vigil.faces.model import Detection, ModelCard, RGBImage

MINOR_AGE = 18.0


@runtime_checkable
class AgeEstimator(Protocol):
    """Apparent age of faces as a probability distribution over ``ages``."""

    @property
    def card(self) -> ModelCard:
        """The estimator's model card (``dim`` 0)."""
        ...

    @property
    def ages(self) -> npt.NDArray[np.float64]:
        """The ages (years, strictly increasing) that the distributions are over."""
        ...

    def distributions(
        self, image: RGBImage, detections: Sequence[Detection]
    ) -> npt.NDArray[np.float64]:
        """One row per detection, ``len(ages)`` non-negative probabilities summing to 1."""
        ...


@dataclass(frozen=True)
class AgePolicy:
    """When to give a range, when to flag a likely minor, and when to abstain.

    Defaults were set on public adult portraits (benchmarks/faces.py ``age``); they lean towards
    abstaining rather than guessing, since an abstention costs the reviewer nothing.
    """

    minor_age: float = MINOR_AGE
    coverage: float = 0.8
    """Probability mass of the reported central interval (0.8: 10th to 90th percentile)."""
    min_half_width: float = 3.0
    relative_half_width: float = 0.15
    """The network is overconfident (a 69-70 interval for a 70-year-old): the reported range is
    widened to at least median ± max(min_half_width, relative_half_width x median) years."""
    min_face_px: int = 40
    """Shorter box side under which the 64 px input chip would be mostly interpolation."""
    min_sharpness: float = 15.0
    """Variance of the Laplacian of the aligned chip under which the face is too blurred."""
    max_width: float = 30.0
    """Widest central interval (before widening) still reported as an estimate."""
    minor_p: float = 0.5
    """P(age < minor_age) at or above which a face is flagged "likely minor"."""
    unsure_p: float = 0.1
    """P(age < minor_age) between this and ``minor_p``: the range straddles 18, abstain."""

    def describe(self) -> str:
        """Compact settings string for the model card version (stored with every estimate)."""
        return (
            f"cov={self.coverage};minor<{self.minor_age:g};p>={self.minor_p:g};"
            f"unsure>={self.unsure_p:g};min_px={self.min_face_px};"
            f"min_sharp={self.min_sharpness:g};max_width={self.max_width:g}"
        )


@dataclass(frozen=True)
class AgeEstimate:
    """A face's apparent age: a range with its uncertainty, or an abstention with the reason.

    The numbers are kept for an abstention too (for audit and re-judging); only ``status`` says
    whether they may be shown as an estimate.
    """

    status: str
    """``estimate`` or ``abstain``."""
    low: float
    median: float
    high: float
    p_minor: float
    """Probability mass under ``minor_age`` (before any widening)."""
    likely_minor: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (analyzer payload, CLI output)."""
        return {
            "status": self.status,
            "low": self.low,
            "median": self.median,
            "high": self.high,
            "p_minor": self.p_minor,
            "likely_minor": self.likely_minor,
            "reason": self.reason,
        }

    def label(self) -> str:
        """Short human text: ``likely minor, 9-15 y`` / ``31-47 y`` / ``unsure (face too small)``."""
        if self.status != "estimate":
            return f"age unsure ({self.reason})"
        span = f"{self.low:.0f}-{self.high:.0f} y"
        return f"likely minor, {span}" if self.likely_minor else span


def _quantile(ages: npt.NDArray[np.float64], cdf: npt.NDArray[np.float64], q: float) -> float:
    idx = int(np.searchsorted(cdf, q, side="left"))
    return float(ages[min(idx, len(ages) - 1)])


def judge(
    ages: npt.NDArray[np.float64],
    probs: npt.NDArray[np.float64],
    *,
    size: int,
    sharpness: float,
    policy: AgePolicy | None = None,
) -> AgeEstimate:
    """Turn one face's age distribution into an estimate or an abstention (see module doc)."""
    pol = policy or AgePolicy()
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    total = float(p.sum())
    if not np.isfinite(total) or total <= 0:
        return AgeEstimate("abstain", 0.0, 0.0, 0.0, 0.0, False, "no distribution")
    p = p / total
    cdf = np.cumsum(p)
    tail = (1.0 - pol.coverage) / 2.0
    low = _quantile(ages, cdf, tail)
    median = _quantile(ages, cdf, 0.5)
    high = _quantile(ages, cdf, 1.0 - tail)
    p_minor = round(float(p[ages < pol.minor_age].sum()), 4)
    width = high - low
    half = max(pol.min_half_width, pol.relative_half_width * median)
    lo = max(float(ages[0]), min(low, median - half))
    hi = min(float(ages[-1]), max(high, median + half))
    lo, md, hi = round(lo, 1), round(median, 1), round(hi, 1)

    def abstain(reason: str) -> AgeEstimate:
        return AgeEstimate("abstain", lo, md, hi, p_minor, False, reason)

    if size < pol.min_face_px:
        return abstain(f"face too small ({size} px < {pol.min_face_px})")
    if sharpness < pol.min_sharpness:
        return abstain(f"face too blurred (sharpness {sharpness:.0f} < {pol.min_sharpness:g})")
    if width > pol.max_width:
        return abstain(f"distribution too wide ({low:.0f}-{high:.0f} y)")
    if p_minor >= pol.minor_p:
        return AgeEstimate("estimate", lo, md, hi, p_minor, True)
    if p_minor >= pol.unsure_p:
        return abstain(f"range straddles {pol.minor_age:g} (P(minor) {p_minor:.2f})")
    return AgeEstimate("estimate", lo, md, hi, p_minor, False)


def check_distributions(estimator: AgeEstimator, rows: npt.NDArray[Any], n: int) -> None:
    """Raise :class:`BackendError` unless ``rows`` is a valid (n, len(ages)) distribution array (the
    conformance rule every estimator must keep; used by the pipeline on a side-loaded one)."""
    ages = estimator.ages
    if rows.shape != (n, len(ages)):
        raise BackendError(
            f"age distributions have shape {rows.shape}, expected ({n}, {len(ages)})"
        )
    if n and (not np.all(np.isfinite(rows)) or float(rows.min()) < 0):
        raise BackendError("age distributions must be finite and non-negative")
    if n and not np.allclose(rows.sum(axis=1), 1.0, atol=1e-3):
        raise BackendError("each age distribution must sum to 1")
