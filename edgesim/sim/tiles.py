"""The tile sequence of a mapped GEMM: what each DRAM-loop iteration loads, computes and writes back.

The loop nest is batch (outermost, indexes every tensor) then the mapping's DRAM order. A tile's
attributes depend only on whether it is the first, a middle or the last iteration of each loop:
sizes (the last tile along a dim is the remainder), which tensors change (the deepest loop that
advanced, plus the loops below it that wrapped), whether C's partial sums must come back
(k index > 0) and whether C leaves after this tile (as final outputs when k is at its last index,
as partial sums otherwise). So the whole sequence is a small tree of at most 3^4 distinct tiles,
nested in runs of identical tiles: `Seq((child, repetitions), ...)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

from edgesim.arch import ArchSpec
from edgesim.mapping import Dataflow, Mapping
from edgesim.operands import OperandModel, operand_model
from edgesim.ops import Gemm

TENSOR_DIMS = {"A": "mk", "B": "kn", "C": "mn"}


@dataclass(frozen=True, slots=True)
class Tile:
    """One DRAM-loop iteration. Bytes and cycles."""

    load_parts: tuple[float, float, float]  # DRAM -> buffer before compute, per operand: A, B, C partial sums
    writeback_bytes: float  # buffer -> DRAM after compute, when C leaves (partial or final)
    compute_cycles: float  # array cycles of this tile's folds, fill/drain included
    buffer_bytes: float  # global-buffer traffic of this tile (array reads, accumulation, fills, write-backs)
    register_port_bytes: float  # register bytes of this tile through the PE register-file port (all PEs)
    macs: float  # dense MACs of this tile

    @property
    def load_bytes(self) -> float:
        return sum(self.load_parts)


@dataclass(frozen=True, slots=True)
class Seq:
    """Children in order, each repeated `reps` times."""

    items: tuple[tuple[Node, int], ...]


Node = Union[Tile, Seq]  # noqa: UP007 - a runtime alias used in isinstance checks


@dataclass(frozen=True, slots=True)
class Level:
    dim: str  # "b", "m", "n" or "k"
    trips: int
    full: int  # tile size along dim (1 for batch)
    last: int  # last tile's size


def loop_levels(op: Gemm, mp: Mapping) -> list[Level]:
    """Batch, then the DRAM loops outermost first."""
    levels = [Level("b", op.batch, 1, 1)]
    for d in mp.dram_order:
        dim, tile = {"m": (op.m, mp.tile_m), "n": (op.n, mp.tile_n), "k": (op.k, mp.tile_k)}[d]
        t = min(tile, dim)
        n = -(-dim // t)
        levels.append(Level(d, n, t, dim - (n - 1) * t))
    return levels


def _indexes(level: Level, tensor: str) -> bool:
    return level.dim == "b" or level.dim in TENSOR_DIMS[tensor]


def tile_attributes(arch: ArchSpec, op: Gemm, om: OperandModel, mp: Mapping, levels: list[Level],
                    first: tuple[bool, ...], last: tuple[bool, ...]) -> Tile:
    """The tile at a position given, per level, whether its index is the first and/or the last."""
    size = {lv.dim: (lv.last if is_last else lv.full) for lv, is_last in zip(levels, last, strict=True)}
    sm, sn, sk = size["m"], size["n"], size["k"]
    k_at = next(i for i, lv in enumerate(levels) if lv.dim == "k")
    k_first, k_last = first[k_at], last[k_at]

    changed_now = _changed(levels, first)  # loops whose index differs from the previous tile
    changed_next = _changed(levels, last)  # loops whose index differs at the next tile
    b_el = om.b_stored_bytes / (op.k * op.n)
    tile_bytes = {"A": sm * sk * om.a_bytes, "B": sk * sn * b_el, "C": sm * sn * om.psum_bytes}
    reload = {t: any(c and _indexes(lv, t) for lv, c in zip(levels, changed_now, strict=True)) for t in "ABC"}
    parts = (tile_bytes["A"] * reload["A"], tile_bytes["B"] * reload["B"],
             tile_bytes["C"] if reload["C"] and not k_first else 0.0)
    load = sum(parts)
    leaves = any(c and _indexes(lv, "C") for lv, c in zip(levels, changed_next, strict=True))
    writeback = sm * sn * (om.c_bytes if k_last else om.psum_bytes) if leaves else 0.0

    R, C = arch.pe_array.rows, arch.pe_array.cols
    ke = max(1, -(-math.ceil(sk * om.k_kept - 1e-9) // om.pack))
    if mp.dataflow == Dataflow.OS:
        rows, cols, time, overhead, acc_steps = sm, sn, ke, R + C - 2, 1
        a_reps, b_reps = -(-sn // C), -(-sm // R)
    elif mp.dataflow == Dataflow.WS:
        rows, cols, time, overhead, acc_steps = ke, sn, sm, 2 * R + C - 2, -(-ke // R)
        a_reps, b_reps = -(-sn // C), 1
    else:
        rows, cols, time, overhead, acc_steps = ke, sm, sn, 2 * R + C - 2, -(-ke // R)
        a_reps, b_reps = 1, -(-sm // C)
    compute = -(-rows // R) * -(-cols // C) * (overhead + om.stretch * time)
    psum = sm * sn * om.psum_bytes
    buffer = (tile_bytes["A"] * a_reps + tile_bytes["B"] * b_reps + psum * acc_steps
              + psum * (acc_steps - (1 if k_first else 0)) + load + writeback)
    macs = sm * sn * sk * om.k_kept
    # the register-file port carries the stationary input operand only, read once per MAC and written once per
    # load (edgesim.cost.access): B in ws, A in is; os's operands flow through pipeline registers into accumulators
    if mp.dataflow == Dataflow.WS:
        port = macs * om.b_bytes + tile_bytes["B"] * b_reps
    elif mp.dataflow == Dataflow.IS:
        port = macs * om.a_bytes + tile_bytes["A"] * a_reps
    else:
        port = 0.0
    return Tile(load_parts=parts, writeback_bytes=writeback, compute_cycles=float(compute),
                buffer_bytes=buffer, register_port_bytes=port, macs=float(sm * sn * sk))


def _changed(levels: list[Level], at_edge: tuple[bool, ...]) -> list[bool]:
    """Which loops change index between this tile and its neighbour.

    `at_edge[i]` is "index is first" (looking back) or "index is last" (looking forward). The deepest
    loop not at its edge advances; every deeper loop wraps, which changes it only if it has > 1 trip.
    With every loop at its edge (the very first or last tile), everything changes.
    """
    deepest = max((i for i, e in enumerate(at_edge) if not e), default=-1)
    if deepest < 0:
        return [True] * len(levels)
    return [i == deepest or (i > deepest and lv.trips > 1) for i, lv in enumerate(levels)]


def _classes(trips: int) -> list[tuple[bool, bool, int]]:
    """(is_first, is_last, repetitions) runs of one loop: first, middle x (n-2), last."""
    if trips == 1:
        return [(True, True, 1)]
    runs = [(True, False, 1)]
    if trips > 2:
        runs.append((False, False, trips - 2))
    runs.append((False, True, 1))
    return runs


def tile_tree(arch: ArchSpec, op: Gemm, mp: Mapping) -> Seq:
    """The whole tile sequence as nested runs of identical tiles."""
    om = operand_model(arch, op)
    levels = loop_levels(op, mp)
    cache: dict[tuple[tuple[bool, ...], tuple[bool, ...]], Tile] = {}

    def build(depth: int, first: tuple[bool, ...], last: tuple[bool, ...]) -> Seq:
        items: list[tuple[Node, int]] = []
        for is_first, is_last, reps in _classes(levels[depth].trips):
            f, lst = (*first, is_first), (*last, is_last)
            if depth == len(levels) - 1:
                if (f, lst) not in cache:
                    cache[(f, lst)] = tile_attributes(arch, op, om, mp, levels, f, lst)
                items.append((cache[(f, lst)], reps))
            else:
                items.append((build(depth + 1, f, lst), reps))
        return Seq(tuple(items))

    return build(0, (), ())
