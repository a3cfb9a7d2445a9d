"""The latency band: within `tolerance` of the fastest mapping, the least energy wins, never slower than a fixed dataflow."""

from __future__ import annotations

import numpy as np

from edgesim.config.hardware import load_arch
from edgesim.cost import evaluate_one
from edgesim.cost.model import evaluate
from edgesim.mapspace import build_mapspace
from edgesim.ops import Gemm, WeightFormat
from edgesim.search.base import SearchResult
from edgesim.search.baselines import fixed_baselines
from edgesim.search.exhaustive import ExhaustiveSearcher

ARCH = load_arch()
OP = Gemm(name="q", m=512, n=4096, k=4096, weight_density=0.46875, weight_format=WeightFormat.UNSTRUCTURED)


def test_band_trades_a_sliver_of_latency_for_energy():
    fast = ExhaustiveSearcher().best(ARCH, OP)
    banded = ExhaustiveSearcher(tolerance=0.02).best(ARCH, OP)
    assert isinstance(fast, SearchResult) and isinstance(banded, SearchResult)
    assert banded.cost.total_cycles <= fast.cost.total_cycles * 1.02
    assert banded.cost.energy_pj <= fast.cost.energy_pj
    fixed = [evaluate_one(ARCH, OP, m) for m in fixed_baselines(ARCH, OP)]
    assert banded.cost.total_cycles <= min(c.total_cycles for c in fixed)  # type: ignore[union-attr]


def test_band_answer_is_the_enumerated_least_energy_inside_the_band():
    op = Gemm(name="s", m=96, n=80, k=112)
    res = ExhaustiveSearcher(tolerance=0.05).best(ARCH, op)
    assert isinstance(res, SearchResult)
    ca = evaluate(ARCH, op, build_mapspace(ARCH, op).at(np.arange(build_mapspace(ARCH, op).size)))
    ok = np.flatnonzero(ca.feasible)
    best = ca.total_cycles[ok].min()
    fixed = [evaluate_one(ARCH, op, m) for m in fixed_baselines(ARCH, op)]
    limit = min(best * 1.05, max(best, min(c.total_cycles for c in fixed)))  # type: ignore[union-attr]
    inside = ok[ca.total_cycles[ok] <= limit]
    # by enumeration, independently of the incumbent's pooling
    assert res.cost.energy_pj <= ca.energy_pj[inside].min() * (1 + 1e-12)
