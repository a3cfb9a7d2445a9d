"""A tuning step on an accelerator: expand, simulate every op, total by phase and layer, peak memory.

Edge-LLM runs in phases whose windows and exits differ; its per-step figures are the step-weighted
mean over the trace's phases (latency, energy, traffic) and the maximum over phases (peak memory).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

from edgesim.arch import ArchSpec
from edgesim.errors import Infeasible
from edgesim.evaluate import run_op
from edgesim.llm.memory import check_order, peak_memory
from edgesim.llm.model import ModelShape
from edgesim.llm.step import TuningSettings, TuningStep, expand_step
from edgesim.llm.trace import Trace, check_against
from edgesim.methods import Method, Phase
from edgesim.results import Engine, InfeasibleOp, MethodResult, StepCost
from edgesim.search.base import Searcher
from edgesim.units import cycles_to_seconds

PHASES = tuple(Phase)
log = logging.getLogger(__name__)


def cost_step(arch: ArchSpec, step: TuningStep, engine: Engine = Engine.ANALYTIC,
              searcher: Searcher | None = None) -> StepCost:
    """Cost every op of the step (mappings from `searcher`, or the heuristic mapper when None)."""
    check_order(step)
    t0 = time.perf_counter()
    by_phase: dict[str, dict[str, float]] = {str(p): {"cycles": 0.0, "energy_pj": 0.0, "dram_bytes": 0.0} for p in PHASES}
    by_layer: dict[int, float] = defaultdict(float)
    infeasible = []
    cycles = energy = dram = 0.0
    for node in step.nodes:
        r = run_op(arch, node.op, engine, max_events=0, searcher=searcher)
        if isinstance(r.cost, Infeasible):
            infeasible.append(InfeasibleOp(node.op.name, r.cost.reason))
            continue
        c = r.cost
        row = by_phase[str(node.phase)]
        row["cycles"] += r.total_cycles
        row["energy_pj"] += c.energy_pj
        row["dram_bytes"] += c.dram_bytes
        by_layer[node.layer] += r.total_cycles
        cycles += r.total_cycles
        energy += c.energy_pj
        dram += c.dram_bytes
    log.info("costed %s: %d ops (%d infeasible) in %.2f s", step.label, len(step.nodes), len(infeasible),
             time.perf_counter() - t0)
    return StepCost(label=step.label, cycles=cycles, energy_pj=energy, dram_bytes=dram, by_phase=by_phase,
                    by_layer=dict(by_layer), memory=peak_memory(step), ops=len(step.nodes), infeasible=tuple(infeasible))


def run_method(arch: ArchSpec, model: ModelShape, method: Method, st: TuningSettings, trace: Trace | None,
               engine: Engine = Engine.ANALYTIC, searcher: Searcher | None = None) -> MethodResult:
    if method == Method.EDGE_LLM:
        if trace is None:
            raise ValueError("edge-llm needs a trace")
        check_against(trace, arch)
        steps = [(expand_step(arch, model, method, st, list(trace.policies), ph), ph.steps) for ph in trace.phases]
    else:
        steps = [(expand_step(arch, model, method, st), 1)]
    costs = tuple((cost_step(arch, s, engine, searcher), w) for s, w in steps)
    total_w = sum(w for _, w in costs)

    def mean(f: str) -> float:
        return float(sum(getattr(c, f) * w for c, w in costs)) / total_w

    by_phase = {p: {k: sum(c.by_phase[p][k] * w for c, w in costs) / total_w for k in ("cycles", "energy_pj", "dram_bytes")}
                for p in map(str, PHASES)}
    peak = max(c.memory.peak_bytes for c, _ in costs)
    cycles = mean("cycles")
    return MethodResult(method=method, steps=costs, seconds=cycles_to_seconds(cycles, arch.clock_mhz), cycles=cycles,
                        energy_pj=mean("energy_pj"), dram_bytes=mean("dram_bytes"), peak_bytes=peak, by_phase=by_phase,
                        trainable_params=max(s.trainable_params for s, _ in steps),
                        fits=peak <= arch.dram.capacity_bytes)
