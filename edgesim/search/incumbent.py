"""The running answer of a search: the best candidate offered so far, under a latency band (cycles, pJ)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edgesim.arch import ArchSpec
from edgesim.cost.model import CostArrays, evaluate_one
from edgesim.errors import Infeasible
from edgesim.mapping import Mapping, MappingSet
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult

FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class Incumbent:
    """The answer of a search: among candidates within `tolerance` of the fewest cycles (and never slower
    than `cap`, the best fixed-dataflow baseline offered), the one with the least energy; on a tie in energy,
    fewer cycles, then the candidate offered first.

    With tolerance 0 this is fewest cycles, then least energy. A latency-only choice can trade 1% of
    cycles for several times the DRAM traffic; a tolerance band (e.g. 0.02) lets energy decide between
    near-equal schedules. The pool keeps every feasible candidate offered within the band of the fastest seen
    so far: the final band is never wider, so the answer is exact, whatever the order and grouping of offers.
    """

    cycles: float = float("inf")  # the fewest cycles seen
    energy: float = float("inf")  # the energy of that fastest candidate
    mapping: Mapping | None = None  # the fastest candidate
    rf_reason: str = ""
    min_need_bytes: float = float("inf")
    cap: float = float("inf")
    tolerance: float = 0.0
    pool: list[tuple[FloatArray, FloatArray, MappingSet]] = field(default_factory=list)  # cycles, pJ, candidates

    def offer(self, maps: MappingSet, ca: CostArrays, *, baseline: bool = False) -> None:
        if ca.rf_infeasible:
            self.rf_reason = ca.rf_infeasible
            return
        if len(maps):
            self.min_need_bytes = min(self.min_need_bytes, float(ca.glb_need_bytes.min()))
        idx = np.flatnonzero(ca.feasible)
        if idx.size == 0:
            return
        cyc, en = ca.total_cycles[idx], ca.energy_pj[idx]
        i = int(idx[np.lexsort((en, cyc))[0]])
        c, e = float(ca.total_cycles[i]), float(ca.energy_pj[i])
        if baseline:
            self.cap = min(self.cap, float(cyc.min()))
        band = self.cycles * (1 + self.tolerance)
        if (c, e) < (self.cycles, self.energy):
            self.cycles, self.energy, self.mapping = c, e, maps.mapping(i)
            band = self.cycles * (1 + self.tolerance)
            self.pool = [(pc[k], pe[k], pm.select(k)) for pc, pe, pm in self.pool
                         if (k := np.flatnonzero(pc <= band)).size]
        keep = idx[cyc <= band]
        if keep.size:
            self.pool.append((ca.total_cycles[keep], ca.energy_pj[keep], maps.select(keep)))

    def choice(self) -> Mapping | None:
        if self.mapping is None:
            return None
        limit = min(self.cycles * (1 + self.tolerance), max(self.cap, self.cycles))
        best: tuple[float, float, Mapping] | None = None
        for pc, pe, pm in self.pool:
            inside = np.flatnonzero(pc <= limit)
            if inside.size:
                j = int(inside[np.lexsort((pc[inside], pe[inside]))[0]])
                if best is None or (float(pe[j]), float(pc[j])) < best[:2]:
                    best = (float(pe[j]), float(pc[j]), pm.mapping(j))
        return best[2] if best else self.mapping

    def result(self, arch: ArchSpec, op: Gemm, searcher: str, seconds: float, candidates: int) -> SearchResult | Infeasible:
        if self.mapping is None:
            if self.rf_reason:
                return Infeasible(self.rf_reason)
            return Infeasible(f"no mapping fits: the smallest candidate tile needs {self.min_need_bytes:,.0f} B "
                              f"but global_buffer holds {arch.global_buffer.capacity_bytes:,.0f} B")
        chosen = self.choice()
        assert chosen is not None
        cost = evaluate_one(arch, op, chosen)
        if isinstance(cost, Infeasible):  # the scalar and vector paths agree; this guards the invariant
            return cost
        return SearchResult(mapping=chosen, cost=cost, searcher=searcher, wall_seconds=seconds, candidates=candidates)
