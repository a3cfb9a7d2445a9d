"""The mapspace of one GEMM on one accelerator: every mapping a scheduler may choose.

Tile sizes are in elements of the dim (M, N or K); capacity is checked in bytes by the cost model.

Per dim of size D the tile candidates are
- every divisor of D (perfect factorization: the products of subsets of D's prime factors, the
  CoSA space), and
- imperfect, padding-free tiles that are multiples of an array extent E (the PE rows, the PE
  columns and, for K under Bit Fusion packing, rows·pack) and are not divisors of D:
  `pow2` (default) E·2^j < D, `aligned` every E·j < D, `none` no extra tiles.
  The last tile along the dim is then smaller (D − (ceil(D/t) − 1)·t); the cost model counts its work
  and traffic exactly, so no padding is ever moved or computed.
The imperfect tiles matter for dims with large prime factors (e.g. 4099 has divisors 1 and 4099 only;
11008 = 2^8·43): without them the only array-filling tile may be the whole dim.

Loop orders: all six DRAM loop orders; dataflows os, ws, is; double buffering on and off.

`Mapspace` enumerates this product as `MappingSet` chunks by flat index (for exhaustive and random
search) and keeps the per-dim description (prime factors, divisors, extra tiles) for the CP-SAT model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from edgesim.arch import ArchSpec
from edgesim.mapping import DATAFLOWS, LOOP_ORDERS, Dataflow, IntArray, MappingSet
from edgesim.operands import operand_model
from edgesim.ops import Gemm


class Imperfect(StrEnum):
    NONE = "none"  # divisors only
    POW2 = "pow2"  # divisors and E·2^j
    ALIGNED = "aligned"  # divisors and every multiple of E


@dataclass(frozen=True, slots=True, kw_only=True)
class MapspaceOptions:
    imperfect: Imperfect = Imperfect.POW2
    dataflows: tuple[Dataflow, ...] = DATAFLOWS
    double_buffer: tuple[bool, ...] = (True, False)

    def settings(self) -> dict[str, object]:
        return {"imperfect": str(self.imperfect), "dataflows": [str(d) for d in self.dataflows],
                "double_buffer": list(self.double_buffer)}


def prime_factors(n: int) -> tuple[tuple[int, int], ...]:
    """(prime, multiplicity) pairs of n, ascending; () for n = 1."""
    out: list[tuple[int, int]] = []
    p = 2
    while p * p <= n:
        e = 0
        while n % p == 0:
            n //= p
            e += 1
        if e:
            out.append((p, e))
        p += 1
    if n > 1:
        out.append((n, 1))
    return tuple(out)


def divisors(n: int) -> tuple[int, ...]:
    divs = [1]
    for p, e in prime_factors(n):
        divs = [d * p**i for d in divs for i in range(e + 1)]
    return tuple(sorted(divs))


def extra_tiles(size: int, extents: tuple[int, ...], mode: Imperfect) -> tuple[int, ...]:
    """Array-aligned tiles below `size` that do not divide it (imperfect factorization)."""
    out: set[int] = set()
    for e in extents:
        if mode == Imperfect.POW2:
            t = e
            while t < size:
                out.add(t)
                t *= 2
        elif mode == Imperfect.ALIGNED:
            out.update(range(e, size, e))
    return tuple(sorted(t for t in out if size % t))


@dataclass(frozen=True, slots=True)
class DimSpace:
    """Tile candidates of one dim: divisors (perfect) and extra array-aligned tiles (imperfect)."""

    name: str  # "m", "n" or "k"
    size: int
    primes: tuple[tuple[int, int], ...]
    divisors: tuple[int, ...]
    extras: tuple[int, ...]

    @property
    def tiles(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.divisors) | set(self.extras)))


@dataclass(frozen=True, slots=True)
class Mapspace:
    op: Gemm
    dims: tuple[DimSpace, DimSpace, DimSpace]
    dataflows: tuple[Dataflow, ...]
    double_buffer: tuple[bool, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        """Choices per field: dataflow, tile m, tile n, tile k, order, double buffer."""
        return (len(self.dataflows), *(len(d.tiles) for d in self.dims), len(LOOP_ORDERS), len(self.double_buffer))

    @property
    def size(self) -> int:
        return int(np.prod(np.array(self.shape, dtype=np.int64)))

    def at(self, flat: IntArray) -> MappingSet:
        """The candidates with these flat indices (C order over `shape`)."""
        idx = np.unravel_index(flat, self.shape)
        df = np.array([DATAFLOWS.index(d) for d in self.dataflows], dtype=np.int64)
        tiles = [np.array(d.tiles, dtype=np.int64) for d in self.dims]
        db = np.array(self.double_buffer, dtype=bool)
        return MappingSet(dataflow=df[idx[0]], tile_m=tiles[0][idx[1]], tile_n=tiles[1][idx[2]],
                          tile_k=tiles[2][idx[3]], order=idx[4].astype(np.int64), double_buffer=db[idx[5]])

    @property
    def tile_count(self) -> int:
        """Distinct (dataflow, tile m, tile n, tile k) choices: the candidates up to loop order and double buffering."""
        return int(np.prod(np.array(self.shape[:4], dtype=np.int64)))

    def tiles_at(self, tflat: IntArray) -> MappingSet:
        """The (dataflow, tile) choices with these flat indices (C order over shape[:4]), each with the first loop
        order and single buffering."""
        idx = np.unravel_index(tflat, self.shape[:4])
        df = np.array([DATAFLOWS.index(d) for d in self.dataflows], dtype=np.int64)
        tiles = [np.array(d.tiles, dtype=np.int64) for d in self.dims]
        zero = np.zeros(len(tflat), dtype=np.int64)
        return MappingSet(dataflow=df[idx[0]], tile_m=tiles[0][idx[1]], tile_n=tiles[1][idx[2]],
                          tile_k=tiles[2][idx[3]], order=zero, double_buffer=zero.astype(bool))

    def expand(self, tflat: IntArray) -> IntArray:
        """Flat candidate indices of every loop order and double-buffer choice of these (dataflow, tile) choices;
        ascending if `tflat` is."""
        inner = self.size // self.tile_count if self.tile_count else 0
        out: IntArray = (tflat[:, None] * inner + np.arange(inner, dtype=np.int64)).ravel()
        return out

    def chunks(self, chunk_size: int) -> Iterator[MappingSet]:
        """The whole mapspace, `chunk_size` candidates at a time (memory stays bounded)."""
        for start in range(0, self.size, chunk_size):
            yield self.at(np.arange(start, min(start + chunk_size, self.size), dtype=np.int64))

    def sample(self, rng: np.random.Generator, count: int) -> MappingSet:
        """`count` distinct candidates drawn uniformly (all of them if the space is smaller)."""
        if count >= self.size:
            return self.at(np.arange(self.size, dtype=np.int64))
        return self.at(np.sort(rng.choice(self.size, size=count, replace=False)).astype(np.int64))


def array_extents(arch: ArchSpec, op: Gemm) -> dict[str, tuple[int, ...]]:
    """Extents a dim can be unrolled over: rows or columns; K also rows·pack (Bit Fusion packs along K)."""
    r, c = arch.pe_array.rows, arch.pe_array.cols
    pack = operand_model(arch, op).pack
    k_ext = {r, c} | ({r * pack} if pack > 1 else set())
    return {"m": tuple(sorted({r, c})), "n": tuple(sorted({r, c})), "k": tuple(sorted(k_ext))}


def build_mapspace(arch: ArchSpec, op: Gemm, options: MapspaceOptions | None = None) -> Mapspace:
    opts = options or MapspaceOptions()
    ext = array_extents(arch, op)
    dims = tuple(DimSpace(name, size, prime_factors(size), divisors(size), extra_tiles(size, ext[name], opts.imperfect))
                 for name, size in (("m", op.m), ("n", op.n), ("k", op.k)))
    assert len(dims) == 3
    return Mapspace(op=op, dims=(dims[0], dims[1], dims[2]), dataflows=opts.dataflows, double_buffer=opts.double_buffer)
