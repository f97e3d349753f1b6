"""Choosing the operating threshold for a target false-match rate on a labelled pair set.

A *genuine* pair shows the same person, an *impostor* pair two different people; a pair
"matches" when its distance is <= the threshold. The threshold is the largest distance whose
false-match rate (impostor pairs matching) is at most the target, so the achieved FMR never
exceeds the target on the evaluation set. With ``n`` impostor pairs an FMR below ``1/n`` cannot
be measured: the result says so (``fmr_resolvable``) and the report must too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import InvalidInput


@dataclass(frozen=True)
class Calibration:
    """An operating point chosen on a labelled pair set, with the figures that justify it."""

    threshold: float
    target_fmr: float
    fmr: float
    """False-match rate achieved on the evaluation set at ``threshold``."""
    tmr: float
    """True-match rate (TAR) at ``threshold``."""
    auc: float
    eer: float
    n_genuine: int
    n_impostor: int
    fmr_resolvable: bool
    """False when there are fewer than 1/target impostor pairs (the FMR target cannot be shown)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


def pair_distances(
    vectors: npt.NDArray[np.float32], labels: Sequence[object]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Euclidean distances of all genuine and all impostor pairs of a labelled vector set."""
    x = np.asarray(vectors, dtype=np.float64)
    if len(x) != len(labels):
        raise InvalidInput("one label per vector is needed")
    genuine: list[float] = []
    impostor: list[float] = []
    for i, j in combinations(range(len(x)), 2):
        d = float(np.linalg.norm(x[i] - x[j]))
        (genuine if labels[i] == labels[j] else impostor).append(d)
    return np.asarray(genuine), np.asarray(impostor)


def roc_auc(genuine: npt.NDArray[np.float64], impostor: npt.NDArray[np.float64]) -> float:
    """Probability that a random genuine pair is closer than a random impostor pair (ties 1/2)."""
    g = np.sort(np.asarray(genuine, dtype=np.float64))
    imp = np.sort(np.asarray(impostor, dtype=np.float64))
    if g.size == 0 or imp.size == 0:
        raise InvalidInput("AUC needs genuine and impostor pairs")
    less = np.searchsorted(imp, g, side="left")  # impostors strictly closer than g
    less_eq = np.searchsorted(imp, g, side="right")
    wins = (imp.size - less_eq).sum() + 0.5 * (less_eq - less).sum()
    return float(wins / (g.size * imp.size))


def rates_at(
    genuine: npt.NDArray[np.float64], impostor: npt.NDArray[np.float64], threshold: float
) -> tuple[float, float]:
    """(true-match rate, false-match rate) when pairs at distance <= threshold match."""
    tmr = float(np.mean(np.asarray(genuine) <= threshold)) if len(genuine) else 0.0
    fmr = float(np.mean(np.asarray(impostor) <= threshold)) if len(impostor) else 0.0
    return tmr, fmr


def equal_error_rate(genuine: npt.NDArray[np.float64], impostor: npt.NDArray[np.float64]) -> float:
    """The rate where false non-match and false match are equal (smallest max of the two)."""
    g = np.sort(np.asarray(genuine, dtype=np.float64))
    imp = np.sort(np.asarray(impostor, dtype=np.float64))
    if g.size == 0 or imp.size == 0:
        raise InvalidInput("EER needs genuine and impostor pairs")
    candidates = np.unique(np.concatenate([g, imp]))
    tmr = np.searchsorted(g, candidates, side="right") / g.size
    fmr = np.searchsorted(imp, candidates, side="right") / imp.size
    return float(np.min(np.maximum(1.0 - tmr, fmr)).clip(0.0, 1.0).item())


def calibrate(
    genuine: npt.NDArray[np.float64],
    impostor: npt.NDArray[np.float64],
    *,
    target_fmr: float = 0.001,
) -> Calibration:
    """The largest threshold whose false-match rate on these pairs is <= ``target_fmr``."""
    g = np.asarray(genuine, dtype=np.float64)
    imp = np.sort(np.asarray(impostor, dtype=np.float64))
    if g.size == 0 or imp.size == 0:
        raise InvalidInput("calibration needs at least one genuine and one impostor pair")
    if not 0.0 < target_fmr < 1.0:
        raise InvalidInput("target false-match rate must be between 0 and 1")
    allowed = int(np.floor(target_fmr * imp.size + 1e-9))  # impostor pairs allowed to match
    if allowed >= imp.size:
        threshold = float(imp[-1])
    else:
        # every threshold in [lo, upper) gives the same rates on this set: take the middle, so
        # the margin to the nearest genuine and impostor distances is the same
        upper = float(imp[allowed])
        below = [float(v) for v in g[g < upper]]
        if allowed > 0:
            below.append(float(imp[allowed - 1]))
        lo = max(below) if below else upper - 1e-3
        threshold = (lo + upper) / 2 if lo < upper else float(np.nextafter(upper, -np.inf))
    threshold = math.floor(threshold * 1e6) / 1e6
    tmr, fmr = rates_at(g, imp, threshold)
    return Calibration(
        threshold=threshold,
        target_fmr=target_fmr,
        fmr=fmr,
        tmr=tmr,
        auc=roc_auc(g, imp),
        eer=equal_error_rate(g, imp),
        n_genuine=int(g.size),
        n_impostor=int(imp.size),
        fmr_resolvable=imp.size * target_fmr >= 1.0,
    )
