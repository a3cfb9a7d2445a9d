"""Per-layer compression policy from measured sensitivities: sparsity, bit-width and N:M pattern.

- `luc`: Edge-LLM's formula, by `edgesim.frontend.luc` (not re-implemented here).
- `min-mse`: an alternative with a stated objective. Each layer's measured mean output MSE as a function of its pruning
  ratio is interpolated piecewise-linearly (0 at ratio 0, flat-extrapolated nowhere: ratios above the largest measured one
  are not allowed); the sparsities minimise the sum of predicted layer MSEs subject to the mean sparsity equal to the
  target, solved exactly on a 0.01 grid by dynamic programming (a multiple-choice knapsack).
- Bits: low bits by default, raised to high bits where a layer's quantization MSE at the low width is above the layers'
  average (the paper's rule).
- N:M: the more sensitive half of the layers 2:4, the rest 1:4 (the semi-structured alternative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgesim.frontend.luc import luc_sparsity

GRID = 100  # sparsity grid steps per unit


@dataclass(frozen=True, slots=True)
class SparsityPolicy:
    name: str
    sparsity: tuple[float, ...]
    predicted_mse: float  # sum over layers of the interpolated layer-output MSE


def mse_curves(df: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per layer: (ratios with 0 prepended, mean MSE over samples with 0 prepended)."""
    per = df.groupby(["layer", "pruning_ratio"])["output_mse"].mean()
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for layer, s in per.groupby(level="layer"):
        r = s.index.get_level_values("pruning_ratio").to_numpy(dtype=float)
        order = np.argsort(r)
        out[int(str(layer))] = (np.concatenate([[0.0], r[order]]), np.concatenate([[0.0], s.to_numpy(dtype=float)[order]]))
    return out


def predicted_mse(df: pd.DataFrame, sparsity: tuple[float, ...] | list[float]) -> float:
    curves = mse_curves(df)
    return float(sum(np.interp(p, *curves[i]) for i, p in enumerate(sparsity)))


def cap_and_redistribute(sparsity: tuple[float, ...], cap: float) -> tuple[float, ...]:
    """Clip values above `cap` and spread the excess over the other layers in proportion to their values (the mean is kept;
    evenly if they are all 0).

    With few layers, Edge-LLM's formula can give a layer more than the largest measured ratio (even more than 1).
    """
    p = np.array(sparsity, dtype=float)
    for _ in range(len(p)):
        over = p > cap + 1e-12
        if not over.any():
            break
        excess = float((p[over] - cap).sum())
        p[over] = cap
        free = (~over) & (p < cap)
        if not free.any():
            raise ValueError(f"cannot keep every layer at or below {cap} with this mean sparsity")
        weight = p[free] if p[free].sum() > 0 else np.ones(int(free.sum()))  # all-zero layers: spread evenly
        p[free] += excess * weight / weight.sum()
    return tuple(float(x) for x in p)


def luc_policy(df: pd.DataFrame, target: float, unmeasured: str = "refuse", source: str = "<measured>",
               cap: float | None = None) -> SparsityPolicy:
    """Edge-LLM's formula; values above `cap` (default: the largest measured ratio) are clipped and redistributed."""
    sp = luc_sparsity(df, target, unmeasured=unmeasured, source=source).sparsity
    top = float(df["pruning_ratio"].max()) if cap is None else cap
    if max(sp) > top:
        return SparsityPolicy("luc-capped", cap_and_redistribute(sp, top), predicted_mse(df, cap_and_redistribute(sp, top)))
    return SparsityPolicy("luc", sp, predicted_mse(df, sp))


def min_mse_policy(df: pd.DataFrame, target: float, max_sparsity: float | None = None) -> SparsityPolicy:
    """Sparsities on a 0.01 grid minimising the summed predicted MSE with mean sparsity = target (exact DP).

    Per-layer sparsity is capped at `max_sparsity` (default: the largest measured ratio). The objective sums layer-local
    MSEs, so it ignores how errors grow through later layers; check the result on the whole model.
    """
    curves = mse_curves(df)
    layers = sorted(curves)
    top = min(int(round(curves[i][0][-1] * GRID)) for i in layers)
    if max_sparsity is not None:
        top = min(top, int(round(max_sparsity * GRID)))
    budget = int(round(target * len(layers) * GRID))
    if budget > top * len(layers):
        raise ValueError(f"target {target} is above the largest measured ratio {top / GRID}")
    grid = np.arange(top + 1) / GRID
    inf = np.inf
    best = np.full(budget + 1, inf)
    best[0] = 0.0
    choice = []
    for i in layers:
        cost = np.interp(grid, *curves[i])
        new = np.full(budget + 1, inf)
        arg = np.zeros(budget + 1, dtype=int)
        for j, c in enumerate(cost):
            cand = np.full(budget + 1, inf)
            cand[j:] = best[: budget + 1 - j] + c
            better = cand < new
            new[better], arg[better] = cand[better], j
        best = new
        choice.append(arg)
    b, picks = budget, []
    for arg in reversed(choice):
        j = int(arg[b])
        picks.append(j / GRID)
        b -= j
    sp = tuple(reversed(picks))
    return SparsityPolicy("min-mse", sp, predicted_mse(df, sp))


def layer_quant_sensitivity(qdf: pd.DataFrame, bits: int) -> np.ndarray:
    """Mean output MSE per layer at `bits` (from `edgesim.frontend.torch.sensitivity.quant_mse`)."""
    sel = qdf[qdf["bits"] == bits]
    if sel.empty:
        raise ValueError(f"no quantization measurement at {bits} bits")
    return sel.groupby("layer")["output_mse"].mean().sort_index().to_numpy(dtype=float)


def low_bit_layers(qdf: pd.DataFrame, low_bits: int) -> tuple[int, ...]:
    """Layers that stay at the low width: quantization MSE at low bits at or below the layers' average."""
    s = layer_quant_sensitivity(qdf, low_bits)
    return tuple(int(i) for i in np.flatnonzero(s <= s.mean()))


def nm_formats(df: pd.DataFrame) -> tuple[str, ...]:
    """2:4 for the more sensitive half of the layers (by LUC's s_l), 1:4 for the rest."""
    s = df.groupby(["layer", "pruning_ratio"])["output_mse"].mean().groupby("layer").mean().sort_index().to_numpy()
    ranks = np.argsort(np.argsort(-s))  # 0 = most sensitive
    half = (len(s) + 1) // 2
    return tuple("2:4" if r < half else "1:4" for r in ranks)
