"""The public entry points, composed explicitly: load specs, map each op, evaluate, total up."""

from __future__ import annotations

from dataclasses import dataclass

from edgesim.arch import ArchSpec
from edgesim.cost.model import GemmCost, evaluate_one
from edgesim.errors import Infeasible
from edgesim.heuristic import heuristic_mapping
from edgesim.mapping import Dataflow, Mapping
from edgesim.ops import Gemm
from edgesim.units import cycles_to_seconds


@dataclass(frozen=True, slots=True)
class OpResult:
    op: Gemm
    cost: GemmCost | Infeasible


@dataclass(frozen=True, slots=True)
class SimulationResult:
    arch: ArchSpec
    workload_name: str
    results: tuple[OpResult, ...]

    @property
    def costs(self) -> list[GemmCost]:
        return [r.cost for r in self.results if isinstance(r.cost, GemmCost)]

    @property
    def infeasible(self) -> list[OpResult]:
        return [r for r in self.results if isinstance(r.cost, Infeasible)]

    def total(self, field: str) -> float:
        return float(sum(getattr(c, field) for c in self.costs))

    @property
    def seconds(self) -> float:
        return cycles_to_seconds(self.total("total_cycles"), self.arch.clock_mhz)


def map_and_evaluate(arch: ArchSpec, op: Gemm, dataflow: Dataflow | None = None,
                     mapping: Mapping | None = None) -> GemmCost | Infeasible:
    """Cost of `op` under `mapping`, or under the heuristic mapping when none is given."""
    chosen = mapping if mapping is not None else heuristic_mapping(arch, op, dataflow)
    if isinstance(chosen, Infeasible):
        return chosen
    return evaluate_one(arch, op, chosen)


def simulate_gemms(arch: ArchSpec, ops: tuple[Gemm, ...] | list[Gemm], *, workload_name: str = "",
                   dataflow: Dataflow | None = None) -> SimulationResult:
    """Map each op (heuristic mapper) and evaluate it with the analytic cost model; ops run one after another."""
    return SimulationResult(arch=arch, workload_name=workload_name,
                            results=tuple(OpResult(op, map_and_evaluate(arch, op, dataflow)) for op in ops))
