"""A step's schedule: when each op's prefetch, compute, stream and drain run, which tensors stay on chip; its checker
and the lower bound every schedule of the same tasks obeys.

Times are cycles from the step's start. An op's drain follows its compute window: its engine is free, and it has
finished (`Schedule.finish`) when the drain ends. A schedule is valid (`violations` finds nothing) when:
- each op's compute starts no earlier than its prefetch's end plus the DRAM latency, and lasts at least its compute
  cycles given what it keeps on chip; its stream lies inside its compute window;
- each op's prefetch starts after every op it reads a tensor from has finished;
- the PE array, the vector unit and the DRAM channel (prefetches and streams) each run one task at a time;
- the compute windows running at any time need at most the channel's bandwidth: a window carries its stream spread
  over it (`stream_rate`: stream cycles / window cycles of the bandwidth), as the tile pipeline moves a tile's data
  while the previous tile computes, so streams placed apart in time still share the channel wherever their windows
  overlap (the prefetches and the drains are not counted);
- the global buffer never holds more than its capacity: each GEMM's need from its prefetch's start to its compute's
  end, and each tensor kept on chip from its writer's compute start to its last reader's compute end;
- a kept tensor has one writer, and each reader starts after the writer ends (as every dependency).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx

from edgesim.overlap.graph import Candidate
from edgesim.overlap.tasks import ENGINES, OpTasks

RTOL = 1e-9  # relative slack of the checks, for float rounding


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    scheduler: str  # none (serial), greedy or cpsat
    prefetch_start: tuple[float, ...]
    compute_start: tuple[float, ...]
    compute_cycles: tuple[float, ...]  # the window each op holds its engine (at least what it needs)
    stream_start: tuple[float, ...]
    stream_cycles: tuple[float, ...]
    kept: tuple[Candidate, ...]  # tensors that stay on chip
    makespan: float
    dram_bytes: float
    stats: dict[str, float] = field(default_factory=dict)  # the scheduler's: seconds, windows, solver bounds
    drain_cycles: tuple[float, ...] = ()  # per op, after its compute window (empty: no op drains)

    def end(self, i: int) -> float:
        """The end of op i's compute window (its engine is free from then on)."""
        return self.compute_start[i] + self.compute_cycles[i]

    def finish(self, i: int) -> float:
        """When op i has finished: its drain (the last write-back) after its compute window has ended."""
        return self.end(i) + (self.drain_cycles[i] if self.drain_cycles else 0.0)


def stream_rate(stream: float, window: float) -> float:
    """The share of the DRAM bandwidth a compute window of `window` cycles carrying `stream` cycles of transfers
    needs all along (0 for an empty window)."""
    return stream / window if window > 0 and stream > 0 else 0.0


def rate_overload(windows: Sequence[tuple[float, float, float]], tol: float) -> list[tuple[float, float]]:
    """(time, total rate) wherever the (start, end, rate) windows running together need more than the whole
    bandwidth (windows that only touch, within `tol`, do not overlap)."""
    events = sorted([(e - tol, 0, -r) for s, e, r in windows if e - s > tol and r > 0]
                    + [(s, 1, r) for s, e, r in windows if e - s > tol and r > 0])
    total, out = 0.0, []
    for time, kind, r in events:
        total += r
        if kind and total > 1 + 1e-9:
            out.append((time, total))
    return out


def op_starts(tasks: Sequence[OpTasks], s: Schedule) -> list[float]:
    """When each op begins: its prefetch, or (with none) the DRAM latency before its compute."""
    return [min(s.prefetch_start[i], s.compute_start[i] - t.latency) for i, t in enumerate(tasks)]


def saved_bytes(tasks: Sequence[OpTasks], kept: Sequence[Candidate]) -> list[float]:
    """DRAM bytes each op does not move because of the kept tensors: the writer's write-back, each reader's reads."""
    saved = [0.0] * len(tasks)
    for c in kept:
        saved[c.producer] += c.bytes
        for r in c.readers:
            saved[r] += sum(x.dram_bytes for x in tasks[r].reads if x.tensor == c.tensor)
    return saved


