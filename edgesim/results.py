"""Result types, in one place: what evaluating an op, a workload, a tuning step, a method and an inference gives.

Units: cycles, pJ and bytes throughout, seconds where a field says so. Each type is a frozen value; the stages
that compute them (`edgesim.evaluate`, `edgesim.llm`) and the ones that print them (`edgesim.report`) both
import from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from edgesim.arch import ArchSpec
from edgesim.cost.model import GemmCost
from edgesim.cost.vector import VectorCost
from edgesim.errors import Infeasible
from edgesim.methods import Method
from edgesim.ops import Gemm, Op
from edgesim.search.base import SearchResult
from edgesim.sim.pipeline import CAUSES, SimResult
from edgesim.units import cycles_to_seconds


class InfeasibleOp(NamedTuple):
    """An op no mapping can run on the hardware, and why. Figures that leave it out are incomplete."""

    name: str
    reason: str


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


@dataclass(frozen=True, slots=True)
class MemoryReport:
    peak_bytes: float
    peak_node: str  # the op running at the peak
    breakdown: dict[str, float]  # bytes by category at the peak; sums to peak_bytes
    timeline: tuple[float, ...]  # bytes at each node


class ScheduledOp(NamedTuple):
    """One op in a step's schedule (cycles from the step's start) and where it ran serially."""

    name: str
    layer: int
    phase: str
    engine: str  # array, vector or none
    prefetch: tuple[float, float]  # on the DRAM channel
    compute: tuple[float, float]  # on the engine
    stream: tuple[float, float]  # on the DRAM channel
    serial: tuple[float, float]  # the op's span one op after another


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSchedule:
    """How a step's ops were overlapped (`edgesim.overlap`): the makespan beside serial execution and a lower bound."""

    scheduler: str  # greedy or cpsat
    serial_cycles: float  # one op after another (the cost model's sum)
    makespan_cycles: float
    bound_cycles: float  # no schedule of these tasks is shorter (the largest of `bounds`)
    bounds: dict[str, float]  # array_busy, vector_busy, dram_busy, critical_path
    busy: dict[str, float]  # engine or dram -> fraction of the makespan busy
    phase_busy: dict[str, dict[str, float]]  # phase -> engine or dram -> cycles busy
    serial_dram_bytes: float
    dram_bytes: float  # less what tensors kept on chip save
    kept_tensors: int
    seconds: float  # scheduling time
    stats: dict[str, float]  # the scheduler's (CP-SAT: windows, proved optimal, repeated, its own gap in cycles)
    ops: tuple[ScheduledOp, ...] = ()  # every op's times, for timelines


@dataclass(frozen=True, slots=True)
class StepCost:
    label: str
    cycles: float
    energy_pj: float
    dram_bytes: float
    by_phase: dict[str, dict[str, float]]  # phase -> cycles, energy_pj, dram_bytes
    by_layer: dict[int, float]  # layer -> cycles (-1: embedding, heads, loss, optimizer)
    memory: MemoryReport
    ops: int
    infeasible: tuple[InfeasibleOp, ...]  # left out of cycles, energy and traffic above
    schedule: StepSchedule | None = None  # the ops overlapped (cycles is then its makespan), or None: one after another


@dataclass(frozen=True, slots=True)
class MethodResult:
    method: Method
    steps: tuple[tuple[StepCost, int], ...]  # (cost, weight: optimizer steps in that phase)
    seconds: float
    cycles: float
    energy_pj: float
    dram_bytes: float
    peak_bytes: float
    by_phase: dict[str, dict[str, float]]
    trainable_params: int
    fits: bool

    @property
    def infeasible_ops(self) -> tuple[InfeasibleOp, ...]:
        """Every op of any phase that cannot run (once per name): the totals above leave them out."""
        return tuple({o.name: o for c, _ in self.steps for o in c.infeasible}.values())


@dataclass(frozen=True, slots=True)
class InferenceResult:
    label: str
    prefill_seconds: float
    decode_seconds_per_token: float  # mean over the generated tokens
    tokens_per_second: float
    energy_pj_per_token: float
    prefill_energy_pj: float
    weight_bytes: float
    kv_cache_bytes: float  # at the end of generation
    peak_bytes: float
    exits: tuple[int, ...]
    prefill_dram_bytes: float
    dram_bytes_per_token: float  # mean over the generated tokens
    infeasible_ops: tuple[InfeasibleOp, ...]  # ops no mapping fits (left out of the figures above)
    ops: int  # ops of one forward pass


@dataclass(frozen=True, slots=True)
class OpSchedule:
    """One GEMM's scheduled mapping (or why none fits) beside each fixed-dataflow baseline's (keyed os/ws/is)."""

    op: Gemm
    result: SearchResult | Infeasible
    baselines: dict[str, SearchResult | Infeasible]
