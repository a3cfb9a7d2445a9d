"""Fixed-dataflow baselines ("no hardware scheduling"): one dataflow, one loop order, a greedy tile (elements).

Each baseline keeps its stationary operand resident across the innermost DRAM loop:
- ws (weights B stationary): order nkm, so a B tile is reused by every M tile;
- os (outputs C stationary): order mnk, so C accumulates over K on chip;
- is (inputs A stationary): order mkn, so an A tile is reused by every N tile.
Double buffered. Tile: start at the array extent on the spatial dims and at min(rows, cols) on the temporal
dim (clipped to the dim), then double the temporal dim, then the spatial dims, round robin, while the
tile still fits the global buffer (bytes, via the cost model); if the starting tile does not fit, halve
round robin until it does. No search over orders, tiles or buffering.
"""

from __future__ import annotations

import time

from edgesim.arch import ArchSpec
from edgesim.cost.model import evaluate, fits
from edgesim.errors import Infeasible
from edgesim.mapping import Dataflow, Mapping, MappingSet
from edgesim.operands import operand_model
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.incumbent import Incumbent

ORDER = {Dataflow.WS: "nkm", Dataflow.OS: "mnk", Dataflow.IS: "mkn"}
# (temporal dim, row dim, column dim) per dataflow, SCALE-Sim's convention
AXES = {Dataflow.OS: ("k", "m", "n"), Dataflow.WS: ("m", "k", "n"), Dataflow.IS: ("n", "k", "m")}




def fixed_mapping(arch: ArchSpec, op: Gemm, dataflow: Dataflow) -> Mapping | Infeasible:
    """The baseline mapping of `dataflow` for `op` (see the module docstring)."""
    size = {"m": op.m, "n": op.n, "k": op.k}
    time_dim, row_dim, col_dim = AXES[dataflow]
    r, c = arch.pe_array.rows, arch.pe_array.cols
    tile = {row_dim: min(r, size[row_dim]), col_dim: min(c, size[col_dim]), time_dim: min(r, c, size[time_dim])}

    def make(t: dict[str, int]) -> Mapping:
        return Mapping(dataflow=dataflow, tile_m=t["m"], tile_n=t["n"], tile_k=t["k"], dram_order=ORDER[dataflow])

    priority = (time_dim, row_dim, col_dim)
    om = operand_model(arch, op)
    if not fits(arch, op, make(tile), om):
        while not fits(arch, op, make(tile), om):
            shrinkable = [d for d in priority if tile[d] > 1]
            if not shrinkable:
                ca = evaluate(arch, op, MappingSet.of([make(tile)]))
                return Infeasible(ca.rf_infeasible or f"a 1x1x1 tile needs {ca.glb_need_bytes[0]:,.0f} B but "
                                  f"global_buffer holds {arch.global_buffer.capacity_bytes:,.0f} B")
            d = max(shrinkable, key=lambda x: tile[x])
            tile[d] = max(1, tile[d] // 2)
        return make(tile)
    grown = True
    while grown:
        grown = False
        for d in priority:
            if tile[d] < size[d]:
                trial = {**tile, d: min(size[d], tile[d] * 2)}
                if fits(arch, op, make(trial), om):
                    tile, grown = trial, True
    return make(tile)


class FixedSearcher:
    """A baseline: no search, the fixed mapping of one dataflow."""

    def __init__(self, dataflow: Dataflow):
        self.dataflow = dataflow
        self.name = f"fixed-{dataflow}"

    def settings(self) -> dict[str, object]:
        return {"searcher": self.name}

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        t0 = time.perf_counter()
        m = fixed_mapping(arch, op, self.dataflow)
        if isinstance(m, Infeasible):
            return m
        inc = Incumbent()
        maps = MappingSet.of([m])
        inc.offer(maps, evaluate(arch, op, maps))
        return inc.result(arch, op, self.name, time.perf_counter() - t0, 1)
