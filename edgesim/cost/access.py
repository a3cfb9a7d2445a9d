"""Access counts: bytes read and written per storage level and tensor, for candidate mappings.

Levels 0 registers, 1 global buffer, 2 DRAM; tensors A (M×K), B (K×N), C (M×N).
- DRAM: each tensor has one DRAM loop that does not index it; the tensor is re-fetched once per
  iteration of that loop if an indexing loop inside it iterates (Timeloop-style reuse). C revisited
  p times spills p-1 partial sums (accumulator width) out and back.
- Global buffer: the array re-reads the streamed operand once per fold of the other spatial dim;
  the stationary operand once per tile; C accumulates once per K step (per K tile for os, per K fold
  for ws and is), each step after the first a read-modify-write.
- Registers (energy): every executed MAC reads A, B and a partial sum and writes the partial sum;
  streamed operands are also written once per MAC as they hop between PEs; the stationary operand is
  written once per load. All of these are charged at the register level's pJ/byte.
- Register-file port (cycles): only the accesses that contend for the PE's register-file port, i.e. the
  stationary input operand's, count against `registers.bandwidth_bytes_per_cycle_per_pe`:

  | dataflow | port: read per MAC, write per load | not the port |
  | --- | --- | --- |
  | os (0) | nothing | A and B in pipeline registers; C in the MAC's accumulator |
  | ws (1) | B | A and the partial sum in pipeline registers (right, down) |
  | is (2) | A | B and the partial sum in pipeline registers (right, down) |

  Basis. In a systolic array a PE latches the streamed operands it receives and hands them to its neighbour
  the next cycle, and a partial sum either stays in the PE's accumulator (os) or is added to the one arriving
  from above and passed down (ws, is). SCALE-Sim (Samajdar et al., arXiv:1811.02883; its
  `systolic_compute_{os,ws,is}.py` emit only SRAM demand matrices) and the TPU (Jouppi et al., ISCA 2017:
  weights preloaded, data in from the left, partial sums flowing down) sustain one MAC per PE per cycle with
  no register-port term at all. Timeloop-Accelergy's `simple_weight_stationary` example
  (Accelergy-Project/timeloop-accelergy-exercises, baseline_designs) keeps only Weights in the PE scratchpad and gives
  Inputs and Outputs single-entry `reg_storage` registers that bypass it; the Eyeriss chip (Chen et al., JSSC
  2017) gives each data type a PE scratchpad of its own. edgesim therefore charges the port only for the
  operand a PE holds across a fold and reloads between folds, the one Timeloop's example keeps in the
  scratchpad: one read per MAC and its writes on arrival. That is the conservative end: a PE that feeds its
  held weight from a latch, as the TPU's does, needs no port for it at all.
  Energy keeps counting every access: in Eyeriss's energy table (Chen et al., ISCA 2016: RF 1x, inter-PE hop
  2x, buffer 6x, DRAM 200x) a hop costs more than a register-file access, so pricing hops and accumulator
  updates at the register level's pJ/byte underestimates them rather than double counting.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edgesim.arch import ArchSpec
from edgesim.cost.tiling import TileGeometry, fold_count
from edgesim.mapping import LOOP_ORDERS, MappingSet
from edgesim.operands import OperandModel
from edgesim.ops import Gemm

FloatArray = npt.NDArray[np.float64]

LEVELS = ("registers", "global_buffer", "dram")
TENSORS = ("A", "B", "C")
_DIMS = "mnk"
TENSOR_DIMS = ("mk", "kn", "mn")


def _inner_relevant_masks() -> npt.NDArray[np.bool_]:
    """mask[order, tensor, dim]: is `dim` a loop indexing `tensor` that sits inside `tensor`'s unindexed loop?

    A tensor is re-fetched once per iteration of its unindexed DRAM loop only if some loop inside it
    that does index the tensor actually iterates (trip count > 1); otherwise the tile stays resident.
    """
    mask = np.zeros((len(LOOP_ORDERS), 3, 3), dtype=bool)
    for o, order in enumerate(LOOP_ORDERS):
        for t, rel in enumerate(TENSOR_DIMS):
            free = next(d for d in _DIMS if d not in rel)
            for d in rel:
                mask[o, t, _DIMS.index(d)] = order.index(d) > order.index(free)
    return mask


INNER_RELEVANT = _inner_relevant_masks()
UNINDEXED_DIM = np.array([_DIMS.index(next(d for d in _DIMS if d not in rel)) for rel in TENSOR_DIMS])



def _refetch_table() -> npt.NDArray[np.bool_]:
    """table[order, code, tensor], code = bit0 m iterates | bit1 n iterates | bit2 k iterates."""
    table = np.zeros((len(LOOP_ORDERS), 8, 3), dtype=bool)
    for code in range(8):
        iterates = np.array([(code >> d) & 1 for d in range(3)], dtype=bool)
        table[:, code, :] = np.any(INNER_RELEVANT & iterates, axis=2)
    return table


REFETCH = _refetch_table()


_REFETCH_PY: dict[tuple[str, int], tuple[bool, bool, bool]] = {
    (order, code): (bool(REFETCH[o, code, 0]), bool(REFETCH[o, code, 1]), bool(REFETCH[o, code, 2]))
    for o, order in enumerate(LOOP_ORDERS) for code in range(8)}


def refetches(order: str, m_iterates: bool, n_iterates: bool, k_iterates: bool) -> tuple[bool, bool, bool]:
    """Whether A, B and C are re-fetched once per iteration of their unindexed DRAM loop (plain-Python lookup)."""
    return _REFETCH_PY[(order, m_iterates + 2 * n_iterates + 4 * k_iterates)]


def count_accesses(arch: ArchSpec, op: Gemm, om: OperandModel, g: TileGeometry,
                   maps: MappingSet) -> tuple[FloatArray, FloatArray]:
    """Read and write bytes per candidate, level and tensor: arrays of shape (n, 3, 3)."""
    R, C = arch.pe_array.rows, arch.pe_array.cols
    nm, nn, nk = g.nm, g.nn, g.nk
    df = maps.dataflow
    # os streams A once per N fold and B once per M fold; ws and is accumulate C over K folds
    a_reps = np.where(df == 2, nn, fold_count(nn, g.tn, g.rn, C))
    b_reps = np.where(df == 0, fold_count(nm, g.tm, g.rm, R),
                      np.where(df == 1, nm, fold_count(nm, g.tm, g.rm, C)))
    acc = np.where(df == 0, nk, fold_count(nk, g.ke, g.rke, R))

    code = (nm > 1) + 2 * (nn > 1) + 4 * (nk > 1)
    refetch = REFETCH[maps.order, code]  # (n, tensor)
    mult_a = np.where(refetch[:, 0], nn, 1)
    mult_b = np.where(refetch[:, 1], nm, 1)
    spills = np.where(refetch[:, 2], nk - 1, 0)

    b = op.batch
    a_all, b_all, c_all = b * op.m * op.k * om.a_bytes, b * om.b_stored_bytes, b * op.m * op.n
    psum, macs = c_all * om.psum_bytes, b * op.m * op.n * op.k * om.k_kept
    zero = np.zeros(len(maps))
    dram_a, dram_b, dram_c_in = a_all * mult_a, b_all * mult_b, psum * spills
    dram_c_out = dram_c_in + c_all * om.c_bytes
    glb_a, glb_b = a_all * a_reps, b_all * b_reps
    rf_a, rf_b, rf_c = zero + macs * om.a_bytes, zero + macs * om.b_bytes, zero + macs * om.psum_bytes
    reads = np.stack([rf_a, rf_b, rf_c,
                      glb_a, glb_b, psum * (acc - 1) + dram_c_out,
                      dram_a, dram_b, dram_c_in], axis=1).reshape(-1, 3, 3)
    writes = np.stack([np.where(df == 2, glb_a, rf_a),  # A is stationary only in is
                       np.where(df == 1, glb_b, rf_b),  # B is stationary only in ws
                       rf_c,
                       dram_a, dram_b, psum * acc + dram_c_in,
                       zero, zero, dram_c_out], axis=1).reshape(-1, 3, 3)
    return reads.astype(np.float64), writes.astype(np.float64)


def register_port_bytes(reads: FloatArray, writes: FloatArray, dataflow: npt.NDArray[np.int64]) -> FloatArray:
    """Bytes per candidate through the PE register-file port: the stationary input operand's register reads (one
    per MAC) and writes (one per load), i.e. B's in ws, A's in is and none in os (module docstring)."""
    rf = reads[:, 0] + writes[:, 0]  # (n, tensor)
    port: FloatArray = np.where(dataflow == 1, rf[:, 1], np.where(dataflow == 2, rf[:, 0], 0.0))
    return port
