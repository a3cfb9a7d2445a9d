"""The loop-nest mapspace of one GEMM on a `Hierarchy`: what the loop-nest searchers (`edgesim.nestsearch`) explore.

A point fixes
- the spatial unrolling (one of `spatials`; `default_spatials` gives every assignment of one GEMM dim per array
  axis, each unrolled as far as the axis and the dim allow, that the memories can hold, e.g. on ZigZag's
  edge_tpu_like only M on D3 and D4, since its 1-byte weight register is shared over them);
- the temporal loops: per dim, its temporal extent ceil(size / spatial factor) split into its prime factors, the
  two smallest merged until at most `loops_per_dim` remain (LOMA also orders prime-factor loops);
- their order: any permutation of those loops (the order at every memory level at once);
- the allocation, as LOMA does it: memories are filled innermost first, each given the largest tile of its operands
  that fits (an operand's bound never below its inner memory's), jointly for a memory several operands share; a
  `half` flag per point fills only half of every memory just below DRAM, so that it can double-buffer.

The space is the product of spatial choices and orderings (times the flag): for 512 x 4096 x 4096 on ZigZag's
edge_tpu_like with its unrolling, 12 loops (M 32 -> 4 2 2 2; N 512 and K 512 -> 8 4 4 4) have 12! / (3!)^3 =
2,217,600 distinct orders. CP-SAT (`edgesim.nestsearch.cpsat`) searches a larger space still: every allocation, not
the greedy one (107,653 per order of those 12 loops). A point is encoded as random keys (one float per loop; the
order is their argsort), the form random search and the genetic algorithm share.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgesim.cost.nest import REL
from edgesim.hierarchy import OPERANDS, Hierarchy, MemoryKind
from edgesim.loopnest import DIMS, NestSet
from edgesim.mapspace import prime_factors
from edgesim.operands import OperandModel
from edgesim.ops import Gemm

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Spatial = tuple[tuple[tuple[str, int], ...], ...]


def split_loops(extent: int, limit: int) -> list[int]:
    """`extent`'s prime factors, descending, the two smallest merged until at most `limit` remain."""
    f = sorted((p for p, e in prime_factors(extent) for _ in range(e)), reverse=True)
    while len(f) > limit:
        a, b = f.pop(), f.pop()
        f.append(a * b)
        f.sort(reverse=True)
    return f


def fits_spatially(h: Hierarchy, om: OperandModel, op: Gemm, spatial: Spatial) -> bool:
    """Whether every memory holds the tiles the unrolling alone puts in one instance (no temporal loop inside): e.g.
    edge_tpu_like's 1-byte weight register, shared over D3 and D4, fits only if D3 and D4 unroll dims B does not use."""
    b_stored = om.b_stored_bytes / (op.k * op.n)
    for j, m in enumerate(h.memories[:-1]):
        need = 0.0
        for name in m.operands:
            t = OPERANDS.index(name)
            elems = 1
            for axis, unroll in zip(h.axes, spatial, strict=True):
                if axis.name in m.served_axes:
                    elems *= math.prod(f for d, f in unroll if REL[t][DIMS.index(d)])
            width = ((om.b_bytes if h.chain("B")[0] == j else b_stored) if t == 1
                     else om.a_bytes if t == 0 else om.psum_bytes)
            need += elems * width
        if need > m.capacity_bytes:
            return False
    return True


