"""Exhaustive search: every mapping of the op's mapspace scored by the vectorised cost model (cycles, pJ).

The mapspace is enumerated in chunks of `chunk_size` candidates, so memory stays bounded
(about 1 kB per candidate in flight) whatever the size of the space.
"""

from __future__ import annotations

import time

from edgesim.arch import ArchSpec
from edgesim.cost.model import evaluate
from edgesim.errors import Infeasible
from edgesim.mapspace import MapspaceOptions, build_mapspace
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.baselines import offer_baselines
from edgesim.search.incumbent import Incumbent


class ExhaustiveSearcher:
    name = "exhaustive"

    def __init__(self, options: MapspaceOptions | None = None, chunk_size: int = 1 << 17, tolerance: float = 0.0):
        self.options = options or MapspaceOptions()
        self.chunk_size = chunk_size
        self.tolerance = tolerance  # latency band within which energy decides (see Incumbent)

    def settings(self) -> dict[str, object]:
        out: dict[str, object] = {"searcher": self.name, "mapspace": self.options.settings()}
        if self.tolerance:
            out["latency_tolerance"] = self.tolerance
        return out

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        t0 = time.perf_counter()
        space = build_mapspace(arch, op, self.options)
        inc = Incumbent(tolerance=self.tolerance)
        for maps in space.chunks(self.chunk_size):
            inc.offer(maps, evaluate(arch, op, maps))
            if inc.rf_reason:
                break
        if not inc.rf_reason:  # the fixed baselines and the heuristic may lie outside the mapspace
            offer_baselines(inc, arch, op)
        return inc.result(arch, op, self.name, time.perf_counter() - t0, space.size)
