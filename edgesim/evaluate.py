"""Map and evaluate one op: the step every higher stage (the LLM layer, the public API) takes per op.

A GEMM gets its mapping from the caller, else from a searcher (the heuristic grid when none is given). The
search runs once per process for ops that share a key (`mapping_key`: the signature, with the weight density
rounded up to the next 1/32); the op is then costed exactly under that mapping, and optionally played through
the tile simulator. A vector op is costed on the vector unit.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from functools import lru_cache

from edgesim.arch import ArchSpec
from edgesim.cost.model import GemmCost, evaluate_one
from edgesim.cost.vector import evaluate_vector
from edgesim.errors import Infeasible
from edgesim.mapping import Mapping
from edgesim.ops import Gemm, Op, VectorOp, WeightFormat
from edgesim.results import Engine, OpResult
from edgesim.search.base import Searcher
from edgesim.search.heuristic import HeuristicSearcher
from edgesim.sim.pipeline import SimResult, simulate

DENSITY_STEP = 1 / 32  # ops whose weight densities round up to the same step share one mapping search

_SEARCHED: dict[tuple[ArchSpec, Gemm, str], Mapping | Infeasible] = {}
_HEURISTIC = HeuristicSearcher()  # the default mapper, one instance so its settings are serialised once
_SETTINGS: dict[int, tuple[Searcher, str]] = {}  # id -> (the searcher, kept alive so the id stays its own; settings JSON)


def mapping_key(op: Gemm) -> Gemm:
    """The op a shared search runs on: no name, and an unstructured density rounded up to the next DENSITY_STEP.

    Ops that differ only in name or slightly in weight density (e.g. the layers of a LUC-compressed model, whose
    sparsities differ by a few percent) share one search. Stored weights never grow as density falls, so the
    shared mapping fits every op that uses it; each op is still costed exactly under it.
    """
    density = op.weight_density
    if op.weight_format == WeightFormat.UNSTRUCTURED:
        density = min(1.0, math.ceil(op.weight_density / DENSITY_STEP - 1e-9) * DENSITY_STEP)
    return replace(op, name="", weight_density=density,
                   weight_format=WeightFormat.DENSE if density == 1.0 and op.weight_format == WeightFormat.UNSTRUCTURED
                   else op.weight_format)


def shared_mapping(arch: ArchSpec, op: Gemm, searcher: Searcher) -> Mapping | Infeasible:
    """The searcher's mapping for `mapping_key(op)`, found once per process and searcher settings."""
    known = _SETTINGS.get(id(searcher))
    if known is None or known[0] is not searcher:
        known = _SETTINGS[id(searcher)] = (searcher, json.dumps(searcher.settings(), sort_keys=True, default=str))
    key = (arch, mapping_key(op), known[1])
    if key not in _SEARCHED:
        res = searcher.best(arch, key[1])
        _SEARCHED[key] = res if isinstance(res, Infeasible) else res.mapping
    return _SEARCHED[key]


def clear_caches() -> None:
    """Forget every mapping and simulation found in this process (benchmarks time cold runs with it)."""
    _SEARCHED.clear()
    _SETTINGS.clear()
    _cached_simulation.cache_clear()


def map_and_evaluate(arch: ArchSpec, op: Gemm, *, mapping: Mapping | None = None,
                     searcher: Searcher | None = None) -> GemmCost | Infeasible:
    """Cost of `op` under `mapping`, else under the (shared) mapping of `searcher` (default: the heuristic grid)."""
    chosen = mapping if mapping is not None else shared_mapping(arch, op, searcher or _HEURISTIC)
    if isinstance(chosen, Infeasible):
        return chosen
    return evaluate_one(arch, op, chosen)


def run_op(arch: ArchSpec, op: Op, engine: Engine, *, max_events: int = 2000, searcher: Searcher | None = None,
           mapping: Mapping | None = None) -> OpResult:
    if isinstance(op, VectorOp):
        return OpResult(op, evaluate_vector(arch, op))
    cost = map_and_evaluate(arch, op, mapping=mapping, searcher=searcher)
    if engine == Engine.SIM and isinstance(cost, GemmCost):
        if max_events == 0:  # no timeline wanted: identical ops under identical mappings simulate once
            return OpResult(op, cost, _cached_simulation(arch, replace(op, name=""), cost.mapping))
        return OpResult(op, cost, simulate(arch, op, cost.mapping, max_events=max_events))
    return OpResult(op, cost)


@lru_cache(maxsize=8192)
def _cached_simulation(arch: ArchSpec, op: Gemm, mapping: Mapping) -> SimResult:
    return simulate(arch, op, mapping, max_events=0)
