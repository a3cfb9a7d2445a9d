"""Access counts: bytes read and written per storage level and tensor, for candidate mappings.

Levels 0 registers, 1 global buffer, 2 DRAM; tensors A (M×K), B (K×N), C (M×N).
- DRAM: each tensor has one DRAM loop that does not index it; the tensor is re-fetched once per
  iteration of that loop if an indexing loop inside it iterates (Timeloop-style reuse). C revisited
  p times spills p-1 partial sums (accumulator width) out and back.
- Global buffer: the array re-reads the streamed operand once per fold of the other spatial dim;
  the stationary operand once per tile; C accumulates once per K step (per K tile for os, per K fold
  for ws and is), each step after the first a read-modify-write.
- Registers: every executed MAC reads A, B and a partial sum and writes the partial sum; streamed
  operands are also written once per MAC as they hop between PEs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgesim.arch import ArchSpec
from edgesim.cost.operands import OperandModel
from edgesim.cost.tiling import TileGeometry, fold_count
from edgesim.mapping import LOOP_ORDERS, MappingSet
from edgesim.ops import Gemm

FloatArray = npt.NDArray[np.float64]

LEVELS = ("registers", "global_buffer", "dram")
TENSORS = ("A", "B", "C")
_DIMS = "mnk"
_TENSOR_DIMS = ("mk", "kn", "mn")


def _inner_relevant_masks() -> npt.NDArray[np.bool_]:
    """mask[order, tensor, dim]: is `dim` a loop indexing `tensor` that sits inside `tensor`'s unindexed loop?

    A tensor is re-fetched once per iteration of its unindexed DRAM loop only if some loop inside it
    that does index the tensor actually iterates (trip count > 1); otherwise the tile stays resident.
    """
    mask = np.zeros((len(LOOP_ORDERS), 3, 3), dtype=bool)
    for o, order in enumerate(LOOP_ORDERS):
        for t, rel in enumerate(_TENSOR_DIMS):
            free = next(d for d in _DIMS if d not in rel)
            for d in rel:
                mask[o, t, _DIMS.index(d)] = order.index(d) > order.index(free)
    return mask


INNER_RELEVANT = _inner_relevant_masks()
UNINDEXED_DIM = np.array([_DIMS.index(next(d for d in _DIMS if d not in rel)) for rel in _TENSOR_DIMS])



def count_accesses(arch: ArchSpec, op: Gemm, om: OperandModel, g: TileGeometry,
                   maps: MappingSet) -> tuple[FloatArray, FloatArray]:
    """Read and write bytes per candidate, level and tensor: arrays of shape (n, 3, 3)."""
    R, C = arch.pe_array.rows, arch.pe_array.cols
    nm, nn, nk = g.nm, g.nn, g.nk
    df = maps.dataflow
    # os streams A once per N fold and B once per M fold; ws and is accumulate C over K folds
    f_n_cols = fold_count(nn, g.tn, g.rn, C)
    f_k_rows = fold_count(nk, g.ke, g.rke, R)
    a_reps = np.where(df == 2, nn, f_n_cols).astype(np.float64)
    b_reps = np.where(df == 0, fold_count(nm, g.tm, g.rm, R),
                      np.where(df == 1, nm, fold_count(nm, g.tm, g.rm, C))).astype(np.float64)
    acc = np.where(df == 0, nk, f_k_rows).astype(np.float64)

    b = op.batch
    a_all, b_all, c_all = b * op.m * op.k * om.a_bytes, b * om.b_stored_bytes, b * op.m * op.n
    trips = np.stack([nm, nn, nk], axis=1).astype(np.float64)  # (n, dim)
    iterates = (trips > 1.0)[:, None, :]  # (n, 1, dim)
    refetch = np.any(INNER_RELEVANT[maps.order] & iterates, axis=2)  # (n, tensor)
    mult = np.where(refetch, trips[:, UNINDEXED_DIM], 1.0)  # (n, tensor)
    spills = mult[:, 2] - 1.0

    n = len(maps)
    reads = np.zeros((n, 3, 3))
    writes = np.zeros((n, 3, 3))
    reads[:, 2, 0] = a_all * mult[:, 0]
    reads[:, 2, 1] = b_all * mult[:, 1]
    reads[:, 2, 2] = c_all * om.psum_bytes * spills
    writes[:, 2, 2] = c_all * (om.psum_bytes * spills + om.c_bytes)

    writes[:, 1, 0] = reads[:, 2, 0]
    writes[:, 1, 1] = reads[:, 2, 1]
    writes[:, 1, 2] = c_all * om.psum_bytes * acc + reads[:, 2, 2]
    reads[:, 1, 0] = a_all * a_reps
    reads[:, 1, 1] = b_all * b_reps
    reads[:, 1, 2] = c_all * om.psum_bytes * (acc - 1.0) + writes[:, 2, 2]

    macs = b * op.m * op.n * op.k * om.k_kept
    reads[:, 0, 0] = macs * om.a_bytes
    reads[:, 0, 1] = macs * om.b_bytes
    reads[:, 0, 2] = macs * om.psum_bytes
    writes[:, 0, 2] = macs * om.psum_bytes
    writes[:, 0, 0] = np.where(df == 2, reads[:, 1, 0], macs * om.a_bytes)  # A is stationary only in is
    writes[:, 0, 1] = np.where(df == 1, reads[:, 1, 1], macs * om.b_bytes)  # B is stationary only in ws
    return reads, writes
