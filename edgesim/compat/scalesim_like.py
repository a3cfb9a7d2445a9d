"""A SCALE-Sim-like memory configuration for the tile pipeline simulator.

Units: words = bytes (SCALE-Sim's word is one byte), cycles, SRAM sizes in SCALE-Sim's "kB" (1024 bytes).

SCALE-Sim v3 with a user DRAM bandwidth (docs/scalesim-comparison.md) gives each operand (ifmap = A,
filter = B, ofmap = C) its own DRAM port of `bandwidth` words/cycle and its own double-buffered SRAM,
split 50/50 into an active and a prefetch half. Reads go through a window of half a buffer that slides
forward over a fixed fetch sequence of the operand, half a buffer per slide, each slide costing
ceil(half/bandwidth) cycles plus one of latency; outputs drain half a buffer at a time. The array
plays folds with column folds outer and row folds inner; in ws and is every K fold writes its whole
partial output tile to DRAM, and partial sums are never read back.

What `scalesim_like` builds, and why:
- per-operand DRAM channels (`per_operand=True`) of `bandwidth` bytes/cycle, read latency 1 cycle;
- 8-bit dense operands, outputs and partial sums (`accumulator_bits=8`), one MAC per PE per cycle:
  SCALE-Sim counts one-byte words and models neither precision nor sparsity;
- unlimited global-buffer and register bandwidth: SCALE-Sim models no port limits;
- one tile = one SCALE-Sim fold (a full array extent along the two spatial dims, the whole time dim),
  so each tile's compute is SCALE-Sim's fold time, and tiles in SCALE-Sim's fold order:
    os: tile (R, C, K), n outer, m inner: A re-read every column fold, B's K x C block kept across
        row folds, C written once, as final outputs (SCALE-Sim's traffic when its window never wraps
        and the block fits the filter SRAM's active half; if it does not, SCALE-Sim re-reads it every
        row fold, which edgesim could follow only by splitting K, changing the fold time);
    ws: tile (M, C, R), n outer, k inner: A re-read every column fold, B read once;
    is: tile (C, N, R), m outer, k inner: A read once, B re-read every column fold.
- ws and is: edgesim re-reads a tensor, or spills it, only when a loop that indexes it changes, so with
  the time dim whole it cannot both re-read the inputs every column fold and spill C every K fold:
  k innermost keeps C on chip across K folds; k outermost spills C every K fold (and, unlike SCALE-Sim,
  reads the partial sums back) but reads each input once. `spill_partial_sums=None` picks the order
  whose per-operand DRAM traffic is closer to SCALE-Sim's: k outermost when SCALE-Sim keeps the
  re-read operand whole in its SRAM's active half (it is then fetched once, before cycle 0), SCALE-Sim's
  fold order otherwise. In os a resident A widens the tile to all of M, so A is loaded once.

Not mimicked, by design (see the docs): edgesim reads spilled partial sums back; a tile's data must all
arrive before its fold starts (SCALE-Sim streams within a fold); double buffering bounds prefetch to
one tile ahead (SCALE-Sim's prefetch stream never waits for buffer space); SCALE-Sim's sliding window
goes round the whole operand again when a demand falls behind the window; SCALE-Sim fills the first
half-buffers before cycle 0 and counts each positive read stall twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from edgesim.arch import ArchSpec, PrecisionMode, SparsityMode
from edgesim.mapping import Dataflow, Mapping
from edgesim.ops import Gemm, WeightFormat
from edgesim.sim.pipeline import SimResult, simulate
from edgesim.sim.tiles import Node, Tile, tile_tree

WORD_BITS = 8  # SCALE-Sim's word is one byte
READ_LATENCY_CYCLES = 1  # SCALE-Sim's read port without Ramulator traces
KB = 1024  # SCALE-Sim's "kB" SRAM sizes are multiplied by 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleSimLike:
    """An edgesim configuration that mimics SCALE-Sim's memory system for one GEMM."""

    arch: ArchSpec
    op: Gemm
    mapping: Mapping
    per_operand: bool = True
    resident: bool = False  # SCALE-Sim keeps the re-read operand (A in os/ws, B in is) whole on chip
    spills: bool = False  # partial sums leave every K fold (ws, is)

    def simulate(self, *, max_events: int = 2000) -> SimResult:
        return simulate(self.arch, self.op, self.mapping, max_events=max_events, per_operand=self.per_operand)

    def dram_traffic(self) -> dict[str, float]:
        """DRAM bytes per operand: A, B, C_read (partial sums read back), C_write; C's channel carries both."""
        return dram_traffic(tile_tree(self.arch, self.op, self.mapping))


