"""Threshold choice for a target false-match rate, AUC and EER."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.errors import InvalidInput
from vigil.faces.calibrate import calibrate, equal_error_rate, pair_distances, rates_at, roc_auc


def test_threshold_never_exceeds_target_fmr() -> None:
    rng = np.random.default_rng(0)
    genuine = rng.normal(0.35, 0.08, 2000)
    impostor = rng.normal(0.85, 0.08, 20000)
    for target in (0.01, 0.001, 0.0005):
        cal = calibrate(genuine, impostor, target_fmr=target)
        assert cal.fmr <= target
        tmr, fmr = rates_at(genuine, impostor, cal.threshold)
        assert (tmr, fmr) == (cal.tmr, cal.fmr)
        # one step further would let more impostors through than allowed
        assert np.mean(impostor <= np.sort(impostor)[int(target * impostor.size)]) > target
        assert cal.fmr_resolvable
    assert (
        calibrate(genuine, impostor, target_fmr=0.01).threshold
        > calibrate(genuine, impostor, target_fmr=0.0005).threshold
    )


def test_known_small_example() -> None:
    genuine = np.array([0.1, 0.2, 0.3, 0.55])
    impostor = np.array([0.5, 0.6, 0.7, 0.8])
    cal = calibrate(genuine, impostor, target_fmr=0.001)
    assert cal.threshold < 0.5
    assert cal.tmr == pytest.approx(0.75)
    assert cal.fmr == 0.0
    assert not cal.fmr_resolvable  # 4 impostor pairs cannot show 0.1%
    assert cal.auc == pytest.approx(15 / 16)
    assert cal.eer == pytest.approx(0.25)


def test_auc_and_eer_extremes() -> None:
    g = np.array([0.1, 0.2])
    i = np.array([0.8, 0.9])
    assert roc_auc(g, i) == 1.0
    assert equal_error_rate(g, i) == 0.0
    assert roc_auc(i, g) == 0.0
    assert roc_auc(np.array([0.5]), np.array([0.5])) == 0.5


def test_pair_distances_split_by_label() -> None:
    x = np.array([[0, 0], [0, 1], [3, 4]], dtype=np.float32)
    g, i = pair_distances(x, ["a", "a", "b"])
    assert g.tolist() == [1.0]
    assert sorted(i.tolist()) == pytest.approx([np.sqrt(18), 5.0])


def test_bad_input() -> None:
    with pytest.raises(InvalidInput):
        calibrate(np.array([]), np.array([1.0]))
    with pytest.raises(InvalidInput):
        calibrate(np.array([0.1]), np.array([1.0]), target_fmr=0)
