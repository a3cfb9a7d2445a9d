"""A genetic algorithm over the loop-nest mapspace, from Optuna's NSGA-II sampler (single objective: cycles).

Genome: the spatial choice (categorical), one random key per temporal loop slot (floats in [0, 1); the loop order is
their argsort) and the double-buffering flag (categorical), the encoding `edgesim.nestspace` decodes. Optuna's
population, crossover and mutation (`NSGAIISampler`, seeded) evolve it; each generation is asked for as a batch,
scored with the vectorised cost model and told back. Infeasible nests score `INFEASIBLE_CYCLES`.
"""

from __future__ import annotations

import time

import numpy as np
import optuna

from edgesim.nestsearch.result import NestResult, score
from edgesim.nestspace import NestSpace

INFEASIBLE_CYCLES = 1e30


def genetic_search(space: NestSpace, *, budget: int | None = 5_000, seconds: float | None = None, seed: int = 0,
                   population: int = 100) -> NestResult:
    if budget is None and seconds is None:
        raise ValueError("give a budget of points or of seconds")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.NSGAIISampler(population_size=population, seed=seed))
    L = space.slots
    out = NestResult("genetic")
    t0 = time.perf_counter()
    while True:
        left = population if budget is None else min(population, budget - out.evaluated)
        if left <= 0 or (seconds is not None and time.perf_counter() - t0 >= seconds):
            break
        trials = [study.ask() for _ in range(left)]
        spatial = np.array([t.suggest_categorical("spatial", list(range(len(space.spatials)))) for t in trials])
        keys = np.array([[t.suggest_float(f"key{i}", 0.0, 1.0) for i in range(L)] for t in trials])
        half = np.array([t.suggest_categorical("half", [False, True]) for t in trials])
        ns = space.decode(spatial, keys, half)
        costs = score(space, ns)
        values = np.where(costs.feasible, costs.total_cycles, INFEASIBLE_CYCLES)
        for t, v in zip(trials, values, strict=True):
            study.tell(t, float(v))
        out.evaluated += len(ns)
        out.offer(space, ns, costs, time.perf_counter() - t0)
    out.wall_seconds = time.perf_counter() - t0
    return out
