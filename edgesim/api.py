"""The public entry points, composed explicitly: load specs, map each op, evaluate, total up.

Two engines: `analytic` (the cost model: overlap assumed perfect within an op) and `sim` (the
tile-level pipeline simulator: stalls by cause and a timeline). Ops run one after another.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache

from edgesim.arch import ArchSpec
from edgesim.cost.model import GemmCost, evaluate_one
from edgesim.errors import Infeasible
from edgesim.heuristic import heuristic_mapping
from edgesim.mapping import Dataflow, Mapping
from edgesim.ops import Gemm, WeightFormat
from edgesim.search.base import Searcher
from edgesim.sim.pipeline import CAUSES, SimResult, simulate
from edgesim.units import cycles_to_seconds
from edgesim.vector import VectorCost, VectorOp, evaluate_vector

Op = Gemm | VectorOp


class Engine(StrEnum):
    ANALYTIC = "analytic"
    SIM = "sim"


@dataclass(frozen=True, slots=True)
class OpResult:
    op: Op
    cost: GemmCost | VectorCost | Infeasible
    sim: SimResult | None = None

    @property
    def feasible(self) -> bool:
        return not isinstance(self.cost, Infeasible)

    @property
    def total_cycles(self) -> float:
        if self.sim is not None:
            return self.sim.total_cycles
        return 0.0 if isinstance(self.cost, Infeasible) else self.cost.total_cycles

    @property
    def stall_cycles(self) -> dict[str, float]:
        """Cycles beyond compute, by cause (simulator, or the vector op's streaming bound)."""
        if self.sim is not None:
            return self.sim.stall_cycles
        if isinstance(self.cost, VectorCost):
            return vector_stalls(self.cost)
        return dict.fromkeys(CAUSES, 0.0)


def vector_stalls(c: VectorCost) -> dict[str, float]:
    beyond = max(c.dram_cycles, c.glb_cycles) - c.vector_cycles
    stalls = dict.fromkeys(CAUSES, 0.0)
    stalls["dram_latency"] = c.total_cycles - max(c.vector_cycles, c.dram_cycles, c.glb_cycles)
    if beyond > 0:
        stalls["dram_bandwidth" if c.dram_cycles >= c.glb_cycles else "buffer_port"] = beyond
    return stalls


@dataclass(frozen=True, slots=True)
class SimulationResult:
    arch: ArchSpec
    workload_name: str
    results: tuple[OpResult, ...]
    engine: Engine = Engine.ANALYTIC

    @property
    def costs(self) -> list[GemmCost | VectorCost]:
        return [r.cost for r in self.results if not isinstance(r.cost, Infeasible)]

    @property
    def infeasible(self) -> list[OpResult]:
        return [r for r in self.results if isinstance(r.cost, Infeasible)]

    def total(self, field: str) -> float:
        if field == "total_cycles":
            return float(sum(r.total_cycles for r in self.results))
        return float(sum(getattr(c, field) for c in self.costs))

    @property
    def seconds(self) -> float:
        return cycles_to_seconds(self.total("total_cycles"), self.arch.clock_mhz)


DENSITY_STEP = 1 / 32  # ops whose weight densities round up to the same step share one mapping search


@lru_cache(maxsize=4096)
def _cached_mapping(arch: ArchSpec, key: Gemm, dataflow: Dataflow | None) -> Mapping | Infeasible:
    return heuristic_mapping(arch, key, dataflow)


def shared_mapping(arch: ArchSpec, op: Gemm, dataflow: Dataflow | None = None) -> Mapping | Infeasible:
    """The heuristic mapping, found once per op shape, precisions and weight format.

    Ops that differ only in name or slightly in weight density (e.g. the layers of a LUC-compressed model,
    whose sparsities differ by a few percent) share one search, done at the density rounded up to the
    next 1/32 (DENSITY_STEP): stored weights never grow as density falls, so the shared mapping fits every op that uses
    it. Each op is still costed exactly under it.
    """
    return _cached_mapping(arch, _mapping_key(op), dataflow)


def _mapping_key(op: Gemm) -> Gemm:
    density = op.weight_density
    if op.weight_format == WeightFormat.UNSTRUCTURED:
        density = min(1.0, math.ceil(op.weight_density / DENSITY_STEP - 1e-9) * DENSITY_STEP)
    return replace(op, name="", weight_density=density,
                   weight_format=WeightFormat.DENSE if density == 1.0 and op.weight_format == WeightFormat.UNSTRUCTURED
                   else op.weight_format)


_SEARCHED: dict[tuple[ArchSpec, Gemm, str], Mapping | Infeasible] = {}


def searched_mapping(arch: ArchSpec, op: Gemm, searcher: Searcher) -> Mapping | Infeasible:
    """The searcher's mapping, found once per process for ops sharing a key (see `shared_mapping`)."""
    key = (arch, _mapping_key(op), json.dumps(searcher.settings(), sort_keys=True, default=str))
    if key not in _SEARCHED:
        res = searcher.best(arch, key[1])
        _SEARCHED[key] = res if isinstance(res, Infeasible) else res.mapping
    return _SEARCHED[key]


def map_and_evaluate(arch: ArchSpec, op: Gemm, dataflow: Dataflow | None = None,
                     mapping: Mapping | None = None, searcher: Searcher | None = None) -> GemmCost | Infeasible:
    """Cost of `op` under `mapping`, else the searcher's mapping, else the (shared) heuristic mapping."""
    if mapping is not None:
        chosen: Mapping | Infeasible = mapping
    elif searcher is not None:
        chosen = searched_mapping(arch, op, searcher)
    else:
        chosen = shared_mapping(arch, op, dataflow)
    if isinstance(chosen, Infeasible):
        return chosen
    return evaluate_one(arch, op, chosen)


def run_op(arch: ArchSpec, op: Op, engine: Engine, dataflow: Dataflow | None = None,
           max_events: int = 2000, searcher: Searcher | None = None, mapping: Mapping | None = None) -> OpResult:
    if isinstance(op, VectorOp):
        return OpResult(op, evaluate_vector(arch, op))
    cost = map_and_evaluate(arch, op, dataflow, mapping=mapping, searcher=searcher)
    if engine == Engine.SIM and isinstance(cost, GemmCost):
        if max_events == 0:  # no timeline wanted: identical ops under identical mappings simulate once
            return OpResult(op, cost, _cached_simulation(arch, replace(op, name=""), cost.mapping))
        return OpResult(op, cost, simulate(arch, op, cost.mapping, max_events=max_events))
    return OpResult(op, cost)


@lru_cache(maxsize=8192)
def _cached_simulation(arch: ArchSpec, op: Gemm, mapping: Mapping) -> SimResult:
    return simulate(arch, op, mapping, max_events=0)


def simulate_ops(arch: ArchSpec, ops: tuple[Op, ...] | list[Op], *, workload_name: str = "",
                 dataflow: Dataflow | None = None, engine: Engine = Engine.ANALYTIC,
                 max_events: int = 2000, mappings: dict[str, Mapping] | None = None) -> SimulationResult:
    """Evaluate every op in order. A GEMM takes its mapping from `mappings` (by op name, then by signature,
    as `edgesim schedule -o` writes them), else from the heuristic mapper."""
    def given(op: Op) -> Mapping | None:
        if mappings is None or not isinstance(op, Gemm):
            return None
        return mappings.get(op.name) or mappings.get(json.dumps(list(op.signature()), default=list))

    return SimulationResult(arch=arch, workload_name=workload_name, engine=engine,
                            results=tuple(run_op(arch, op, engine, dataflow, max_events, mapping=given(op)) for op in ops))


def simulate_gemms(arch: ArchSpec, ops: tuple[Gemm, ...] | list[Gemm], *, workload_name: str = "",
                   dataflow: Dataflow | None = None) -> SimulationResult:
    """The analytic cost of a GEMM list (kept for callers that only have GEMMs)."""
    return simulate_ops(arch, list(ops), workload_name=workload_name, dataflow=dataflow)
