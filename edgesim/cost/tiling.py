"""Tile geometry of candidate mappings: DRAM trip counts, full and last tile sizes, array folds.

Imperfect factorization: along a dim of size D with tile t, there are ceil(D/t) tiles, all of size t
except the last, of size D - (n-1)·t. K is also given after zero skipping and precision packing
(`k_eff`), since that is what occupies the array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgesim.mapping import MappingSet
from edgesim.operands import OperandModel
from edgesim.ops import Gemm

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TileGeometry:
    """Per candidate: trips n*, full tile t*, last tile r* for m, n, k, and effective K tiles."""

    nm: IntArray
    tm: IntArray
    rm: IntArray
    nn: IntArray
    tn: IntArray
    rn: IntArray
    nk: IntArray
    tk: IntArray
    rk: IntArray
    ke: IntArray  # effective K of a full K tile
    rke: IntArray  # effective K of the last K tile


def split(dim: int, tile: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(trip count, full tile size, last tile size) along one dim, with tiles clipped to the dim."""
    t = np.minimum(tile, dim)
    n = -(-dim // t)
    return n, t, dim - (n - 1) * t


def k_effective(k: IntArray, om: OperandModel) -> IntArray:
    """K elements a tile occupies on the array: ceil(ceil(k·kept)/pack), at least 1."""
    kept = np.ceil(k * om.k_kept - 1e-9).astype(np.int64)
    out: IntArray = np.maximum(1, -(-kept // om.pack))
    return out


def tile_geometry(op: Gemm, om: OperandModel, maps: MappingSet) -> TileGeometry:
    nm, tm, rm = split(op.m, maps.tile_m)
    nn, tn, rn = split(op.n, maps.tile_n)
    nk, tk, rk = split(op.k, maps.tile_k)
    return TileGeometry(nm, tm, rm, nn, tn, rn, nk, tk, rk, k_effective(tk, om), k_effective(rk, om))


def fold_count(n_tiles: IntArray, full: IntArray, last: IntArray, extent: int) -> IntArray:
    """Folds of one dim over all its tiles: (n-1)·ceil(full/extent) + ceil(last/extent)."""
    out: IntArray = (n_tiles - 1) * (-(-full // extent)) + (-(-last // extent))
    return out
