"""The vectorised analytic cost model for GEMMs: counts first, then cycles and energy.

`evaluate(arch, op, maps)` scores every candidate in a `MappingSet` with numpy array expressions;
`evaluate_one` wraps it for a single mapping and returns `GemmCost | Infeasible`.

Counts (bytes per storage level and tensor) come from `edgesim.cost.access`.

Cycles: compute from the SCALE-Sim-exact systolic formula (`edgesim.cost.systolic`); on-chip
cycles = max(compute, global-buffer port cycles, register-file port cycles); DRAM cycles = bytes / bandwidth.
The register-file port carries only the stationary input operand's accesses (`register_port_bytes`: B in ws,
A in is, none in os), at `registers.bandwidth_bytes_per_cycle_per_pe` x PEs; energy counts every register access.
- double buffered: the tile pipeline's closed form (`edgesim.cost.pipelining`), the longest of two paths through
  the DRAM-level tiles as the tile simulator (`edgesim.sim.pipeline`) plays them: the compute path (the first
  tile's load and the latency exposed, on-chip cycles, the stalls of a prefetch only one tile ahead where a tile's
  load, latency and a queued write-back outlast a tile's compute, and the last tile's write-back exposed) and the
  DRAM path (every byte plus the channel's idle time at the start and the end); never more than single buffered;
- single buffered: on-chip + DRAM + one DRAM latency per tile (nothing overlaps).
Energy (pJ) = Σ_level Σ_tensor (read bytes·pJ/B + write bytes·pJ/B) + executed MACs·pJ/MAC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgesim.arch import ArchSpec
from edgesim.cost.access import LEVELS, count_accesses, register_port_bytes
from edgesim.cost.pipelining import three_level_cycles
from edgesim.cost.scalar import evaluate_scalar
from edgesim.cost.systolic import compute_cycles
from edgesim.cost.tiling import tile_geometry
from edgesim.errors import Infeasible
from edgesim.mapping import Mapping, MappingSet
from edgesim.operands import OperandModel, operand_model
from edgesim.ops import Gemm

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# The version of the modelled numbers, part of every schedule-cache key (edgesim.search.cache): bump it whenever any
# number this model (or the access counts, tiling, systolic or operand models it uses) can produce may change, and
# whenever feasibility (`fits`, `registers_shortfall`) may change, so that no cache serves a mapping chosen by an
# older model.
COST_MODEL_VERSION = 4  # 2: the register-file port carries only the held operand (docs/register-file.md); 3: a backward
# vector op reads the incoming gradient and what it saved, and writes a gradient per forward input (cost.vector.streams);
# 4: double-buffered cycles follow the tile pipeline (cost.pipelining: last write-back, one-tile prefetch window, DRAM
# idle time), in the three-level and the loop-nest model

@dataclass(frozen=True, slots=True)
class CostArrays:
    """Costs of n candidate mappings; every array has n rows. Units: cycles, bytes, pJ."""

    feasible: npt.NDArray[np.bool_]
    glb_need_bytes: FloatArray
    compute_cycles: FloatArray
    glb_cycles: FloatArray
    rf_cycles: FloatArray
    rf_port_bytes: FloatArray  # register bytes through the PE register-file port (all PEs)
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
    b_format: str  # how B is stored on this hardware: dense, bitmap, csr or n:m

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
    rf_port_bytes: float  # register bytes through the PE register-file port (all PEs)
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


def _sum3(x: FloatArray) -> FloatArray:
    """Sum over a last axis of length 3 (levels or tensors), left to right as numpy's reduction adds them, without
    the per-call cost of a reduction over so short an axis."""
    out: FloatArray = x[..., 0] + x[..., 1] + x[..., 2]
    return out


def buffer_need_bytes(op: Gemm, om: OperandModel, tm: IntArray, tn: IntArray, tk: IntArray,
                      double_buffer: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Bytes of one tile's inputs (A and stored B), and the global buffer a tile needs: inputs plus partial sums,
    twice over when double buffered. The one formula of buffer feasibility (`evaluate` and `fits`)."""
    b_per_elem = om.b_stored_bytes / (op.k * op.n)
    tile_in: FloatArray = tm * tk * om.a_bytes + tk * tn * b_per_elem
    need: FloatArray = (tile_in + tm * tn * om.psum_bytes) * np.where(double_buffer, 2.0, 1.0)
    return tile_in, need


def registers_shortfall(arch: ArchSpec, om: OperandModel) -> str:
    """Why a PE's registers cannot hold its operands and partial sum, or "" when they can."""
    rf_need = om.pack * (om.a_bytes + om.b_bytes) + om.psum_bytes
    rf = arch.registers
    return (f"each PE needs {rf_need:g} B of registers but registers.capacity_bytes_per_pe is "
            f"{rf.capacity_bytes:g}") if rf_need > rf.capacity_bytes else ""


def fits(arch: ArchSpec, op: Gemm, mapping: Mapping, om: OperandModel | None = None) -> bool:
    """Whether `mapping` is feasible: exactly `evaluate(...).feasible` for it, without counting any access.
    `om`, if given, is `operand_model(arch, op)` (callers testing many mappings of one op compute it once)."""
    om = om or operand_model(arch, op)
    if registers_shortfall(arch, om):
        return False
    tm, tn, tk = (np.array(min(t, d), dtype=np.int64) for t, d in
                  ((mapping.tile_m, op.m), (mapping.tile_n, op.n), (mapping.tile_k, op.k)))
    _, need = buffer_need_bytes(op, om, tm, tn, tk, np.array(mapping.double_buffer))
    return bool(need <= arch.global_buffer.capacity_bytes)


