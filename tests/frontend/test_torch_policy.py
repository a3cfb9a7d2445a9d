"""Sparsity / bit / N:M policies from measured sensitivities."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from edgesim.frontend.policy import (  # noqa: E402
    cap_and_redistribute,
    low_bit_layers,
    luc_policy,
    min_mse_policy,
    nm_formats,
    predicted_mse,
)

RATIOS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def _df(curves: list[list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"layer": i, "pruning_ratio": r, "sample": 0, "output_mse": v}
                         for i, c in enumerate(curves) for r, v in zip(RATIOS, c, strict=True)])


# three layers: cheap and convex, steep, and in between
CURVES = [[r**2 * 0.1 for r in RATIOS], [r * 2.0 for r in RATIOS], [r**1.5 * 0.6 for r in RATIOS]]


def test_min_mse_matches_brute_force_and_keeps_the_mean():
    df = _df(CURVES)
    pol = min_mse_policy(df, 0.4)
    assert abs(np.mean(pol.sparsity) - 0.4) < 1e-9
    grid = [i / 100 for i in range(91)]
    best = min(predicted_mse(df, (a, b, round(1.2 - a - b, 2))) for a, b in itertools.product(grid, grid) if 0 <= 1.2 - a - b <= 0.9)
    assert pol.predicted_mse == pytest.approx(best, rel=1e-9)
    assert pol.sparsity[0] > pol.sparsity[2] > pol.sparsity[1]
    assert pol.predicted_mse <= luc_policy(df, 0.4).predicted_mse


def test_min_mse_respects_a_cap():
    pol = min_mse_policy(_df(CURVES), 0.4, max_sparsity=0.5)
    assert max(pol.sparsity) <= 0.5 and abs(np.mean(pol.sparsity) - 0.4) < 1e-9


def test_cap_and_redistribute_keeps_the_mean():
    out = cap_and_redistribute((1.4, 0.4, 0.2, 0.0), 0.9)
    assert max(out) == pytest.approx(0.9) and sum(out) == pytest.approx(2.0) and out[3] == 0.0
    assert out[1] == pytest.approx(0.4 + 0.5 * 0.4 / 0.6)


def test_luc_policy_is_capped_when_the_formula_overshoots():
    df = _df([[v * 100 for v in CURVES[1]], CURVES[0], CURVES[0], CURVES[0]])  # layer 0 far more sensitive
    pol = luc_policy(df, 0.7)
    assert pol.name == "luc-capped" and np.mean(pol.sparsity) == pytest.approx(0.7)
    assert pol.sparsity == pytest.approx((0.1, 0.9, 0.9, 0.9))  # the formula gives 0 and 3 x 0.933


def test_bits_and_nm_follow_sensitivity():
    q = pd.DataFrame([{"layer": i, "bits": 4, "sample": 0, "output_mse": v} for i, v in enumerate([1.0, 5.0, 2.0, 0.5])])
    assert low_bit_layers(q, 4) == (0, 2, 3)  # layer 1 is above the mean (2.125): high bits
    with pytest.raises(ValueError):
        low_bit_layers(q, 3)
    assert nm_formats(_df(CURVES)) == ("1:4", "2:4", "2:4")  # the 2 most sensitive of 3 get 2:4
