"""The default scheduler: exhaustive search where the mapspace is small enough, CP-SAT beyond.

Measured on the default mapspace (benchmarks/bench_scheduler.py): exhaustive search finds the exact
optimum of up to ~400,000 candidates in under 0.5 s, faster than CP-SAT; CP-SAT pays off only on
mapspaces of millions of points. `AutoSearcher` counts the mapspace first and picks accordingly.
"""

from __future__ import annotations

from edgesim.arch import ArchSpec
from edgesim.errors import Infeasible
from edgesim.mapspace import MapspaceOptions, build_mapspace
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.cpsat import CpSatSearcher
from edgesim.search.exhaustive import ExhaustiveSearcher

EXHAUSTIVE_LIMIT = 2_000_000


class AutoSearcher:
    name = "auto"

    def __init__(self, *, limit: int = EXHAUSTIVE_LIMIT, options: MapspaceOptions | None = None,
                 deterministic_limit: float = 3.0, tolerance: float = 0.0):
        self.limit = limit
        self.options = options or MapspaceOptions()
        self.exhaustive = ExhaustiveSearcher(self.options, tolerance=tolerance)
        self.cpsat = CpSatSearcher(deterministic_limit=deterministic_limit, options=self.options, tolerance=tolerance)

    def settings(self) -> dict[str, object]:
        return {"searcher": self.name, "limit": self.limit, "exhaustive": self.exhaustive.settings(),
                "cpsat": self.cpsat.settings()}

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        if build_mapspace(arch, op, self.options).size <= self.limit:
            return self.exhaustive.best(arch, op)
        return self.cpsat.best(arch, op)
