"""Layer-wise unified compression (LUC): per-layer pruning sparsity from measured sensitivities.

Edge-LLM's formula (DESIGN.md section 2(a), from the authors' public code):
  s_l  = mean over pruning ratios of the layer-l output MSE (each averaged over calibration samples)
  ŝ_l  = (s_l - min s) / (max s - min s)
  p_l  = (1 - ŝ_l) / Σ_j (1 - ŝ_j) × (target × L)
so the mean sparsity is `target` and the most sensitive layer gets 0.

A layer whose measurements are all zero was not measured (layer 31 of the shared LLaMA-7B data); taken
at face value it looks like the least sensitive layer and gets the highest sparsity. `luc_sparsity`
refuses such data unless told what to do (`unmeasured=`):
- "as-measured": the authors' behaviour, zeros taken at face value;
- "exclude": the formula over the measured layers only, with target × (measured layers) to spread,
  and every unmeasured layer set to the target itself (the overall mean stays the target).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from edgesim.config.files import read_text
from edgesim.errors import ConfigError, Problem

UNMEASURED_CHOICES = ("refuse", "as-measured", "exclude")


@dataclass(frozen=True, slots=True)
class LucResult:
    sparsity: tuple[float, ...]  # per layer
    sensitivity: tuple[float, ...]  # s_l, per layer
    unmeasured: tuple[int, ...]  # layers with no measurement
    choice: str  # how unmeasured layers were handled
    target: float


def _shown(v: object) -> str:
    return repr(v) if isinstance(v, str) else str(v.item() if hasattr(v, "item") else v)


def load_sensitivity(path: str | Path) -> pd.DataFrame:
    """Read a layer,pruning_ratio,sample,output_mse CSV; errors name the file and the column."""
    try:
        df = pd.read_csv(io.StringIO(read_text(path)))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ConfigError(Problem(source=str(path), path="", message=f"cannot read CSV: {exc}")) from None
    missing = [c for c in ("layer", "pruning_ratio", "output_mse") if c not in df.columns]
    if missing:
        raise ConfigError(Problem(source=str(path), path=",".join(missing),
                                  message=f"missing column(s); found {', '.join(map(str, df.columns))}"))
    if df.empty:
        raise ConfigError(Problem(source=str(path), path="", message="no measurements (only a header)"))
    problems = []
    v = {c: pd.to_numeric(df[c], errors="coerce") for c in ("layer", "pruning_ratio", "output_mse")}
    checks = (("layer", v["layer"].notna() & (v["layer"] >= 0) & (v["layer"] < 1024) & (v["layer"] == v["layer"].round()),
               "a layer index 0 to 1023"),
              ("pruning_ratio", v["pruning_ratio"].notna() & (v["pruning_ratio"] >= 0) & (v["pruning_ratio"] < 1),
               "a ratio in [0, 1)"),
              ("output_mse", v["output_mse"].notna() & (v["output_mse"] >= 0) & np.isfinite(v["output_mse"]),
               "a finite number >= 0"))
    for col, ok, expected in checks:
        bad = np.flatnonzero(~ok.to_numpy())
        if bad.size:
            row = int(bad[0])
            more = f" (and {bad.size - 1} more rows)" if bad.size > 1 else ""
            problems.append(Problem(source=str(path), path=col, line=row + 2,
                                    message=f"expected {expected}, got {_shown(df[col].iloc[row])}{more}"))
        else:
            df[col] = v[col]
    if problems:
        raise ConfigError(problems)
    df["layer"] = df["layer"].astype(int)
    return df


def layer_sensitivity(df: pd.DataFrame) -> pd.Series:
    """s_l: mean over ratios of the per-ratio mean over samples."""
    per_ratio = df.groupby(["layer", "pruning_ratio"])["output_mse"].mean()
    return per_ratio.groupby("layer").mean().sort_index()


def _formula(s: np.ndarray, target: float, layers: int) -> np.ndarray:
    span = s.max() - s.min()
    s_hat = (s - s.min()) / span if span > 0 else np.zeros_like(s)
    keep = 1.0 - s_hat
    out: np.ndarray = keep / keep.sum() * (target * layers)
    return out


def luc_sparsity(df: pd.DataFrame, target: float = 0.5, unmeasured: str = "refuse", source: str = "<data>") -> LucResult:
    if unmeasured not in UNMEASURED_CHOICES:
        raise ConfigError(Problem(source=source, path="unmeasured",
                                  message=f"expected one of {', '.join(UNMEASURED_CHOICES)}, got {unmeasured!r}"))
    if not 0 < target < 1:
        raise ConfigError(Problem(source=source, path="target", message=f"expected a mean sparsity in (0, 1), got {target}"))
    s = layer_sensitivity(df)
    all_zero = df.groupby("layer")["output_mse"].apply(lambda v: bool((v.fillna(0) == 0).all()))
    missing = tuple(int(i) for i in all_zero[all_zero].index)
    values = s.to_numpy(dtype=float)
    if missing and unmeasured == "refuse":
        raise ConfigError(Problem(source=source, path=f"layer {', '.join(map(str, missing))}", message=(
            "every output_mse is 0: the layer was not measured, not insensitive; the formula would give it the "
            "highest sparsity. Re-measure it, or choose --unmeasured as-measured (the authors' behaviour) or "
            "--unmeasured exclude (formula over measured layers, target sparsity for the unmeasured ones)")))
    if missing and unmeasured == "exclude":
        measured = np.array([i not in missing for i in s.index])
        out = np.full(len(values), target)
        out[measured] = _formula(values[measured], target, int(measured.sum()))
    else:
        out = _formula(values, target, len(values))
    return LucResult(sparsity=tuple(float(x) for x in out), sensitivity=tuple(float(x) for x in values),
                     unmeasured=missing, choice=unmeasured if missing else "none needed", target=target)
