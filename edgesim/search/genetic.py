"""A genetic-algorithm baseline over the mapspace, from Optuna's NSGA-II sampler (single objective: cycles).

Each trial picks the dataflow, one candidate tile per dim (by index into the mapspace's candidates), the DRAM loop
order and buffering as categorical parameters; the cost model scores it exactly. Infeasible mappings score
`INFEASIBLE_CYCLES`. The sampler's population, crossover and mutation are Optuna's (`NSGAIISampler`, seeded), not
edgesim's: this is the evolutionary baseline issue 13 compares CP-SAT with, at a budget of `trials` evaluations or,
for equal-wall-time comparisons, `timeout` seconds (which makes the answer depend on the machine's speed).
"""

from __future__ import annotations

import time

import optuna

from edgesim.arch import ArchSpec
from edgesim.cost.model import evaluate
from edgesim.errors import Infeasible
from edgesim.mapping import LOOP_ORDERS, Mapping, MappingSet
from edgesim.mapspace import MapspaceOptions, build_mapspace
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.incumbent import Incumbent

INFEASIBLE_CYCLES = 1e30


class GeneticSearcher:
    name = "genetic"

    def __init__(self, trials: int = 2000, seed: int = 0, population: int = 50, timeout: float | None = None,
                 options: MapspaceOptions | None = None):
        if trials < 1 or population < 2:
            raise ValueError(f"trials must be >= 1 and population >= 2, got {trials} and {population}")
        self.trials, self.seed, self.population, self.timeout = trials, seed, population, timeout
        self.options = options or MapspaceOptions()

    def settings(self) -> dict[str, object]:
        return {"searcher": self.name, "trials": self.trials, "seed": self.seed, "population": self.population,
                "timeout": self.timeout, "optuna": optuna.__version__, "mapspace": self.options.settings()}

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        t0 = time.perf_counter()
        space = build_mapspace(arch, op, self.options)
        tiles = {d.name: d.tiles for d in space.dims}
        inc = Incumbent()

        def objective(trial: optuna.Trial) -> float:
            mapping = Mapping(
                dataflow=space.dataflows[trial.suggest_categorical("dataflow", list(range(len(space.dataflows))))],
                tile_m=tiles["m"][trial.suggest_int("tile_m", 0, len(tiles["m"]) - 1)],
                tile_n=tiles["n"][trial.suggest_int("tile_n", 0, len(tiles["n"]) - 1)],
                tile_k=tiles["k"][trial.suggest_int("tile_k", 0, len(tiles["k"]) - 1)],
                dram_order=LOOP_ORDERS[trial.suggest_categorical("order", list(range(len(LOOP_ORDERS))))],
                double_buffer=space.double_buffer[trial.suggest_categorical("db", list(range(len(space.double_buffer))))])
            maps = MappingSet.of([mapping])
            cost = evaluate(arch, op, maps)
            inc.offer(maps, cost)
            return float(cost.total_cycles[0]) if bool(cost.feasible[0]) else INFEASIBLE_CYCLES

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.NSGAIISampler(population_size=self.population, seed=self.seed)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        study.optimize(objective, n_trials=self.trials, timeout=self.timeout)
        return inc.result(arch, op, self.name, time.perf_counter() - t0, len(study.trials))