def active_half_words(sram_kb: float) -> int:
    """Words in the active half of a SCALE-Sim SRAM of `sram_kb` kB (active fraction 0.5, rounded up)."""
    return math.ceil(math.floor(sram_kb * KB * 8 / WORD_BITS) * 0.5)


def scalesim_like(base: ArchSpec, op: Gemm, dataflow: Dataflow | str, *, bandwidth: float,
                  ifmap_sram_kb: float, filter_sram_kb: float, ofmap_sram_kb: float,
                  spill_partial_sums: bool | None = None) -> ScaleSimLike:
    """The edgesim (arch, op, mapping, per-operand) setting closest to SCALE-Sim's memory model.

    `base` is an accelerator (only its array shape is kept) or (rows, cols); `bandwidth` is SCALE-Sim's
    per-operand DRAM bandwidth in words (bytes) per cycle. `spill_partial_sums` (ws, is) forces the
    loop order: True spills every K fold (k outer), False keeps SCALE-Sim's fold order; None picks
    the one whose per-operand traffic is closer to SCALE-Sim's: spills iff the re-read operand is resident.
    """
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    df = Dataflow(dataflow)
    arch = _arch(base, bandwidth, (ifmap_sram_kb + filter_sram_kb + ofmap_sram_kb) * KB)
    words = replace(op, a_bits=WORD_BITS, b_bits=WORD_BITS, c_bits=WORD_BITS, weight_density=1.0,
                    weight_format=WeightFormat.DENSE, nm=None)
    resident = restreamed_words(words, df) <= active_half_words(filter_sram_kb if df == Dataflow.IS else ifmap_sram_kb)
    spills = df != Dataflow.OS and (resident if spill_partial_sums is None else spill_partial_sums)
    mapping = fold_mapping(words, df, arch.pe_array.rows, arch.pe_array.cols, resident=resident, spills=spills)
    return ScaleSimLike(arch=arch, op=words, mapping=mapping, resident=resident, spills=spills)


def restreamed_words(op: Gemm, dataflow: Dataflow) -> int:
    """Size of the operand SCALE-Sim's fold order reads again every column fold: A (os, ws) or B (is)."""
    return op.k * op.n if dataflow == Dataflow.IS else op.m * op.k


def fold_mapping(op: Gemm, dataflow: Dataflow, rows: int, cols: int, *, resident: bool = False,
                 spills: bool = False) -> Mapping:
    """One tile per SCALE-Sim fold, in SCALE-Sim's fold order (column folds outer, row folds inner).

    os: `resident` widens the tile to all of M, so A is loaded once. ws, is: `spills` puts the K folds
    outermost, so the output tile changes every tile and partial sums leave every K fold (and the
    re-read operand is then loaded once: edgesim cannot re-read A per column fold and spill C per K fold).
    """
    if dataflow == Dataflow.OS:  # rows: M, cols: N, time: K
        return Mapping(dataflow=dataflow, tile_m=op.m if resident else rows, tile_n=cols, tile_k=op.k,
                       dram_order="nmk")
    if dataflow == Dataflow.WS:  # rows: K, cols: N, time: M
        return Mapping(dataflow=dataflow, tile_m=op.m, tile_n=cols, tile_k=rows, dram_order="mkn" if spills else "mnk")
    # is: rows: K, cols: M, time: N
    return Mapping(dataflow=dataflow, tile_m=cols, tile_n=op.n, tile_k=rows, dram_order="nkm" if spills else "nmk")


def dram_traffic(tree: Node) -> dict[str, float]:
    """DRAM bytes of a tile tree: A and B loads, C partial sums read back, C written (partial and final)."""
    if isinstance(tree, Tile):
        a, b, c = tree.load_parts
        return {"A": a, "B": b, "C_read": c, "C_write": tree.writeback_bytes}
    total = dict.fromkeys(("A", "B", "C_read", "C_write"), 0.0)
    for child, reps in tree.items:
        for key, value in dram_traffic(child).items():
            total[key] += value * reps
    return total


def _arch(base: ArchSpec, bandwidth: float, buffer_bytes: float) -> ArchSpec:
    mac = replace(base.mac, native_bits=WORD_BITS, min_bits=WORD_BITS, precision_mode=PrecisionMode.FIXED,
                  accumulator_bits=WORD_BITS)
    return replace(
        base, name=f"{base.name}-scalesim-like", mac=mac,
        sparsity=replace(base.sparsity, mode=SparsityMode.NONE),
        registers=replace(base.registers, bandwidth_bytes_per_cycle=math.inf),
        global_buffer=replace(base.global_buffer, capacity_bytes=buffer_bytes, bandwidth_bytes_per_cycle=math.inf),
        dram=replace(base.dram, bandwidth_bytes_per_cycle=float(bandwidth), latency_cycles=READ_LATENCY_CYCLES),
    )
