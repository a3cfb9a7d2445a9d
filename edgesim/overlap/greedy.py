"""Two baselines: serial execution (today's behaviour) and a greedy list scheduler, critical path first.

The list scheduler takes ops in order of their longest path to the end of the step (their own serial cycles
included), among those whose predecessors are all placed, and gives each the earliest times its resources allow,
without backfilling: a task goes after the last task already placed on its engine or on the DRAM channel. The
prefetch goes on the DRAM channel once the op's inputs are written; the compute starts after the prefetch and the
latency, once the engine is free; the stream runs from the compute's start; the drain follows the compute (the op
has finished when it ends, the engine is free before). The compute also waits until the windows already placed
leave room on the channel for its stream rate all along its window (`schedule.stream_rate`: the compute windows
running together need at most the bandwidth): it starts at the end of the first window in its way. If the global
buffer cannot also hold the op's need from the prefetch to the compute's end, the prefetch waits for the next
release. Nothing stays on chip between ops.

`list_schedule` works on plain durations and an initial state, so the CP-SAT scheduler uses it on a window of ops,
in its time quanta, for its first solution.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx

from edgesim.overlap.schedule import Schedule, stream_rate
from edgesim.overlap.tasks import OpTasks


@dataclass(slots=True)
class State:
    """What earlier work leaves: when each engine and the DRAM channel are next free, the buffer holds still
    running (start, end, bytes), the compute windows still running with their stream rates (start, end, share of the
    bandwidth), and the earliest start of each op (its inputs' writers having finished)."""

    free: dict[str, float] = field(default_factory=lambda: {"array": 0.0, "vector": 0.0, "dram": 0.0})
    holds: list[tuple[float, float, float]] = field(default_factory=list)
    earliest: dict[int, float] = field(default_factory=dict)
    rates: list[tuple[float, float, float]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Durations:
    engine: Sequence[str]
    prefetch: Sequence[float]
    latency: Sequence[float]
    compute: Sequence[float]
    stream: Sequence[float]
    hold: Sequence[float]
    drain: Sequence[float]
    rate: Sequence[float]  # the share of the bandwidth the stream takes all along the compute window

    @staticmethod
    def of(tasks: Sequence[OpTasks]) -> Durations:
        return Durations([t.engine for t in tasks], [t.prefetch for t in tasks], [t.latency for t in tasks],
                         [t.compute for t in tasks], [t.stream for t in tasks], [t.hold_bytes for t in tasks],
                         [t.drain for t in tasks], [stream_rate(t.stream, t.compute) for t in tasks])


def _rate_clash(rates: list[tuple[float, float, float]], start: float, end: float, rate: float) -> float | None:
    """The end of the first window of `rates` in the way of a window [start, end) at `rate` (None: it fits)."""
    if rate <= 0:
        return None
    live = [w for w in rates if w[1] > start and w[0] < end]
    for x in sorted({start, *(s for s, _, _ in live if s > start)}):
        on = [w for w in live if w[0] <= x < w[1]]
        if rate + sum(r for _, _, r in on) > 1 + 1e-9:
            return min(e for _, e, _ in on)
    return None


def _peak(holds: list[tuple[float, float, float]], start: float, end: float) -> float:
    """The most the holds occupy at any time in [start, end)."""
    times = [start, *(s for s, _, _ in holds if start < s < end)]
    return max(sum(b for s, e, b in holds if s <= x < e) for x in times)


def list_schedule(d: Durations, ops: Sequence[int], graph: nx.DiGraph[int], capacity: float, state: State,
                  priority: dict[int, float]) -> dict[int, tuple[float, float, float]]:
    """(prefetch start, compute start, stream start) of each op of `ops` (graph nodes; edges to ops outside `ops`
    are given by `state.earliest`), placed highest `priority` first among those whose predecessors are placed."""
    inside = set(ops)
    waiting = {v: sum(1 for u in graph.pred[v] if u in inside) for v in ops}
    ready = [(-priority[v], v) for v in ops if waiting[v] == 0]
    heapq.heapify(ready)
    free, holds, rates = dict(state.free), list(state.holds), list(state.rates)
    end: dict[int, float] = {}
    max_latency = max((d.latency[i] for i in ops), default=0.0)
    out: dict[int, tuple[float, float, float]] = {}
    while ready:
        _, i = heapq.heappop(ready)
        eng = d.engine[i]
        lo = max([state.earliest.get(i, 0.0), *(end[u] for u in graph.pred[i] if u in inside)])
        x_lo = 0.0  # the compute's earliest start the channel's rate allows
        while True:
            if d.prefetch[i] > 0:
                p = max(lo, free["dram"])
                x = max(p + d.prefetch[i] + d.latency[i], free.get(eng, 0.0), x_lo)
            else:  # no prefetch: the op (and its buffer hold) begins with the latency before its compute
                x = max(lo + d.latency[i], free.get(eng, 0.0), free["dram"] if d.stream[i] > 0 else 0.0, x_lo)
                p = x - d.latency[i]
            e = x + d.compute[i]
            clash = _rate_clash(rates, x, e, d.rate[i])
            if clash is not None:
                x_lo = clash  # after the window in the way (its end is later than x: progress)
                continue
            live = [h for h in holds if h[1] > p]
            if d.hold[i] <= 0 or not live or _peak(live, p, e) + d.hold[i] <= capacity:
                break
            lo = min(h[1] for h in live)  # wait for the next release
        # a later op's hold starts no earlier than this (the DRAM channel's or an engine's next free time, less the
        # latency), so holds that ended before it can no longer overlap one
        horizon = min(free.values()) - max_latency
        holds = [h for h in holds if h[1] > horizon]
        if d.hold[i] > 0:
            holds.append((p, e, d.hold[i]))
        # a later op's compute starts no earlier than the first engine's next free time
        rates = [w for w in rates if w[1] > min(free.get(k, 0.0) for k in ("array", "vector"))]
        if d.rate[i] > 0:
            rates.append((x, e, d.rate[i]))
        if eng in free:
            free[eng] = e
        if d.prefetch[i] > 0:
            free["dram"] = p + d.prefetch[i]
        if d.stream[i] > 0:
            free["dram"] = x + d.stream[i]
        end[i] = e + d.drain[i]
        out[i] = (p, x, x)
        for v in graph.succ[i]:
            if v in inside:
                waiting[v] -= 1
                if waiting[v] == 0:
                    heapq.heappush(ready, (-priority[v], v))
    if len(out) != len(ops):
        raise ValueError("the op graph has a cycle")
    return out


def tail_lengths(graph: nx.DiGraph[int], weight: Sequence[float]) -> dict[int, float]:
    """Each op's longest path to a sink, its own weight included."""
    tail: dict[int, float] = {}
    for v in reversed(list(nx.topological_sort(graph))):
        tail[v] = weight[v] + max((tail[u] for u in graph.succ[v]), default=0.0)
    return tail


def _schedule(tasks: Sequence[OpTasks], name: str, times: dict[int, tuple[float, float, float]],
              seconds: float) -> Schedule:
    n = len(tasks)
    p, x, r = ([times[i][k] for i in range(n)] for k in range(3))
    comp = [t.compute for t in tasks]
    return Schedule(scheduler=name, prefetch_start=tuple(p), compute_start=tuple(x), compute_cycles=tuple(comp),
                    stream_start=tuple(r), stream_cycles=tuple(t.stream for t in tasks), kept=(),
                    makespan=max((x[i] + comp[i] + t.drain for i, t in enumerate(tasks)), default=0.0),
                    dram_bytes=sum(t.dram_bytes for t in tasks), stats={"seconds": seconds},
                    drain_cycles=tuple(t.drain for t in tasks))


def serial(tasks: Sequence[OpTasks]) -> Schedule:
    """One op after another in step order, each alone: the makespan is the sum of the ops' cycles."""
    t0 = time.perf_counter()
    times: dict[int, tuple[float, float, float]] = {}
    now = 0.0
    for i, t in enumerate(tasks):
        x = now + t.prefetch + t.latency
        times[i] = (now, x, x)
        now = x + t.compute + t.drain
    return _schedule(tasks, "none", times, time.perf_counter() - t0)


def greedy(tasks: Sequence[OpTasks], graph: nx.DiGraph[int], capacity: float) -> Schedule:
    t0 = time.perf_counter()
    priority = tail_lengths(graph, [t.serial for t in tasks])
    times = list_schedule(Durations.of(tasks), range(len(tasks)), graph, capacity, State(), priority)
    return _schedule(tasks, "greedy", times, time.perf_counter() - t0)
