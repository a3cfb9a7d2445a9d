"""Random search: `budget` distinct mappings drawn uniformly (seeded) from the mapspace, best by cycles then pJ."""

from __future__ import annotations

import time

import numpy as np

from edgesim.arch import ArchSpec
from edgesim.cost.model import evaluate
from edgesim.errors import Infeasible
from edgesim.mapspace import MapspaceOptions, build_mapspace
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.incumbent import Incumbent


class RandomSearcher:
    name = "random"

    def __init__(self, budget: int = 2000, seed: int = 0, options: MapspaceOptions | None = None):
        self.budget, self.seed = budget, seed
        self.options = options or MapspaceOptions()

    def settings(self) -> dict[str, object]:
        return {"searcher": self.name, "budget": self.budget, "seed": self.seed, "mapspace": self.options.settings()}

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        t0 = time.perf_counter()
        space = build_mapspace(arch, op, self.options)
        maps = space.sample(np.random.default_rng(self.seed), self.budget)
        inc = Incumbent()
        inc.offer(maps, evaluate(arch, op, maps))
        return inc.result(arch, op, self.name, time.perf_counter() - t0, len(maps))
