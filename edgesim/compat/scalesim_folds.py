"""SCALE-Sim v3's compute side, vectorised: the demand and prefetch orders of one layer's three operands.

SCALE-Sim's compute module (`compute/systolic_compute_{os,ws,is}.py`) turns a layer into folds and, for every
cycle of every fold (a "demand line"), lists the words the array reads from the ifmap and filter SRAMs and writes
to the ofmap SRAM. It also lays each input operand out once as a "prefetch matrix", the order in which its SRAM
fetches it from DRAM. This module builds the same orders with numpy index arithmetic (no per-fold or per-cycle
loop) and returns only what the memory replay needs:
- each input operand's fetch sequence (the flattened prefetch matrix, -1 for padding), once per layer;
- in batches of whole folds (so memory stays bounded on large layers): for each input operand, the valid demands
  in SCALE-Sim's order (line-major, then column), their line and address; and the ofmap words written on each line.

Notation as in SCALE-Sim: the array has R rows and C columns; the layer's operand matrices are ifmap (P x W),
filter (W x F) and ofmap (P x F); -1 marks an absent address. Per dataflow, Sr and Sc are the two dimensions
mapped onto the rows and columns of the array, T the one streamed in time:
- os: Sr = P, Sc = F, T = W; a fold lasts T + R + C - 2 lines;
- ws: Sr = W, Sc = F, T = P; 2R + C + T - 2 lines;
- is: Sr = W, Sc = P, T = F; 2R + C + T - 2 lines.
Folds run column folds outer, row folds inner.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgesim.mapping import Dataflow

IntArray = npt.NDArray[np.int64]
MAX_OPERAND_WORDS = 1 << 28  # words per operand matrix the engine holds addresses for (2 GiB of int64)


@dataclass(frozen=True, slots=True)
class Demands:
    """Valid demands of one input operand in SCALE-Sim's order (line-major, then column)."""

    line: IntArray  # demand line (counted over the whole layer)
    addr: IntArray  # address


@dataclass(frozen=True, slots=True)
class Batch:
    """A run of whole folds: its demands and the ofmap words written on each of its lines."""

    first_line: int
    ifmap: Demands
    filter: Demands
    ofmap_words: IntArray  # per line, from first_line on


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A layer as SCALE-Sim's compute module plays it on one array and dataflow."""

    dataflow: Dataflow
    rows: int
    cols: int
    sr: int  # extent mapped onto the array's rows
    sc: int  # onto its columns
    t: int  # streamed in time
    per_fold: int  # demand lines per fold
    row_fold: int
    col_fold: int
    ifmap: IntArray  # operand address matrices (P x W, W x F)
    filt: IntArray
    ifmap_fetch: IntArray  # the flattened prefetch matrices, -1 for padding
    filter_fetch: IntArray

    @property
    def folds(self) -> int:
        return self.row_fold * self.col_fold

    @property
    def lines(self) -> int:
        return self.folds * self.per_fold


def gemm_operands(m: int, n: int, k: int) -> tuple[IntArray, IntArray]:
    """SCALE-Sim's GEMM operands (ifmap M x K, filter K x N), each address unique (offsets left out)."""
    ifmap = np.arange(m * k, dtype=np.int64).reshape(m, k)
    filt = np.arange(k * n, dtype=np.int64).reshape(k, n)
    return ifmap, filt