def saved_traffic(tasks: Sequence[OpTasks], kept: Sequence[Candidate], bandwidth: float) -> list[float]:
    """DRAM bytes each op does not move because of the kept tensors, capped at what its stream carries."""
    return [(t.stream - t.stream_cycles(s, bandwidth)) * bandwidth
            for t, s in zip(tasks, saved_bytes(tasks, kept), strict=True)]


def traffic(tasks: Sequence[OpTasks], kept: Sequence[Candidate], bandwidth: float) -> float:
    """DRAM bytes moved: each op's, less what its kept tensors save."""
    return sum(t.dram_bytes for t in tasks) - sum(saved_traffic(tasks, kept, bandwidth))


def _overlaps(intervals: list[tuple[float, float, str]], tol: float) -> list[str]:
    out = []
    ordered = sorted((s, e, n) for s, e, n in intervals if e - s > tol)
    for (s0, e0, n0), (s1, _, n1) in zip(ordered, ordered[1:], strict=False):
        if s1 < e0 - tol:
            out.append(f"{n0} [{s0:.6g}, {e0:.6g}) overlaps {n1} starting {s1:.6g}")
    return out


def buffer_profile(tasks: Sequence[OpTasks], s: Schedule) -> list[tuple[float, float]]:
    """(time, bytes held from then on) at each change of the global buffer's occupancy."""
    deltas: dict[float, float] = {}
    for i, t in enumerate(tasks):
        if t.hold_bytes > 0:
            deltas[s.prefetch_start[i]] = deltas.get(s.prefetch_start[i], 0.0) + t.hold_bytes
            deltas[s.end(i)] = deltas.get(s.end(i), 0.0) - t.hold_bytes
    for c in s.kept:
        start, end = s.compute_start[c.producer], max(s.end(r) for r in c.readers)
        deltas[start] = deltas.get(start, 0.0) + c.bytes
        deltas[end] = deltas.get(end, 0.0) - c.bytes
    held, out = 0.0, []
    for time in sorted(deltas):
        held += deltas[time]
        out.append((time, held))
    return out


def violations(tasks: Sequence[OpTasks], graph: nx.DiGraph[int], s: Schedule, capacity: float,
               bandwidth: float) -> list[str]:
    """Every way `s` breaks the rules of the module docstring (empty: valid)."""
    tol = RTOL * max(1.0, s.makespan)
    out: list[str] = []
    saved = saved_bytes(tasks, s.kept)
    for i, t in enumerate(tasks):
        if s.compute_start[i] < s.prefetch_start[i] + t.prefetch + t.latency - tol:
            out.append(f"{t.name}: compute starts before its prefetch and the DRAM latency are over")
        if s.compute_cycles[i] < t.compute_cycles(saved[i], bandwidth) - tol:
            out.append(f"{t.name}: compute window {s.compute_cycles[i]:.6g} < needed {t.compute_cycles(saved[i], bandwidth):.6g}")
        if s.stream_cycles[i] < t.stream_cycles(saved[i], bandwidth) - tol:
            out.append(f"{t.name}: stream {s.stream_cycles[i]:.6g} < needed {t.stream_cycles(saved[i], bandwidth):.6g}")
        if s.stream_start[i] < s.compute_start[i] - tol or s.stream_start[i] + s.stream_cycles[i] > s.end(i) + tol:
            out.append(f"{t.name}: stream outside the compute window")
        drain = s.drain_cycles[i] if s.drain_cycles else 0.0
        if drain < t.drain - tol:
            out.append(f"{t.name}: drain {drain:.6g} < needed {t.drain:.6g}")
        if s.finish(i) > s.makespan + tol:
            out.append(f"{t.name}: ends after the makespan")
    for u, v in graph.edges:
        if s.prefetch_start[v] < s.finish(u) - tol:
            out.append(f"{tasks[v].name} starts before {tasks[u].name}, whose output it reads, has finished")
    for engine in ENGINES:
        out += _overlaps([(s.compute_start[i], s.end(i), t.name) for i, t in enumerate(tasks) if t.engine == engine], tol)
    dram = [(s.prefetch_start[i], s.prefetch_start[i] + t.prefetch, f"{t.name}.prefetch") for i, t in enumerate(tasks)]
    dram += [(s.stream_start[i], s.stream_start[i] + s.stream_cycles[i], f"{t.name}.stream") for i, t in enumerate(tasks)]
    out += [f"DRAM: {x}" for x in _overlaps(dram, tol)]
    rates = [(s.compute_start[i], s.end(i), stream_rate(s.stream_cycles[i], s.compute_cycles[i]))
             for i in range(len(tasks))]
    out += [f"DRAM: the compute windows at cycle {t:.6g} stream at {r:.6g} times the bandwidth"
            for t, r in rate_overload(rates, tol)]
    cap_tol = RTOL * max(1.0, capacity)
    for time, held in buffer_profile(tasks, s):
        if held > capacity + cap_tol:
            out.append(f"global buffer holds {held:.6g} B > {capacity:.6g} B at cycle {time:.6g}")
    for c in s.kept:
        if any(c.producer == r for r in c.readers) or any(c.producer not in graph.pred[r] for r in c.readers):
            out.append(f"kept tensor {c.tensor}: a reader does not depend on its writer")
    return out


