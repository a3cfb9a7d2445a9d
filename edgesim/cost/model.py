"""The vectorised analytic cost model for GEMMs: counts first, then cycles and energy.

`evaluate(arch, op, maps)` scores every candidate in a `MappingSet` with numpy array expressions;
`evaluate_one` wraps it for a single mapping and returns `GemmCost | Infeasible`.

Counts (bytes, per storage level and tensor; levels 0 registers, 1 global buffer, 2 DRAM):
- DRAM: each tensor has one DRAM loop that does not index it; the tensor is re-fetched once per
  iteration of that loop if an indexing loop inside it iterates (Timeloop-style reuse). C revisited p times spills
  p-1 partial sums (accumulator width) out and back.
- Global buffer: the array re-reads the streamed operand once per fold of the other spatial dim;
  the stationary operand once per tile; C accumulates once per K step (per K tile for os, per K fold
  for ws and is), each step after the first a read-modify-write.
- Registers: every executed MAC reads A, B and a partial sum and writes the partial sum; streamed
  operands are also written once per MAC as they hop between PEs.

Cycles: compute from the SCALE-Sim-exact systolic formula (`edgesim.cost.systolic`); on-chip
cycles = max(compute, buffer-port cycles); DRAM cycles = bytes / bandwidth.
- double buffered: first-tile load (latency + bytes/bandwidth), then max(on-chip, remaining DRAM);
- single buffered: on-chip + DRAM + one DRAM latency per tile (nothing overlaps).
Energy (pJ) = Σ_level Σ_tensor (read bytes·pJ/B + write bytes·pJ/B) + executed MACs·pJ/MAC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgesim.arch import ArchSpec
from edgesim.cost.operands import OperandModel, operand_model
from edgesim.cost.systolic import compute_cycles, fold_count
from edgesim.errors import Infeasible
from edgesim.mapping import LOOP_ORDERS, Mapping, MappingSet
from edgesim.ops import Gemm

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

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


@dataclass(frozen=True, slots=True)
class CostArrays:
    """Costs of n candidate mappings; every array has n rows. Units: cycles, bytes, pJ."""

    feasible: npt.NDArray[np.bool_]
    glb_need_bytes: FloatArray
    compute_cycles: FloatArray
    glb_cycles: FloatArray
    rf_cycles: FloatArray
    dram_cycles: FloatArray
    latency_overlap_cycles: FloatArray
    latency_no_overlap_cycles: FloatArray
    total_cycles: FloatArray
    read_bytes: FloatArray  # (n, level, tensor)
    write_bytes: FloatArray  # (n, level, tensor)
    level_energy_pj: FloatArray  # (n, level)
    mac_energy_pj: FloatArray
    energy_pj: FloatArray
    effective_macs: float  # MACs executed (zeros skipped)
    utilization: FloatArray  # executed MACs / (total cycles · PEs · MACs per PE per cycle)
    rf_infeasible: str  # a reason shared by every candidate, or ""

    @property
    def dram_bytes(self) -> FloatArray:
        total: FloatArray = self.read_bytes[:, 2, :].sum(axis=1) + self.write_bytes[:, 2, :].sum(axis=1)
        return total


@dataclass(frozen=True, slots=True, kw_only=True)
class GemmCost:
    """The cost of one op under one mapping."""

    op: Gemm
    mapping: Mapping
    b_format: str
    macs: int
    effective_macs: float
    compute_cycles: float
    glb_cycles: float
    rf_cycles: float
    dram_cycles: float
    latency_overlap_cycles: float
    latency_no_overlap_cycles: float
    total_cycles: float
    read_bytes: dict[str, dict[str, float]]  # level -> tensor -> bytes
    write_bytes: dict[str, dict[str, float]]
    level_energy_pj: dict[str, float]
    mac_energy_pj: float
    energy_pj: float
    dram_bytes: float
    utilization: float


def _tiles(dim: int, tile: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(trip count, full tile size, last tile size) along one dim, with tiles clipped to the dim."""
    t = np.minimum(tile, dim)
    n = -(-dim // t)
    return n, t, dim - (n - 1) * t


def _k_eff(k: IntArray, om: OperandModel) -> IntArray:
    kept = np.ceil(k * om.k_kept - 1e-9)
    out: IntArray = np.maximum(1, -(-kept.astype(np.int64) // om.pack))
    return out


def count_accesses(arch: ArchSpec, op: Gemm, om: OperandModel, maps: MappingSet) -> tuple[FloatArray, FloatArray]:
    """Read and write bytes per candidate, level and tensor: arrays of shape (n, 3, 3)."""
    R, C = arch.pe_array.rows, arch.pe_array.cols
    nm, tm, rm = _tiles(op.m, maps.tile_m)
    nn, tn, rn = _tiles(op.n, maps.tile_n)
    nk, tk, rk = _tiles(op.k, maps.tile_k)
    ke, rke = _k_eff(tk, om), _k_eff(rk, om)
    df = maps.dataflow
    # folds: os streams A across N-folds, B across M-folds; ws/is accumulate over K folds
    f_n_cols = fold_count(nn, tn, rn, C)
    f_m_rows = fold_count(nm, tm, rm, R)
    f_m_cols = fold_count(nm, tm, rm, C)
    f_k_rows = fold_count(nk, ke, rke, R)
    a_reps = np.select([df == 0, df == 1], [f_n_cols, f_n_cols], nn).astype(np.float64)
    b_reps = np.select([df == 0, df == 1], [f_m_rows, nm], f_m_cols).astype(np.float64)
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


def evaluate(arch: ArchSpec, op: Gemm, maps: MappingSet) -> CostArrays:
    """Score every candidate mapping of `op` on `arch` (see the module docstring for the formulas)."""
    om = operand_model(arch, op)
    reads, writes = count_accesses(arch, op, om, maps)
    nm, tm, _ = _tiles(op.m, maps.tile_m)
    nn, tn, _ = _tiles(op.n, maps.tile_n)
    nk, tk, _ = _tiles(op.k, maps.tile_k)

    b_per_elem = om.b_stored_bytes / (op.k * op.n)
    tile_in = tm * tk * om.a_bytes + tk * tn * b_per_elem
    need = (tile_in + tm * tn * om.psum_bytes) * np.where(maps.double_buffer, 2.0, 1.0)
    glb, rf, dram = arch.global_buffer, arch.registers, arch.dram
    rf_need = om.pack * (om.a_bytes + om.b_bytes) + om.psum_bytes
    rf_reason = (f"each PE needs {rf_need:g} B of registers but registers.capacity_bytes_per_pe is "
                 f"{rf.capacity_bytes:g}") if rf_need > rf.capacity_bytes else ""
    feasible = (need <= glb.capacity_bytes) & (rf_reason == "")

    comp = compute_cycles(arch, op, om, maps).astype(np.float64)
    glb_cycles = (reads[:, 1].sum(axis=1) + writes[:, 1].sum(axis=1)) / glb.bandwidth_bytes_per_cycle
    rf_cycles = (reads[:, 0].sum(axis=1) + writes[:, 0].sum(axis=1)) / (rf.bandwidth_bytes_per_cycle * rf.instances)
    dram_bytes = reads[:, 2].sum(axis=1) + writes[:, 2].sum(axis=1)
    dram_cycles = dram_bytes / dram.bandwidth_bytes_per_cycle
    on_chip = np.maximum(comp, np.maximum(glb_cycles, rf_cycles))
    first_transfer = np.minimum(tile_in / dram.bandwidth_bytes_per_cycle, dram_cycles)
    overlap = dram.latency_cycles + first_transfer + np.maximum(on_chip, dram_cycles - first_transfer)
    tiles = (nm * nn * nk * op.batch).astype(np.float64)
    no_overlap = on_chip + dram_cycles + tiles * dram.latency_cycles
    total = np.where(maps.double_buffer, overlap, no_overlap)

    e_read = np.array([lv.read_energy_pj_per_byte for lv in arch.levels])
    e_write = np.array([lv.write_energy_pj_per_byte for lv in arch.levels])
    level_pj = reads.sum(axis=2) * e_read + writes.sum(axis=2) * e_write
    macs = op.batch * op.m * op.n * op.k * om.k_kept
    mac_pj = np.full(len(maps), macs * om.mac_energy_pj)
    util = macs / (total * arch.pe_array.pes * om.pack)
    return CostArrays(feasible=feasible, glb_need_bytes=need, compute_cycles=comp, glb_cycles=glb_cycles,
                      rf_cycles=rf_cycles, dram_cycles=dram_cycles, latency_overlap_cycles=overlap,
                      latency_no_overlap_cycles=no_overlap, total_cycles=total, read_bytes=reads,
                      write_bytes=writes, level_energy_pj=level_pj, mac_energy_pj=mac_pj,
                      energy_pj=level_pj.sum(axis=1) + mac_pj, effective_macs=macs, utilization=util,
                      rf_infeasible=rf_reason)


def evaluate_one(arch: ArchSpec, op: Gemm, mapping: Mapping) -> GemmCost | Infeasible:
    """Cost of one mapping, or why it cannot run."""
    ca = evaluate(arch, op, MappingSet.of([mapping]))
    if ca.rf_infeasible:
        return Infeasible(ca.rf_infeasible)
    if not ca.feasible[0]:
        return Infeasible(f"global-buffer tile {mapping.tile_m}x{mapping.tile_n}x{mapping.tile_k} needs "
                          f"{ca.glb_need_bytes[0]:,.0f} B but global_buffer holds {arch.global_buffer.capacity_bytes:,.0f} B")
    return cost_at(arch, op, mapping, ca, 0)


def cost_at(arch: ArchSpec, op: Gemm, mapping: Mapping, ca: CostArrays, i: int) -> GemmCost:
    """Candidate `i` of `ca` as a named, scalar result."""
    om = operand_model(arch, op)

    def table(a: FloatArray) -> dict[str, dict[str, float]]:
        return {lv: {t: float(a[i, li, ti]) for ti, t in enumerate(TENSORS)} for li, lv in enumerate(LEVELS)}

    return GemmCost(op=op, mapping=mapping, b_format=om.b_format, macs=op.macs, effective_macs=ca.effective_macs,
                    compute_cycles=float(ca.compute_cycles[i]), glb_cycles=float(ca.glb_cycles[i]),
                    rf_cycles=float(ca.rf_cycles[i]), dram_cycles=float(ca.dram_cycles[i]),
                    latency_overlap_cycles=float(ca.latency_overlap_cycles[i]),
                    latency_no_overlap_cycles=float(ca.latency_no_overlap_cycles[i]),
                    total_cycles=float(ca.total_cycles[i]), read_bytes=table(ca.read_bytes),
                    write_bytes=table(ca.write_bytes),
                    level_energy_pj={lv: float(ca.level_energy_pj[i, li]) for li, lv in enumerate(LEVELS)},
                    mac_energy_pj=float(ca.mac_energy_pj[i]), energy_pj=float(ca.energy_pj[i]),
                    dram_bytes=float(ca.dram_bytes[i]), utilization=float(ca.utilization[i]))