def conv_operands(ifmap_h: int, ifmap_w: int, filter_h: int, filter_w: int, channels: int, filters: int,
                  stride_h: int, stride_w: int) -> tuple[IntArray, IntArray]:
    """SCALE-Sim's convolution operands: the im2col ifmap (its input words repeat across windows) and the filter.

    Addresses as in SCALE-Sim's `operand_matrix.calc_ifmap_elem_addr` (channel-last input, row-major windows).
    The output size is SCALE-Sim's ceil((H - R + stride) / stride) (`topology_utils.topo_calc_hyperparams`): when
    the stride does not divide H - R, the last window overhangs the input and its missing words are absent (-1).
    """
    oh = -(-(ifmap_h - filter_h + stride_h) // stride_h)
    ow = -(-(ifmap_w - filter_w + stride_w) // stride_w)
    window = filter_h * filter_w * channels
    i, j = np.meshgrid(np.arange(oh * ow, dtype=np.int64), np.arange(window, dtype=np.int64), indexing="ij")
    orow, ocol = np.divmod(i, ow)
    irow, icol = orow * stride_h, ocol * stride_w
    crow, rest = np.divmod(j, filter_w * channels)
    ccol, cch = np.divmod(rest, channels)
    valid = (crow + irow < ifmap_h) & (ccol + icol < ifmap_w)
    addr = ((crow + irow) * ifmap_w + (ccol + icol)) * channels + cch
    ifmap = np.where(valid, addr, -1)
    filt = np.arange(window * filters, dtype=np.int64).reshape(window, filters)
    return ifmap, filt


def _gather(mat: IntArray, rows: IntArray, cols: IntArray, ok: npt.NDArray[np.bool_]) -> IntArray:
    """mat[rows, cols] where `ok`, -1 elsewhere (indices outside `ok` may be out of range)."""
    flat = np.append(mat.ravel(), -1)  # the last entry answers every index outside `ok`
    return flat[np.where(ok, rows * mat.shape[1] + cols, flat.size - 1)]


def _demands(block: IntArray, first_line: int, per_fold: int) -> Demands:
    """The valid entries of a (folds, lines, width) demand block in SCALE-Sim's order; the block may hold only a
    fold's first lines (those that can demand anything)."""
    flat = block.ravel()
    at = np.flatnonzero(flat >= 0)
    fold, line = np.divmod(at // block.shape[2], block.shape[1])
    return Demands(line=fold * per_fold + line + first_line, addr=flat[at])


def _anti_diagonal(mat: IntArray) -> IntArray:
    """SCALE-Sim's anti-diagonal unrolling of a prefetch matrix: diagonal by diagonal, bottom row first."""
    rows, cols = mat.shape
    r, c = np.meshgrid(np.arange(rows, dtype=np.int64), np.arange(cols, dtype=np.int64), indexing="ij")
    key = (r + c) * rows + (rows - 1 - r)
    return mat.ravel()[np.argsort(key.ravel(), kind="stable")]


def _stack(mat: IntArray, fold: int, folds: int, along_rows: bool) -> IntArray:
    """Fold slices of `mat` stacked vertically, each padded to `fold` entries with -1 (SCALE-Sim's prefetch matrix).

    along_rows: slice `mat`'s rows and transpose each slice (so the slice's rows become columns); otherwise slice
    its columns.
    """
    src = mat.T if along_rows else mat  # the sliced dimension is now the columns
    height, width = src.shape
    padded = np.full((height, folds * fold), -1, dtype=np.int64)
    padded[:, :width] = src
    return padded.reshape(height, folds, fold).transpose(1, 0, 2).reshape(folds * height, fold)


def plan_layer(ifmap: IntArray, filt: IntArray, dataflow: Dataflow, rows: int, cols: int) -> Plan:
    """The fold geometry and fetch orders of this layer on this array and dataflow."""
    p, w = ifmap.shape
    f = filt.shape[1]
    if dataflow == Dataflow.OS:
        sr, sc, t, per_fold = p, f, w, w + rows + cols - 2
    elif dataflow == Dataflow.WS:
        sr, sc, t, per_fold = w, f, p, 2 * rows + cols + p - 2
    else:
        sr, sc, t, per_fold = w, p, f, 2 * rows + cols + f - 2
    row_fold, col_fold = math.ceil(sr / rows), math.ceil(sc / cols)
    if dataflow == Dataflow.OS:
        if_fetch = _anti_diagonal(_stack(ifmap, rows, row_fold, along_rows=True))
        fi_fetch = _anti_diagonal(_stack(filt, cols, col_fold, along_rows=False))
    elif dataflow == Dataflow.WS:
        if_fetch = _anti_diagonal(_stack(ifmap, rows, row_fold, along_rows=False))
        fi_fetch = _stack(filt, cols, col_fold, along_rows=False).ravel()
    else:
        if_fetch = _stack(ifmap, cols, col_fold, along_rows=True).ravel()
        fi_fetch = _anti_diagonal(_stack(filt, rows, row_fold, along_rows=True))
    return Plan(dataflow=dataflow, rows=rows, cols=cols, sr=sr, sc=sc, t=t, per_fold=per_fold, row_fold=row_fold,
                col_fold=col_fold, ifmap=ifmap, filt=filt, ifmap_fetch=if_fetch, filter_fetch=fi_fetch)


def batches(plan: Plan, max_entries: int = 1 << 22) -> Iterator[Batch]:
    """The layer's demands, whole folds at a time, each batch at most ~max_entries demand-matrix entries."""
    step = max(1, max_entries // (plan.per_fold * max(plan.rows, plan.cols)))
    for first in range(0, plan.folds, step):
        yield _batch(plan, first, min(plan.folds, first + step))


def _batch(plan: Plan, f0: int, f1: int) -> Batch:
    rows, cols, sr, sc, t = plan.rows, plan.cols, plan.sr, plan.sc, plan.t
    # int32 slot coordinates: the operands hold at most MAX_OPERAND_WORDS words, so every index fits, and the
    # broadcast index arithmetic moves half the bytes of int64
    fold = np.arange(f0, f1, dtype=np.int32)
    fc = (fold // plan.row_fold)[:, None, None]  # column folds outer, row folds inner
    fr = (fold % plan.row_fold)[:, None, None]
    line = np.arange(plan.per_fold, dtype=np.int32)[None, :, None]
    col_r = np.arange(rows, dtype=np.int32)[None, None, :]
    col_c = np.arange(cols, dtype=np.int32)[None, None, :]
    head = line[:, :rows]  # an operand that enters flipped, not skewed, is read only on a fold's first R lines
    shape_r = (f1 - f0, plan.per_fold, rows)
    shape_c = (f1 - f0, plan.per_fold, cols)
    head_c = (f1 - f0, rows, cols)
    ifmap, filt = plan.ifmap, plan.filt

    def block(shape: tuple[int, int, int], mat: IntArray, i: IntArray, j: IntArray,
              ok: npt.NDArray[np.bool_]) -> IntArray:
        return np.broadcast_to(_gather(mat, i, j, ok), shape)

    if plan.dataflow == Dataflow.OS:
        d = line - col_r
        m = fr * rows + col_r
        if_block = block(shape_r, ifmap, m, d, (d >= 0) & (d < t) & (m < sr))
        d = line - col_c
        n = fc * cols + col_c
        fi_block = block(shape_c, filt, d, n, (d >= 0) & (d < t) & (n < sc))
        m = fr * rows + rows + t - 2 - line + col_c
        of_ok = (d >= t - 1) & (d < t - 1 + rows) & (m < sr) & (n < sc)
    elif plan.dataflow == Dataflow.WS:
        d = line - col_r
        k = fr * rows + col_r
        if_block = block(shape_r, ifmap, d - rows, k, (d >= rows) & (d < rows + t) & (k < sr))
        k = fr * rows + rows - 1 - head
        n = fc * cols + col_c
        fi_block = block(head_c, filt, k, n, (k < sr) & (n < sc))
        d = line - col_c
        of_ok = (d >= 2 * rows - 1) & (d < 2 * rows - 1 + t) & (n < sc)
    else:
        k = fr * rows + rows - 1 - head
        m = fc * cols + col_c
        if_block = block(head_c, ifmap, m, k, (k < sr) & (m < sc))
        d = line - col_r
        k = fr * rows + col_r
        fi_block = block(shape_r, filt, k, d - rows, (d >= rows) & (d < rows + t) & (k < sr))
        d = line - col_c
        of_ok = (d >= 2 * rows - 1) & (d < 2 * rows - 1 + t) & (m < sc)
    first_line = f0 * plan.per_fold
    of_words = np.broadcast_to(of_ok, shape_c).sum(axis=2).reshape(-1).astype(np.int64)
    return Batch(first_line=first_line, ifmap=_demands(if_block, first_line, plan.per_fold),
                 filter=_demands(fi_block, first_line, plan.per_fold), ofmap_words=of_words)


def utilisation(plan: Plan) -> tuple[float, float]:
    """SCALE-Sim's average mapping efficiency and compute utilisation over folds (percent)."""
    return _utilisation(plan.dataflow, plan.sr, plan.sc, plan.t, plan.rows, plan.cols, plan.row_fold, plan.col_fold)


def _utilisation(dataflow: Dataflow, sr: int, sc: int, t: int, rows: int, cols: int, row_fold: int,
                 col_fold: int) -> tuple[float, float]:
    """SCALE-Sim's average mapping efficiency and compute utilisation over folds (percent).

    Each fold's cycle count is SCALE-Sim's own `shape[0] + shape[1] - 1` of the block it measures, which differs
    by dataflow (os: T + R + C - 2; ws: 2R + 2C + T - 3; is: 2R + 2C + T - 3).
    """
    used_r = np.minimum(rows, sr - np.arange(row_fold) * rows)
    used_c = np.minimum(cols, sc - np.arange(col_fold) * cols)
    used = np.outer(used_c, used_r).ravel().astype(np.float64)
    cycles = t + rows + cols - 2 if dataflow == Dataflow.OS else 2 * rows + 2 * cols + t - 3
    eff = used / (rows * cols)
    util = used * t / (rows * cols * cycles)
    return 100 * float(eff.mean()), 100 * float(util.mean())