def lower_bound(tasks: Sequence[OpTasks], graph: nx.DiGraph[int], candidates: Sequence[Candidate],
                bandwidth: float) -> dict[str, float]:
    """Bounds every valid schedule's makespan obeys, with every candidate tensor kept on chip (the least work):
    each engine's busy time, the DRAM channel's, and the critical path. `bound` is their maximum."""
    saved = saved_bytes(tasks, candidates)
    comp = [t.compute_cycles(sv, bandwidth) for t, sv in zip(tasks, saved, strict=True)]
    out = {f"{e}_busy": sum(c for t, c in zip(tasks, comp, strict=True) if t.engine == e) for e in ENGINES}
    out["dram_busy"] = sum(t.prefetch + t.stream_cycles(sv, bandwidth) + t.drain
                           for t, sv in zip(tasks, saved, strict=True))
    finish: dict[int, float] = {}
    for v in nx.topological_sort(graph):
        ready = max((finish[u] for u in graph.pred[v]), default=0.0)
        finish[v] = ready + tasks[v].prefetch + tasks[v].latency + comp[v] + tasks[v].drain
    out["critical_path"] = max(finish.values(), default=0.0)
    out["bound"] = max(out.values())
    return out


def busy_by_group(tasks: Sequence[OpTasks], s: Schedule, groups: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per group (e.g. phase), the cycles each engine computes (its whole compute windows) and the DRAM channel
    transfers (the prefetches, the streams less what stays on chip, and the drains)."""
    out: dict[str, dict[str, float]] = {}
    for i, (t, g) in enumerate(zip(tasks, groups, strict=True)):
        row = out.setdefault(g, {**dict.fromkeys(ENGINES, 0.0), "dram": 0.0})
        if t.engine in row:
            row[t.engine] += s.compute_cycles[i]
        row["dram"] += t.prefetch + s.stream_cycles[i] + t.drain
    return out


def busy_shares(tasks: Sequence[OpTasks], s: Schedule) -> dict[str, float]:
    """Fraction of the makespan each engine and the DRAM channel are busy (`busy_by_group` over all ops)."""
    busy = busy_by_group(tasks, s, [""] * len(tasks)).get("", {**dict.fromkeys(ENGINES, 0.0), "dram": 0.0})
    return {k: v / s.makespan if s.makespan > 0 else 0.0 for k, v in busy.items()}


def attribute(s: Schedule, groups: Sequence[str]) -> dict[str, float]:
    """The makespan split among groups (e.g. phases): each instant goes in equal parts to the groups of the ops under
    way then (from prefetch start to finish); an instant with none goes to the next op to start. Sums to the
    makespan."""
    events: list[tuple[float, int, int]] = []
    for i in range(len(groups)):
        if s.finish(i) > s.prefetch_start[i]:
            events += [(s.prefetch_start[i], 1, i), (s.finish(i), -1, i)]
    events.sort(key=lambda e: (e[0], e[1]))
    out = dict.fromkeys(groups, 0.0)
    active: dict[int, None] = {}
    idle, last = 0.0, 0.0
    for time, kind, i in events:
        span = time - last
        if span > 0:
            if active:
                for j in active:
                    out[groups[j]] += span / len(active)
            else:
                idle += span
        last = time
        if kind > 0:
            if idle > 0:
                out[groups[i]] += idle
                idle = 0.0
            active[i] = None
        else:
            active.pop(i, None)
    return out
