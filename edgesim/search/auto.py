"""The default scheduler: exhaustive search where the mapspace is small enough, CP-SAT beyond.

Measured (benchmarks/bench_scheduler.py, "auto" section, 2026-11-24; docs/scheduler.md): exhaustive search, with its
compute-bound pruning, finds the exact optimum faster than CP-SAT up to 321M candidates (2.30 s against 2.44 s;
the default mapspace never exceeds 400k, 0.01 s). Beyond that CP-SAT as shipped is faster (1.9 - 2.2 s against
5.7 s at 860M and 9.6 s at 1.7G candidates) and matched the optimum on both measured ops, though there its answer
came from the heuristic and fixed-dataflow candidates it offers: its raw solver found no solution within 3
deterministic units. `AutoSearcher` counts the mapspace first and picks accordingly.
"""

from __future__ import annotations

from edgesim.arch import ArchSpec
from edgesim.errors import Infeasible
from edgesim.mapspace import MapspaceOptions, build_mapspace
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.cpsat import CpSatSearcher
from edgesim.search.exhaustive import ExhaustiveSearcher

EXHAUSTIVE_LIMIT = 300_000_000


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
