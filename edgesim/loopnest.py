"""Loop-nest mappings: a GEMM's loops unrolled over the array's axes, tiled over every memory level, with a
loop order per level (Timeloop's and ZigZag's mapping, in GEMM dims m, n, k).

A `LoopNest` fixes
- `spatial`: per array axis (the hierarchy's order), the GEMM dims unrolled on it and by how much, e.g.
  `(("n", 8),), (("k", 8),), (("m", 4),), (("m", 4),)` for ZigZag's edge_tpu_like; an axis may unroll several
  dims (`(("k", 4), ("n", 2))`), as long as the product of its factors fits the axis;
- `temporal`: the temporal loops, innermost first, as (dim, factor); the order of the loops is the loop order at
  every level at once;
- `bounds`: per memory (the hierarchy's order) and operand (A, B, C), how many of the innermost temporal loops
  sit inside that memory's tile of the operand: the memory holds the data those loops and the spatial unrolling
  over the axes it serves touch. Bounds grow outwards along each operand's memories; DRAM holds all loops.
  Entries of memories that do not hold the operand are ignored. This is ZigZag's per-operand memory allocation
  and Timeloop's per-level tiling in one form;
- `double_buffer`: the memories just below DRAM hold two tiles, so DRAM transfers overlap compute.

Per dim, the product of its spatial and temporal factors must cover the dim; when it exceeds it the nest is
padded (as ZigZag and Timeloop do): the padded iterations are computed and their data moved.

`NestSet` holds many candidate nests with the same number of temporal loop slots as arrays (unused slots have
factor 1), the form `edgesim.cost.nest.evaluate_nests` scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DIMS = "mnk"
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopNest:
    spatial: tuple[tuple[tuple[str, int], ...], ...]
    temporal: tuple[tuple[str, int], ...]
    bounds: tuple[tuple[int, int, int], ...]
    double_buffer: bool = True

    def __post_init__(self) -> None:
        for d, f in (*(x for axis in self.spatial for x in axis), *self.temporal):
            if d not in DIMS or f < 1:
                raise ValueError(f"a loop is (dim in 'mnk', factor >= 1), got ({d!r}, {f})")
        for row in self.bounds:
            if len(row) != 3 or any(not 0 <= b <= len(self.temporal) for b in row):
                raise ValueError(f"bounds are (A, B, C) loop counts in 0..{len(self.temporal)}, got {row}")

    def factor(self, dim: str) -> int:
        """The product of every spatial and temporal factor of `dim`: the (padded) extent the nest covers."""
        out = 1
        for d, f in (*(x for axis in self.spatial for x in axis), *self.temporal):
            if d == dim:
                out *= f
        return out

    def describe(self) -> str:
        sp = " ".join("[" + "".join(f"{d}{f}" for d, f in axis) + "]" for axis in self.spatial)
        tl = " ".join(f"{d}{f}" for d, f in reversed(self.temporal))
        db = "db" if self.double_buffer else "sb"
        return f"spatial {sp} temporal(outer->inner) {tl or '-'} {db}"


@dataclass(frozen=True, slots=True)
class NestSet:
    """Candidate nests as arrays: sp (n, axes, 3) spatial factor of m, n, k per axis; tdim, tfac (n, L) temporal loop
    dims and factors, innermost first; bound (n, memories, 3) loops inside each memory's tile of A, B, C; db (n,)."""

    sp: IntArray
    tdim: IntArray
    tfac: IntArray
    bound: IntArray
    db: BoolArray

    def __len__(self) -> int:
        return int(self.tdim.shape[0])

    @staticmethod
    def of(nests: list[LoopNest], slots: int | None = None) -> NestSet:
        """Nests as arrays; `slots` temporal loop slots (default: the longest nest's loop count)."""
        L = max([len(n.temporal) for n in nests] + [slots or 0])
        X = len(nests[0].spatial)
        J = len(nests[0].bounds)
        sp = np.ones((len(nests), X, 3), dtype=np.int64)
        tdim = np.zeros((len(nests), L), dtype=np.int64)
        tfac = np.ones((len(nests), L), dtype=np.int64)
        bound = np.zeros((len(nests), J, 3), dtype=np.int64)
        for i, n in enumerate(nests):
            if len(n.spatial) != X or len(n.bounds) != J:
                raise ValueError("every nest of a set must have the same axes and memories")
            for x, axis in enumerate(n.spatial):
                for d, f in axis:
                    sp[i, x, DIMS.index(d)] *= f
            for s, (d, f) in enumerate(n.temporal):
                tdim[i, s], tfac[i, s] = DIMS.index(d), f
            # a bound counted in the nest's own loops; padding slots (factor 1) are appended outermost, so a bound
            # that held every loop of the nest still does
            for j, row in enumerate(n.bounds):
                bound[i, j] = [L if b == len(n.temporal) else b for b in row]
        return NestSet(sp, tdim, tfac, bound, np.array([n.double_buffer for n in nests], dtype=bool))

    def nest(self, i: int, axes: int | None = None) -> LoopNest:
        """Candidate i as a LoopNest (unit loops dropped, bounds renumbered)."""
        keep = [s for s in range(self.tdim.shape[1]) if self.tfac[i, s] > 1]
        renum = {b: sum(1 for s in keep if s < b) for b in range(self.tdim.shape[1] + 1)}
        spatial = tuple(tuple((DIMS[d], int(self.sp[i, x, d])) for d in range(3) if self.sp[i, x, d] > 1)
                        for x in range(axes if axes is not None else self.sp.shape[1]))
        temporal = tuple((DIMS[int(self.tdim[i, s])], int(self.tfac[i, s])) for s in keep)
        bounds = tuple((renum[int(r[0])], renum[int(r[1])], renum[int(r[2])]) for r in self.bound[i])
        return LoopNest(spatial=spatial, temporal=temporal, bounds=bounds, double_buffer=bool(self.db[i]))
