"""The scheduler interface: `Searcher.best(arch, op)` returns the chosen mapping with its exact cost.

Protocols and value types only; concrete searchers live in their own modules, and `factory` builds them by name.

Units: cycles and pJ in the cost, seconds of wall time for the search itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edgesim.arch import ArchSpec
from edgesim.cost.model import GemmCost
from edgesim.errors import Infeasible
from edgesim.mapping import Mapping
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