def compute_bound(arch: ArchSpec, op: Gemm, maps: MappingSet) -> tuple[FloatArray, FloatArray]:
    """Per candidate: its compute cycles, a lower bound on its total cycles whatever its loop order and buffering
    (`evaluate` adds only non-negative terms to them), and the global buffer it needs single-buffered (twice that
    double-buffered). Both are exactly the values `evaluate` computes, at a fraction of its cost."""
    om = operand_model(arch, op)
    g = tile_geometry(op, om, maps)
    _, need = buffer_need_bytes(op, om, g.tm, g.tn, g.tk, np.zeros(len(maps), dtype=bool))
    comp: FloatArray = compute_cycles(arch, op, om, g, maps.dataflow).astype(np.float64)
    return comp, need


def evaluate(arch: ArchSpec, op: Gemm, maps: MappingSet) -> CostArrays:
    """Score every candidate mapping of `op` on `arch` (see the module docstring for the formulas)."""
    om = operand_model(arch, op)
    g = tile_geometry(op, om, maps)
    reads, writes = count_accesses(arch, op, om, g, maps)
    tm, tn, tk = g.tm, g.tn, g.tk

    tile_in, need = buffer_need_bytes(op, om, tm, tn, tk, maps.double_buffer)
    glb, rf, dram = arch.global_buffer, arch.registers, arch.dram
    rf_reason = registers_shortfall(arch, om)
    feasible = (need <= glb.capacity_bytes) & (rf_reason == "")

    comp = compute_cycles(arch, op, om, g, maps.dataflow).astype(np.float64)
    glb_cycles = (_sum3(reads[:, 1]) + _sum3(writes[:, 1])) / glb.bandwidth_bytes_per_cycle
    rf_port = register_port_bytes(reads, writes, maps.dataflow)
    rf_cycles = rf_port / (rf.bandwidth_bytes_per_cycle * rf.instances)
    dram_bytes = _sum3(reads[:, 2]) + _sum3(writes[:, 2])
    dram_cycles = dram_bytes / dram.bandwidth_bytes_per_cycle
    on_chip = np.maximum(comp, np.maximum(glb_cycles, rf_cycles))
    tiles = g.nm.astype(np.float64) * g.nn * g.nk * op.batch
    no_overlap = on_chip + dram_cycles + tiles * dram.latency_cycles
    # the double-buffered pipeline (edgesim.cost.pipelining): the last tile (the last along m and n) writes its outputs
    overlap = three_level_cycles(on_chip, no_overlap, reads[:, 2], writes[:, 2, 2], tile_in,
                                 (g.rm * g.rn).astype(np.float64), g.nm, g.nn, g.nk, maps.order, tiles, om.c_bytes,
                                 dram.bandwidth_bytes_per_cycle, dram.latency_cycles)
    total = np.where(maps.double_buffer, overlap, no_overlap)

    e_read = np.array([lv.read_energy_pj_per_byte for lv in arch.levels])
    e_write = np.array([lv.write_energy_pj_per_byte for lv in arch.levels])
    level_pj = _sum3(reads) * e_read + _sum3(writes) * e_write
    macs = op.batch * op.m * op.n * op.k * om.k_kept
    mac_pj = np.full(len(maps), macs * om.mac_energy_pj)
    util = macs / (total * arch.pe_array.pes * om.pack)
    return CostArrays(feasible=feasible, glb_need_bytes=need, compute_cycles=comp, glb_cycles=glb_cycles,
                      rf_cycles=rf_cycles, rf_port_bytes=rf_port, dram_cycles=dram_cycles,
                      latency_overlap_cycles=overlap,
                      latency_no_overlap_cycles=no_overlap, total_cycles=total, read_bytes=reads,
                      write_bytes=writes, level_energy_pj=level_pj, mac_energy_pj=mac_pj,
                      energy_pj=_sum3(level_pj) + mac_pj, effective_macs=macs, utilization=util,
                      rf_infeasible=rf_reason, b_format=om.b_format)


def evaluate_one(arch: ArchSpec, op: Gemm, mapping: Mapping) -> GemmCost | Infeasible:
    """Cost of one mapping, or why it cannot run (plain-Python path, identical to `evaluate`)."""
    out = evaluate_scalar(arch, op, mapping)
    if isinstance(out, Infeasible):
        return out
    s, reads, writes, b_format = out
    return GemmCost(op=op, mapping=mapping, b_format=b_format, macs=op.macs,
                    effective_macs=s["effective_macs"], compute_cycles=s["compute_cycles"], glb_cycles=s["glb_cycles"],
                    rf_cycles=s["rf_cycles"], rf_port_bytes=s["rf_port_bytes"], dram_cycles=s["dram_cycles"],
                    latency_overlap_cycles=s["latency_overlap_cycles"],
                    latency_no_overlap_cycles=s["latency_no_overlap_cycles"], total_cycles=s["total_cycles"],
                    read_bytes=reads, write_bytes=writes,
                    level_energy_pj={lv: s[f"{lv}_energy_pj"] for lv in LEVELS}, mac_energy_pj=s["mac_energy_pj"],
                    energy_pj=s["energy_pj"], dram_bytes=s["dram_bytes"], utilization=s["utilization"])
