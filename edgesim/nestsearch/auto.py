"""The loop-nest mapspace's default searcher: random search over every spatial unrolling, then CP-SAT's exact model
on the unrollings random search scored best, keeping the better answer.

Why both (docs/scheduler.md, docs/zigzag-alignment.md): at LOMA's wall time on ZigZag's edge_tpu_like, CP-SAT ended
closest to the lower bound on two of three compute-bound GEMMs and random search on the third; random search is
within 1% almost at once and covers many unrollings cheaply, CP-SAT searches every allocation of one unrolling.
Both budgets are counts (points; OR-Tools deterministic time), so the answer is the same on every run and machine.
"""

from __future__ import annotations

import time

import numpy as np

from edgesim.hierarchy import Interconnect
from edgesim.nestsearch.cpsat import cpsat_search
from edgesim.nestsearch.random_search import random_search
from edgesim.nestsearch.result import NestResult, score
from edgesim.nestspace import NestSpace


def rank_spatials(space: NestSpace, points: int, seed: int) -> list[int]:
    """Spatial choices, best first, by the fewest cycles among `points` random points (at least 50 per choice)."""
    rng = np.random.default_rng(seed)
    n = len(space.spatials)
    per = max(50, points // n)
    spatial = np.repeat(np.arange(n), per)
    _, keys, half = space.sample(rng, len(spatial))
    ns = space.decode(spatial, keys, half)
    c = score(space, ns)
    cyc = np.where(c.feasible, c.total_cycles, np.inf)
    best = np.array([cyc[spatial == s].min() for s in range(n)])
    return [int(s) for s in np.argsort(best, kind="stable")]


def auto_search(space: NestSpace, *, points: int = 20_000, deterministic_limit: float = 4.0, top: int = 2,
                seed: int = 0) -> NestResult:
    t0 = time.perf_counter()
    rnd = random_search(space, budget=points, seed=seed)
    best = rnd
    if space.hierarchy.interconnect == Interconnect.BROADCAST:
        order = rank_spatials(space, points, seed) if len(space.spatials) > top else list(range(len(space.spatials)))
        sub = NestSpace(space.hierarchy, space.op, space.om, tuple(space.spatials[s] for s in order[:top]),
                        space.loops_per_dim)
        cp = cpsat_search(sub, deterministic_limit=deterministic_limit, seed=seed)
        if (cp.cycles, cp.energy_pj) < (rnd.cycles, rnd.energy_pj):
            best = cp
    out = NestResult(f"auto ({best.searcher})", nest=best.nest, cycles=best.cycles, energy_pj=best.energy_pj,
                     evaluated=rnd.evaluated + (0 if best is rnd else best.evaluated), trace=list(best.trace))
    out.wall_seconds = time.perf_counter() - t0
    return out
