"""A heuristic mapper, used until a scheduler is asked for: a coarse grid, scored by the cost model.

Tile sizes per dim are the array extent times powers of two, plus the whole dim; every DRAM loop
order; double buffering on and off; the requested dataflow or all three. The fastest feasible
candidate wins (ties: less energy). A few thousand candidates, scored in one vectorised call.
"""

from __future__ import annotations

import numpy as np

from edgesim.arch import ArchSpec
from edgesim.cost.model import CostArrays, evaluate
from edgesim.errors import Infeasible
from edgesim.mapping import DATAFLOWS, LOOP_ORDERS, Dataflow, Mapping, MappingSet, grid
from edgesim.ops import Gemm


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


def best_index(ca: CostArrays) -> int | None:
    """The feasible candidate with the fewest cycles, then the least energy; None if none is feasible."""
    if ca.rf_infeasible or not ca.feasible.any():
        return None
    idx = np.flatnonzero(ca.feasible)
    order = np.lexsort((ca.energy_pj[idx], ca.total_cycles[idx]))
    return int(idx[order[0]])


def heuristic_mapping(arch: ArchSpec, op: Gemm, dataflow: Dataflow | None = None) -> Mapping | Infeasible:
    maps = candidate_grid(arch, op, [dataflow] if dataflow else None)
    ca = evaluate(arch, op, maps)
    i = best_index(ca)
    if i is None:
        if ca.rf_infeasible:
            return Infeasible(ca.rf_infeasible)
        smallest = int(np.argmin(ca.glb_need_bytes))
        return Infeasible(f"{op.name}: even the smallest tile needs {ca.glb_need_bytes[smallest]:,.0f} B but "
                          f"global_buffer holds {arch.global_buffer.capacity_bytes:,.0f} B")
    return maps.mapping(i)
