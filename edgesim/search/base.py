"""The scheduler interface: `Searcher.best(arch, op)` returns the chosen mapping with its exact cost.

Units: cycles and pJ in the cost, seconds of wall time for the search itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edgesim.arch import ArchSpec
from edgesim.cost.model import CostArrays, GemmCost, evaluate_one
from edgesim.errors import Infeasible
from edgesim.mapping import Mapping, MappingSet
from edgesim.ops import Gemm


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    mapping: Mapping
    cost: GemmCost
    searcher: str
    wall_seconds: float  # time of the search (for a cache hit: the original search)
    candidates: int  # mappings scored by the exact cost model (CP-SAT: re-scored solutions and baselines)
    cached: bool = False


class Searcher(Protocol):
    name: str

    def settings(self) -> dict[str, object]:
        """Everything that changes the answer (part of the schedule-cache key)."""
        ...

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        ...


@dataclass(slots=True)
class Incumbent:
    """The best candidate seen so far: fewest cycles, then least energy."""

    cycles: float = float("inf")
    energy: float = float("inf")
    mapping: Mapping | None = None
    rf_reason: str = ""
    min_need_bytes: float = float("inf")

    def offer(self, maps: MappingSet, ca: CostArrays) -> None:
        if ca.rf_infeasible:
            self.rf_reason = ca.rf_infeasible
            return
        if len(maps):
            self.min_need_bytes = min(self.min_need_bytes, float(ca.glb_need_bytes.min()))
        idx = np.flatnonzero(ca.feasible)
        if idx.size == 0:
            return
        i = int(idx[np.lexsort((ca.energy_pj[idx], ca.total_cycles[idx]))[0]])
        c, e = float(ca.total_cycles[i]), float(ca.energy_pj[i])
        if (c, e) < (self.cycles, self.energy):
            self.cycles, self.energy, self.mapping = c, e, maps.mapping(i)

    def result(self, arch: ArchSpec, op: Gemm, searcher: str, seconds: float, candidates: int) -> SearchResult | Infeasible:
        if self.mapping is None:
            if self.rf_reason:
                return Infeasible(self.rf_reason)
            return Infeasible(f"{op.name}: no mapping fits: the smallest candidate tile needs {self.min_need_bytes:,.0f} B "
                              f"but global_buffer holds {arch.global_buffer.capacity_bytes:,.0f} B")
        cost = evaluate_one(arch, op, self.mapping)
        if isinstance(cost, Infeasible):  # the scalar and vector paths agree; this guards the invariant
            return cost
        return SearchResult(mapping=self.mapping, cost=cost, searcher=searcher, wall_seconds=seconds, candidates=candidates)
