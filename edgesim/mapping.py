"""Mappings: how a GEMM is tiled, ordered and unrolled on the accelerator.

A mapping fixes, for one op:
- the dataflow, i.e. the spatial unrolling on the PE array (SCALE-Sim's convention):
  os: M on rows, N on columns, K in time; ws: K on rows, N on columns, M in time;
  is: K on rows, M on columns, N in time;
- the global-buffer tile (tile_m, tile_n, tile_k): the data one DRAM loop iteration brings on chip;
- the DRAM-level loop order over those tiles, outermost first (e.g. "mnk");
- double buffering of the global buffer.

Per-level tiling factors follow: DRAM trips ceil(dim/tile), array folds ceil(tile/array extent),
and one element per PE in the registers. Non-divisible dims are handled by imperfect
factorization: the last tile along a dim is smaller, and its work and traffic are counted exactly.

`MappingSet` holds many candidate mappings as numpy arrays, the form the cost model evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import permutations

import numpy as np
import numpy.typing as npt


class Dataflow(StrEnum):
    OS = "os"
    WS = "ws"
    IS = "is"


DATAFLOWS: tuple[Dataflow, ...] = (Dataflow.OS, Dataflow.WS, Dataflow.IS)
LOOP_ORDERS: tuple[str, ...] = tuple("".join(p) for p in permutations("mnk"))  # outermost first

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mapping:
    dataflow: Dataflow
    tile_m: int
    tile_n: int
    tile_k: int
    dram_order: str = "mnk"
    double_buffer: bool = True

    def __post_init__(self) -> None:
        if self.dram_order not in LOOP_ORDERS:
            raise ValueError(f"dram_order must be a permutation of 'mnk', got {self.dram_order!r}")
        if min(self.tile_m, self.tile_n, self.tile_k) < 1:
            raise ValueError(f"tile sizes must be >= 1, got {(self.tile_m, self.tile_n, self.tile_k)}")

    def describe(self) -> str:
        db = "db" if self.double_buffer else "sb"
        return f"{self.dataflow} tile={self.tile_m}x{self.tile_n}x{self.tile_k} order={self.dram_order} {db}"


@dataclass(frozen=True, slots=True)
class MappingSet:
    """Candidate mappings as parallel arrays (one entry per candidate)."""

    dataflow: IntArray  # index into DATAFLOWS
    tile_m: IntArray
    tile_n: IntArray
    tile_k: IntArray
    order: IntArray  # index into LOOP_ORDERS
    double_buffer: BoolArray

    def __len__(self) -> int:
        return int(self.tile_m.shape[0])

    @staticmethod
    def of(mappings: list[Mapping]) -> MappingSet:
        return MappingSet(
            dataflow=np.array([DATAFLOWS.index(m.dataflow) for m in mappings], dtype=np.int64),
            tile_m=np.array([m.tile_m for m in mappings], dtype=np.int64),
            tile_n=np.array([m.tile_n for m in mappings], dtype=np.int64),
            tile_k=np.array([m.tile_k for m in mappings], dtype=np.int64),
            order=np.array([LOOP_ORDERS.index(m.dram_order) for m in mappings], dtype=np.int64),
            double_buffer=np.array([m.double_buffer for m in mappings], dtype=bool),
        )

    def select(self, idx: IntArray) -> MappingSet:
        """The candidates at these indices, in that order."""
        return MappingSet(self.dataflow[idx], self.tile_m[idx], self.tile_n[idx], self.tile_k[idx], self.order[idx],
                          self.double_buffer[idx])

    def mapping(self, i: int) -> Mapping:
        return Mapping(dataflow=DATAFLOWS[int(self.dataflow[i])], tile_m=int(self.tile_m[i]),
                       tile_n=int(self.tile_n[i]), tile_k=int(self.tile_k[i]),
                       dram_order=LOOP_ORDERS[int(self.order[i])], double_buffer=bool(self.double_buffer[i]))


def grid(dataflows: list[int], tiles_m: list[int], tiles_n: list[int], tiles_k: list[int],
         orders: list[int], double_buffer: list[bool]) -> MappingSet:
    """The Cartesian product of per-field choices, as a MappingSet."""
    mesh = np.meshgrid(np.array(dataflows), np.array(tiles_m), np.array(tiles_n), np.array(tiles_k),
                       np.array(orders), np.array(double_buffer, dtype=np.int64), indexing="ij")
    flat = [a.ravel().astype(np.int64) for a in mesh]
    return MappingSet(flat[0], flat[1], flat[2], flat[3], flat[4], flat[5].astype(bool))
