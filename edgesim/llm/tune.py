"""A tuning step on an accelerator: expand, simulate every op, total by phase and layer, peak memory.

Edge-LLM runs in phases whose windows and exits differ; its per-step figures are the step-weighted
mean over the trace's phases (latency, energy, traffic) and the maximum over phases (peak memory).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence

from edgesim.arch import ArchSpec
from edgesim.errors import Infeasible
from edgesim.evaluate import run_op
from edgesim.llm.memory import check_order, peak_memory
from edgesim.llm.model import ModelShape
from edgesim.llm.step import TuningSettings, TuningStep, expand_step
from edgesim.llm.trace import Trace, check_against
from edgesim.methods import Method, Phase
from edgesim.overlap.graph import op_graph
from edgesim.overlap.run import SERIAL, OverlapSettings, bound, schedule
from edgesim.overlap.schedule import Schedule, attribute, busy_by_group, busy_shares, op_starts, saved_traffic
from edgesim.overlap.tasks import OpTasks, step_tasks
from edgesim.results import Engine, InfeasibleOp, MemoryReport, MethodResult, OpResult, ScheduledOp, StepCost, StepSchedule
from edgesim.search.base import Searcher
from edgesim.units import cycles_to_seconds

PHASES = tuple(Phase)
log = logging.getLogger(__name__)


def cost_step(arch: ArchSpec, step: TuningStep, engine: Engine = Engine.ANALYTIC,
              searcher: Searcher | None = None, overlap: OverlapSettings = SERIAL) -> StepCost:
    """Cost every op of the step (mappings from `searcher`, or the heuristic mapper when None), one after another or,
    with `overlap`, scheduled across the engines and DRAM (`edgesim.overlap`)."""
    check_order(step)
    t0 = time.perf_counter()
    results = [run_op(arch, node.op, engine, max_events=0, searcher=searcher) for node in step.nodes]
    infeasible = tuple(InfeasibleOp(n.op.name, r.cost.reason) for n, r in zip(step.nodes, results, strict=True)
                       if isinstance(r.cost, Infeasible))
    cycles = [r.total_cycles for r in results]
    energy = [0.0 if isinstance(r.cost, Infeasible) else r.cost.energy_pj for r in results]
    dram = [0.0 if isinstance(r.cost, Infeasible) else r.cost.dram_bytes for r in results]
    memory, sched = None, None
    if overlap.scheduler != "none":
        if engine != Engine.ANALYTIC:
            raise ValueError("step-level overlap schedules the analytic cost model's tasks: use the analytic engine")
        sched, timed, memory, energy, dram = _overlapped(arch, step, results, overlap)
        by_phase_cycles = attribute(timed, [str(n.phase) for n in step.nodes])
        by_layer = {int(k): v for k, v in attribute(timed, [str(n.layer) for n in step.nodes]).items()}
    else:
        by_phase_cycles, by_layer = defaultdict(float), defaultdict(float)
        for n, c in zip(step.nodes, cycles, strict=True):
            by_phase_cycles[str(n.phase)] += c
            by_layer[n.layer] += c
    by_phase: dict[str, dict[str, float]] = {str(p): {"cycles": by_phase_cycles.get(str(p), 0.0), "energy_pj": 0.0,
                                                      "dram_bytes": 0.0} for p in PHASES}
    for n, e, d in zip(step.nodes, energy, dram, strict=True):
        by_phase[str(n.phase)]["energy_pj"] += e
        by_phase[str(n.phase)]["dram_bytes"] += d
    log.info("costed %s: %d ops (%d infeasible) in %.2f s", step.label, len(step.nodes), len(infeasible),
             time.perf_counter() - t0)
    return StepCost(label=step.label, cycles=sched.makespan_cycles if sched else float(sum(cycles)),
                    energy_pj=float(sum(energy)), dram_bytes=float(sum(dram)), by_phase=by_phase,
                    by_layer=dict(by_layer), memory=memory or peak_memory(step), ops=len(step.nodes),
                    infeasible=infeasible, schedule=sched)


def _overlapped(arch: ArchSpec, step: TuningStep, results: list[OpResult], settings: OverlapSettings
                ) -> tuple[StepSchedule, Schedule, MemoryReport, list[float], list[float]]:
    """The step's schedule, its peak memory with ops running together, and each op's energy and traffic less what
    tensors kept on chip save (their DRAM write by the writer, their DRAM reads by the readers)."""
    tasks = step_tasks(arch, step.nodes, [r.cost for r in results])
    graph = op_graph(tasks)
    keys = [(n.layer, n.phase == Phase.FORWARD) for n in step.nodes]
    s = schedule(arch, tasks, graph, keys, settings)
    bounds = bound(arch, tasks, graph, settings.reuse and settings.scheduler == "cpsat")
    bw, dram = arch.dram.bandwidth_bytes_per_cycle, arch.dram
    out_saved = [0.0] * len(tasks)
    for c in s.kept:
        out_saved[c.producer] += c.bytes
    energy, traffic = [], []
    for r, saved, out in zip(results, saved_traffic(tasks, s.kept, bw), out_saved, strict=True):
        cost = r.cost
        e = 0.0 if isinstance(cost, Infeasible) else cost.energy_pj
        d = 0.0 if isinstance(cost, Infeasible) else cost.dram_bytes
        if saved > 0:
            write = min(out, saved)
            e -= write * dram.write_energy_pj_per_byte + (saved - write) * dram.read_energy_pj_per_byte
        energy.append(e)
        traffic.append(d - saved)
    memory = peak_memory(step, op_times(tasks, s))
    phase_busy = busy_by_group(tasks, s, [str(n.phase) for n in step.nodes])
    ser = sum(t.serial for t in tasks)
    ops, now = [], 0.0
    for i, (t, n) in enumerate(zip(tasks, step.nodes, strict=True)):
        ops.append(ScheduledOp(t.name, n.layer, str(n.phase), t.engine,
                               (s.prefetch_start[i], s.prefetch_start[i] + t.prefetch), (s.compute_start[i], s.end(i)),
                               (s.stream_start[i], s.stream_start[i] + s.stream_cycles[i]), (now, now + t.serial)))
        now += t.serial
    return (StepSchedule(scheduler=s.scheduler, serial_cycles=ser, makespan_cycles=s.makespan,
                         bound_cycles=bounds["bound"], bounds={k: v for k, v in bounds.items() if k != "bound"},
                         busy=busy_shares(tasks, s), phase_busy=phase_busy,
                         serial_dram_bytes=sum(t.dram_bytes for t in tasks), dram_bytes=float(sum(traffic)),
                         kept_tensors=len(s.kept), seconds=s.stats.get("seconds", 0.0),
                         stats={k: v for k, v in s.stats.items() if k != "seconds"}, ops=tuple(ops)),
            s, memory, energy, traffic)


def op_times(tasks: Sequence[OpTasks], s: Schedule) -> tuple[list[float], list[float]]:
    """Each op's start (its prefetch, or the DRAM latency before its compute) and its finish under `s`: the end of
    its drain, the last tile's write-back after its compute window (its tensors live until then)."""
    return op_starts(tasks, s), [s.finish(i) for i in range(len(tasks))]


def run_method(arch: ArchSpec, model: ModelShape, method: Method, st: TuningSettings, trace: Trace | None,
               engine: Engine = Engine.ANALYTIC, searcher: Searcher | None = None,
               overlap: OverlapSettings = SERIAL) -> MethodResult:
    if method == Method.EDGE_LLM:
        if trace is None:
            raise ValueError("edge-llm needs a trace")
        check_against(trace, arch)
        steps = [(expand_step(arch, model, method, st, list(trace.policies), ph), ph.steps) for ph in trace.phases]
    else:
        steps = [(expand_step(arch, model, method, st), 1)]
    costs = tuple((cost_step(arch, s, engine, searcher, overlap), w) for s, w in steps)
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
