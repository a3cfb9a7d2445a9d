"""SCALE-Sim v3's compute side, vectorised: the demand and prefetch orders of one layer's three operands.

SCALE-Sim's compute module (`compute/systolic_compute_{os,ws,is}.py`) turns a layer into folds and, for every
cycle of every fold (a "demand line"), lists the words the array reads from the ifmap and filter SRAMs and writes
to the ofmap SRAM. It also lays each input operand out once as a "prefetch matrix", the order in which its SRAM
fetches it from DRAM. This module builds the same orders with numpy index arithmetic (no per-fold or per-cycle
loop) and returns only what the memory replay needs:
- for each input operand, the valid demands in SCALE-Sim's order (line-major, then column): their line and address;
- each input operand's fetch sequence (the flattened prefetch matrix, -1 for padding);
- the ofmap words written on each line.

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
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgesim.mapping import Dataflow

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Demands:
    """One input operand: its valid demands in SCALE-Sim's order, and its fetch sequence."""

    line: IntArray  # demand line of each valid demand
    addr: IntArray  # its address
    fetch: IntArray  # the flattened prefetch matrix, -1 for padding


@dataclass(frozen=True, slots=True)
class Layer:
    """A layer as SCALE-Sim's compute module plays it on one array and dataflow."""

    lines: int  # demand lines in all folds
    ifmap: Demands
    filter: Demands
    ofmap_words: IntArray  # ofmap words written per line
    mapping_efficiency: float  # percent, SCALE-Sim's average over folds
    compute_utilization: float  # percent


def gemm_operands(m: int, n: int, k: int) -> tuple[IntArray, IntArray]:
    """SCALE-Sim's GEMM operands (ifmap M x K, filter K x N), each address unique (offsets left out)."""
    ifmap = np.arange(m * k, dtype=np.int64).reshape(m, k)
    filt = np.arange(k * n, dtype=np.int64).reshape(k, n)
    return ifmap, filt


def conv_operands(ifmap_h: int, ifmap_w: int, filter_h: int, filter_w: int, channels: int, filters: int,
                  stride_h: int, stride_w: int) -> tuple[IntArray, IntArray]:
    """SCALE-Sim's convolution operands: the im2col ifmap (its input words repeat across windows) and the filter.

    Addresses as in SCALE-Sim's `operand_matrix.calc_ifmap_elem_addr` (channel-last input, row-major windows).
    """
    oh = (ifmap_h - filter_h) // stride_h + 1
    ow = (ifmap_w - filter_w) // stride_w + 1
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


def _demands(block: IntArray) -> tuple[IntArray, IntArray]:
    """The valid entries of a (folds, lines, width) demand block in SCALE-Sim's order: (global line, address)."""
    flat = block.ravel()
    at = np.flatnonzero(flat >= 0)
    return at // block.shape[2], flat[at]


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


def build_layer(ifmap: IntArray, filt: IntArray, dataflow: Dataflow, rows: int, cols: int) -> Layer:
    """The demand and fetch orders SCALE-Sim's compute module produces for this layer, array and dataflow."""
    p, w = ifmap.shape
    f = filt.shape[1]
    if dataflow == Dataflow.OS:
        sr, sc, t = p, f, w
        per_fold = t + rows + cols - 2
    elif dataflow == Dataflow.WS:
        sr, sc, t = w, f, p
        per_fold = 2 * rows + cols + t - 2
    else:
        sr, sc, t = w, p, f
        per_fold = 2 * rows + cols + t - 2
    row_fold, col_fold = math.ceil(sr / rows), math.ceil(sc / cols)
    fc = np.repeat(np.arange(col_fold, dtype=np.int64), row_fold)[:, None, None]
    fr = np.tile(np.arange(row_fold, dtype=np.int64), col_fold)[:, None, None]
    line = np.arange(per_fold, dtype=np.int64)[None, :, None]
    col_r = np.arange(rows, dtype=np.int64)[None, None, :]
    col_c = np.arange(cols, dtype=np.int64)[None, None, :]
    shape_r = (row_fold * col_fold, per_fold, rows)
    shape_c = (row_fold * col_fold, per_fold, cols)

    def block(shape: tuple[int, int, int], mat: IntArray, i: IntArray, j: IntArray,
              ok: npt.NDArray[np.bool_]) -> IntArray:
        return np.broadcast_to(_gather(mat, i, j, ok), shape)

    if dataflow == Dataflow.OS:
        d = line - col_r
        m = fr * rows + col_r
        if_block = block(shape_r, ifmap, m, d, (d >= 0) & (d < t) & (m < sr))
        d = line - col_c
        n = fc * cols + col_c
        fi_block = block(shape_c, filt, d, n, (d >= 0) & (d < t) & (n < sc))
        d = line - col_c
        m = fr * rows + rows + t - 2 - line + col_c
        of_ok = (d >= t - 1) & (d < t - 1 + rows) & (m < sr) & (fc * cols + col_c < sc)
        if_fetch = _anti_diagonal(_stack(ifmap, rows, row_fold, along_rows=True))
        fi_fetch = _anti_diagonal(_stack(filt, cols, col_fold, along_rows=False))
    elif dataflow == Dataflow.WS:
        d = line - col_r
        k = fr * rows + col_r
        if_block = block(shape_r, ifmap, d - rows, k, (d >= rows) & (d < rows + t) & (k < sr))
        k = fr * rows + rows - 1 - line
        n = fc * cols + col_c
        fi_block = block(shape_c, filt, k, n, (line < rows) & (k < sr) & (n < sc))
        d = line - col_c
        of_ok = (d >= 2 * rows - 1) & (d < 2 * rows - 1 + t) & (fc * cols + col_c < sc)
        if_fetch = _anti_diagonal(_stack(ifmap, rows, row_fold, along_rows=False))
        fi_fetch = _stack(filt, cols, col_fold, along_rows=False).ravel()
    else:
        k = fr * rows + rows - 1 - line
        m = fc * cols + col_c
        if_block = block(shape_c, ifmap, m, k, (line < rows) & (k < sr) & (m < sc))
        d = line - col_r
        k = fr * rows + col_r
        fi_block = block(shape_r, filt, k, d - rows, (d >= rows) & (d < rows + t) & (k < sr))
        d = line - col_c
        of_ok = (d >= 2 * rows - 1) & (d < 2 * rows - 1 + t) & (fc * cols + col_c < sc)
        if_fetch = _stack(ifmap, cols, col_fold, along_rows=True).ravel()
        fi_fetch = _anti_diagonal(_stack(filt, rows, row_fold, along_rows=True))
    of_words = np.broadcast_to(of_ok, shape_c).sum(axis=2).reshape(-1).astype(np.int64)
    eff, util = _utilisation(dataflow, sr, sc, t, rows, cols, row_fold, col_fold)
    if_line, if_addr = _demands(if_block)
    fi_line, fi_addr = _demands(fi_block)
    return Layer(lines=row_fold * col_fold * per_fold, ifmap=Demands(if_line, if_addr, if_fetch),
                 filter=Demands(fi_line, fi_addr, fi_fetch), ofmap_words=of_words,
                 mapping_efficiency=eff, compute_utilization=util)


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
