"""The heuristic mapper: a coarse grid scored by the cost model (`edgesim tune --mapper heuristic`, and the
mapping `edgesim simulate` uses unless given mappings).

Tile sizes per dim are the array extent times powers of two, plus the whole dim; every DRAM loop
order; double buffering on and off; the requested dataflow or all three. The fastest feasible
candidate wins (ties: less energy). A few thousand candidates, scored in one vectorised call.
"""

from __future__ import annotations

import time

import numpy as np

from edgesim.arch import ArchSpec
from edgesim.cost.model import CostArrays, evaluate, evaluate_one
from edgesim.errors import Infeasible
from edgesim.mapping import DATAFLOWS, LOOP_ORDERS, Dataflow, Mapping, MappingSet, grid
from edgesim.mapspace import Mapspace
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult


def tile_choices(dim: int, base: int) -> list[int]:
    """base·2^j below `dim`, and `dim` itself."""
    out = {dim}
    t = base
    while t < dim:
        out.add(t)
        t *= 2
    return sorted(out)


def candidate_grid(arch: ArchSpec, op: Gemm, dataflows: list[Dataflow] | None = None) -> MappingSet:
    base = min(arch.pe_array.rows, arch.pe_array.cols)
    dfs = [DATAFLOWS.index(d) for d in (dataflows or list(DATAFLOWS))]
    return grid(dfs, tile_choices(op.m, base), tile_choices(op.n, base), tile_choices(op.k, base),
                list(range(len(LOOP_ORDERS))), [True, False])


def grid_within(arch: ArchSpec, op: Gemm, space: Mapspace) -> bool:
    """Whether every candidate of the heuristic's grid is in `space` (then the heuristic mapping is too)."""
    base = min(arch.pe_array.rows, arch.pe_array.cols)
    return (set(DATAFLOWS) <= set(space.dataflows) and {True, False} <= set(space.double_buffer)
            and all(set(tile_choices(d.size, base)) <= set(d.tiles) for d in space.dims))


def best_index(ca: CostArrays) -> int | None:
    """The feasible candidate with the fewest cycles, then the least energy; None if none is feasible."""
    if ca.rf_infeasible or not ca.feasible.any():
        return None
    idx = np.flatnonzero(ca.feasible)
    order = np.lexsort((ca.energy_pj[idx], ca.total_cycles[idx]))
    return int(idx[order[0]])


def _grid_search(arch: ArchSpec, op: Gemm, dataflow: Dataflow | None) -> tuple[Mapping | Infeasible, int]:
    """The heuristic's answer and the number of candidates it scored."""
    maps = candidate_grid(arch, op, [dataflow] if dataflow else None)
    ca = evaluate(arch, op, maps)
    i = best_index(ca)
    if i is not None:
        return maps.mapping(i), len(maps)
    if ca.rf_infeasible:
        return Infeasible(ca.rf_infeasible), len(maps)
    smallest = int(np.argmin(ca.glb_need_bytes))
    return Infeasible(f"even the smallest tile needs {ca.glb_need_bytes[smallest]:,.0f} B but "
                      f"global_buffer holds {arch.global_buffer.capacity_bytes:,.0f} B"), len(maps)


def heuristic_mapping(arch: ArchSpec, op: Gemm, dataflow: Dataflow | None = None) -> Mapping | Infeasible:
    return _grid_search(arch, op, dataflow)[0]


class HeuristicSearcher:
    """The coarse grid as a searcher: `heuristic_mapping`, optionally with the dataflow fixed."""

    def __init__(self, dataflow: Dataflow | None = None):
        self.dataflow = dataflow
        self.name = "heuristic"

    def settings(self) -> dict[str, object]:
        return {"searcher": self.name, "dataflow": str(self.dataflow) if self.dataflow else None}

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        t0 = time.perf_counter()
        chosen, candidates = _grid_search(arch, op, self.dataflow)
        if isinstance(chosen, Infeasible):
            return chosen
        cost = evaluate_one(arch, op, chosen)
        if isinstance(cost, Infeasible):  # the scalar and vector paths agree; this guards the invariant
            return cost
        return SearchResult(mapping=chosen, cost=cost, searcher=self.name, wall_seconds=time.perf_counter() - t0,
                            candidates=candidates)
