"""Compute cycles of a GEMM on a systolic array, exactly as SCALE-Sim v3 counts them.

Dimension mapping (SCALE-Sim's Sr, Sc, T): os puts M on rows, N on columns, K in time;
ws puts K on rows, N on columns, M in time; is puts K on rows, M on columns, N in time.
Each fold (one rows×cols block of the two spatial dims) takes `T + overhead(dataflow, R, C)`
cycles, where the overhead is the pipeline fill, skew and drain of the full R×C array
(`FOLD_OVERHEAD` below, derived from SCALE-Sim's demand matrices; see docs/cost-model.md).

edgesim counts the cycle in which the last output leaves the array, so its count is SCALE-Sim's
total minus stall cycles plus one (SCALE-Sim's count ends one cycle early).

With global-buffer tiling, every tile runs its own folds, so the fill/drain overhead is paid once
per fold of every tile: Σ_tiles folds·(overhead + T_tile). The sum factorises over dims:
cycles = batch · F_rows · F_cols · (overhead · n_time_tiles + stretch · Σ T_tiles).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgesim.arch import ArchSpec
from edgesim.cost.tiling import TileGeometry, fold_count
from edgesim.operands import OperandModel
from edgesim.ops import Gemm

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def fold_overhead(dataflow: IntArray, rows: int, cols: int) -> IntArray:
    """Fill + skew + drain cycles of one fold on an R×C array (dataflow index: 0 os, 1 ws, 2 is).

    os: R + C - 2 (operands skewed across rows and columns; outputs drain as the next fold fills).
    ws, is: 2R + C - 2 (R extra cycles to preload the stationary operand into the array).
    """
    out: IntArray = np.where(dataflow == 0, rows + cols - 2, 2 * rows + cols - 2).astype(np.int64)
    return out


def compute_cycles(arch: ArchSpec, op: Gemm, om: OperandModel, g: TileGeometry, dataflow: IntArray) -> FloatArray:
    """Array cycles of every candidate, fill/drain included, all tiles and batches."""
    R, C = arch.pe_array.rows, arch.pe_array.cols
    is_os, is_ws = dataflow == 0, dataflow == 1
    f_rows = np.where(is_os, fold_count(g.nm, g.tm, g.rm, R), fold_count(g.nk, g.ke, g.rke, R))
    f_cols = np.where(is_os | is_ws, fold_count(g.nn, g.tn, g.rn, C), fold_count(g.nm, g.tm, g.rm, C))
    n_time = np.where(is_os, g.nk, np.where(is_ws, g.nm, g.nn))
    t_sum = np.where(is_os, (g.nk - 1) * g.ke + g.rke, np.where(is_ws, op.m, op.n))
    per_fold = fold_overhead(dataflow, R, C) * n_time + om.stretch * t_sum
    cycles: FloatArray = op.batch * f_rows.astype(np.float64) * f_cols * per_fold  # float: no int64 wrap-around
    return cycles