def default_spatials(h: Hierarchy, op: Gemm, om: OperandModel | None = None) -> list[Spatial]:
    """Every assignment of one dim per axis, each unrolled by min(axis, what is left of the dim), best utilisation
    first; with `om`, only those whose unrolling fits every memory (`fits_spatially`)."""
    size = {"m": op.m, "n": op.n, "k": op.k}
    out: dict[Spatial, float] = {}
    for dims in itertools.product(DIMS, repeat=len(h.axes)):
        left = dict(size)
        sp = []
        for axis, d in zip(h.axes, dims, strict=True):
            f = min(axis.size, left[d])
            left[d] = -(-left[d] // f)
            sp.append(((d, f),) if f > 1 else ())
        spatial: Spatial = tuple(sp)
        if om is not None and not fits_spatially(h, om, op, spatial):
            continue
        used = math.prod(f for axis in spatial for _, f in axis)
        out[spatial] = used / h.pes
    return sorted(out, key=lambda s: -out[s])


@dataclass(frozen=True, slots=True)
class NestSpace:
    hierarchy: Hierarchy
    op: Gemm
    om: OperandModel
    spatials: tuple[Spatial, ...]
    loops_per_dim: int = 4

    def loops(self, s: int) -> list[tuple[int, int]]:
        """Spatial choice s's temporal loops: (dim index, factor)."""
        size = (self.op.m, self.op.n, self.op.k)
        out = []
        for d in range(3):
            unrolled = math.prod(f for axis in self.spatials[s] for dd, f in axis if dd == DIMS[d])
            out += [(d, f) for f in split_loops(-(-size[d] // unrolled), self.loops_per_dim)]
        return out

    @property
    def slots(self) -> int:
        return max(len(self.loops(s)) for s in range(len(self.spatials)))

    def orders(self, s: int) -> int:
        """Distinct orders of spatial choice s's loops (identical loops are interchangeable)."""
        loops = self.loops(s)
        out = math.factorial(len(loops))
        for c in {x: loops.count(x) for x in loops}.values():
            out //= math.factorial(c)
        return out

    @property
    def size(self) -> int:
        """Points in the space (orders of every spatial choice, with and without the double-buffering flag)."""
        return 2 * sum(self.orders(s) for s in range(len(self.spatials)))

    def decode(self, spatial: IntArray, keys: FloatArray, half: npt.NDArray[np.bool_]) -> NestSet:
        """Points as a NestSet: spatial choice per point, random keys (n, slots) ordering its loops (ascending key =
        innermost), and the double-buffering flag; allocation as in the module docstring."""
        n, L = keys.shape
        h = self.hierarchy
        X = len(h.axes)
        sp = np.ones((n, X, 3), dtype=np.int64)
        tdim = np.zeros((n, L), dtype=np.int64)
        tfac = np.ones((n, L), dtype=np.int64)
        for s in np.unique(spatial):
            rows = np.flatnonzero(spatial == s)
            for x, axis in enumerate(self.spatials[int(s)]):
                for d, f in axis:
                    sp[rows, x, DIMS.index(d)] *= f
            loops = self.loops(int(s))
            ld = np.array([d for d, _ in loops] + [0] * (L - len(loops)), dtype=np.int64)
            lf = np.array([f for _, f in loops] + [1] * (L - len(loops)), dtype=np.int64)
            k = keys[rows].copy()
            k[:, len(loops):] = 2.0  # padding slots outermost (factor 1)
            order = np.argsort(k, axis=1, kind="stable")
            tdim[rows], tfac[rows] = ld[order], lf[order]
        bound = self.allocate(sp, tdim, tfac, half)
        return NestSet(sp=sp, tdim=tdim, tfac=tfac, bound=bound, db=np.ones(n, dtype=bool))

    def allocate(self, sp: IntArray, tdim: IntArray, tfac: IntArray, half: npt.NDArray[np.bool_]) -> IntArray:
        """LOMA-style greedy bounds (n, memories, 3): innermost memory first, the largest tiles that fit."""
        h, om, op = self.hierarchy, self.om, self.op
        n, L = tdim.shape
        J = len(h.memories)
        served = np.array([[a.name in m.served_axes for a in h.axes] for m in h.memories])
        bound = np.zeros((n, J, 3), dtype=np.int64)
        bound[:, J - 1, :] = L
        floor = np.zeros((n, 3), dtype=np.int64)  # each operand's bound at its previous memory
        b_stored = om.b_stored_bytes / (op.k * op.n)
        pos = np.arange(L + 1)
        for j, m in enumerate(h.memories[:-1]):
            held = [OPERANDS.index(t) for t in m.operands]
            below_dram = [t for t in held if h.chain(OPERANDS[t])[-2] == j]
            cap = np.where(half, 0.5, 1.0) * m.capacity_bytes if below_dram else np.full(n, m.capacity_bytes)
            tile_bytes = {}
            for t in held:
                rel = REL[t]
                relf = np.where(rel[tdim], tfac, 1)
                pre = np.concatenate([np.ones((n, 1), dtype=np.int64), np.cumprod(relf, axis=1)], axis=1)
                spatial = np.prod(np.where(served[j][None, :, None] & rel[None, None, :], sp, 1), axis=(1, 2))
                b_width = om.b_bytes if h.chain("B")[0] == j else b_stored
                width = b_width if t == 1 else om.a_bytes if t == 0 else om.psum_bytes
                tile_bytes[t] = pre * spatial[:, None] * width  # (n, L+1)
            # one common bound for all held operands (at least each one's floor), then each extended alone
            lo = np.max(floor[:, held], axis=1)
            total = sum(tile_bytes[t] for t in held)
            ok = (total <= cap[:, None]) & (pos[None, :] >= lo[:, None])
            common = np.where(ok.any(axis=1), L - np.argmax(ok[:, ::-1], axis=1), lo)
            for t in held:
                bound[:, j, t] = np.maximum(common, floor[:, t])
            for t in held:
                others = sum(tile_bytes[u][np.arange(n), bound[:, j, u]] for u in held if u != t)
                fit = (tile_bytes[t] + (others[:, None] if isinstance(others, np.ndarray) else others)
                       <= cap[:, None]) & (pos[None, :] >= bound[:, j, [t]])
                bound[:, j, t] = np.where(fit.any(axis=1), L - np.argmax(fit[:, ::-1], axis=1), bound[:, j, t])
            if m.kind != MemoryKind.DRAM:
                for t in held:
                    floor[:, t] = bound[:, j, t]
        return bound

    def sample(self, rng: np.random.Generator, count: int) -> tuple[IntArray, FloatArray, npt.NDArray[np.bool_]]:
        """`count` points drawn uniformly: spatial choice, keys and flag."""
        return (rng.integers(0, len(self.spatials), size=count), rng.random((count, self.slots)),
                rng.random(count) < 0.5)
