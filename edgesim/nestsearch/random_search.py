"""Random search over the loop-nest mapspace: points drawn uniformly (seeded), scored in batches, for a number of
points or a wall-clock budget (machine-dependent: for equal-wall-time comparisons)."""

from __future__ import annotations

import time

import numpy as np

from edgesim.nestsearch.result import NestResult, score
from edgesim.nestspace import NestSpace

BATCH = 2000


def random_search(space: NestSpace, *, budget: int | None = 20_000, seconds: float | None = None,
                  seed: int = 0) -> NestResult:
    if budget is None and seconds is None:
        raise ValueError("give a budget of points or of seconds")
    rng = np.random.default_rng(seed)
    out = NestResult("random")
    t0 = time.perf_counter()
    while True:
        left = BATCH if budget is None else min(BATCH, budget - out.evaluated)
        if left <= 0 or (seconds is not None and time.perf_counter() - t0 >= seconds):
            break
        ns = space.decode(*space.sample(rng, left))
        costs = score(space, ns)
        out.evaluated += len(ns)
        out.offer(space, ns, costs, time.perf_counter() - t0)
    out.wall_seconds = time.perf_counter() - t0
    return out
