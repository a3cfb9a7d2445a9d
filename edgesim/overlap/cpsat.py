"""Step-level scheduling with OR-Tools CP-SAT over a rolling horizon of op windows.

The step's ops are cut into windows at the caller's keys (one decoder layer's forward, its backward, the head; a
window longer than `window_ops` is split). Windows are solved in step order; each starts from what the earlier
ones left (`greedy.State`): its tasks go after the last task already placed on their engine or on the DRAM
channel, its ops after the writers of their inputs, and the buffer holds still running count against the capacity.

The model of one window, in time quanta of `quantum_cycles` (durations rounded up, capacities down, so a solution
is valid in cycles):
- per op, interval variables for the prefetch and the stream (`AddNoOverlap` on the DRAM channel: one transfer at
  a time) and for the compute (`AddNoOverlap` per engine); compute after prefetch plus latency, the stream inside
  the compute window and the drain after it, each op's prefetch after the writers of its inputs have finished
  (compute and drain);
- the DRAM channel's bandwidth as `AddCumulative` over the compute windows that stream, each taking its stream
  rate (`schedule.stream_rate`, with nothing kept on chip: keeping shortens the stream at least as much as the
  window, so the rate only falls) in `RATE_UNITS`ths of the bandwidth, rounded up, and the windows of earlier ones
  still running;
- the global buffer as `AddCumulative` over each GEMM's need from its prefetch's start to its compute's end, the
  holds of earlier windows, and each kept tensor's bytes;
- a tensor whose writer and readers are all in the window may stay on chip (a Boolean per tensor, an optional
  interval from its writer's compute start to its last reader's compute end): its writer's write-back and its
  readers' loads leave their streams, and a compute window shrinks by the stream cycles saved, down to its
  on-chip cycles;
- objective: the window's makespan; then, at the solver's times, each further tensor the buffer can hold over its
  whole stay is kept too (largest saving first), which leaves the makespan and lowers the traffic.
The better of two list schedules of the window (critical path first, and step order) is the solver's hint, and the
answer in a window where the solver finds nothing better within its budget (`hint_windows` counts them). The
step-order list schedule never ends later than one op after another, so neither does this scheduler. One
worker and a deterministic-time budget per window make the answer reproducible. Windows with the same tasks and
the same starting state (identical decoder layers) are solved once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import networkx as nx
from ortools.sat.python import cp_model

from edgesim.overlap.graph import Candidate, reuse_candidates
from edgesim.overlap.greedy import Durations, State, list_schedule, tail_lengths
from edgesim.overlap.schedule import Schedule, saved_bytes, stream_rate, traffic
from edgesim.overlap.tasks import ENGINES, OpTasks

RATE_UNITS = 1000  # the DRAM bandwidth in the model's rate units

_Solution = tuple[tuple[tuple[int, int, int, int, int], ...], tuple[bool, ...], str, int, int]


# windows solved in this process, by their settings and data: identical decoder layers, and the layers an Edge-LLM
# step shares with its other phases, are solved once (the answer is deterministic, so this changes no figure)
_SOLVED: dict[Hashable, _Solution] = {}


def clear_cache() -> None:
    """Forget every solved window (benchmarks time cold scheduling with it)."""
    _SOLVED.clear()


@dataclass(frozen=True, slots=True, kw_only=True)
class CpSatSettings:
    window_ops: int = 64  # the most ops in one window
    deterministic_seconds: float = 0.2  # CP-SAT's deterministic-time budget per window (roughly seconds of one core)
    quantum_cycles: float = 1.0
    buffer_unit_bytes: float = 64.0  # the buffer's capacity and holds in units of this many bytes
    reuse: bool = True  # let tensors stay on chip between ops


def default_quantum(tasks: Sequence[OpTasks]) -> float:
    """A power of ten at most 1% of the 10th-percentile op (prefetch or compute), so rounding up each task to whole
    quanta changes nine ops in ten by at most 1%; the same for steps made of the same kinds of ops (so windows repeat
    across an Edge-LLM step's phases)."""
    sizes = sorted(d for t in tasks for d in (t.prefetch, t.compute) if d > 0)
    if not sizes:
        return 1.0
    return float(max(1, 10 ** math.floor(math.log10(max(1.0, sizes[len(sizes) // 10] / 100)))))


def windows(keys: Sequence[Hashable], most: int) -> list[list[int]]:
    """Runs of equal consecutive keys, each cut into pieces of at most `most` ops."""
    out: list[list[int]] = []
    run: list[int] = []
    for i, k in enumerate(keys):
        if run and (keys[run[0]] != k or len(run) >= most):
            out.append(run)
            run = []
        run.append(i)
    if run:
        out.append(run)
    return out


def _solver(st: CpSatSettings, seed: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = 1
    prm.random_seed = seed
    prm.catch_sigint_signal = False
    prm.max_deterministic_time = st.deterministic_seconds
    # no LP relaxation: on LLaMA-7B's windows it took up to eight times the deterministic budget in wall time (its
    # work is not all counted as deterministic time), and without it the same budget finds shorter schedules
    prm.linearization_level = 0
    return solver


def _up(t: float, origin: float, q: float) -> int:
    """A time as quanta after `origin`, rounded up (never before the origin)."""
    return max(0, math.ceil((t - origin) / q - 1e-9))


class _Window:
    """The quantised data of one window and its CP-SAT model."""

    def __init__(self, tasks: Sequence[OpTasks], graph: nx.DiGraph[int], ops: list[int], cands: list[Candidate],
                 state: State, origin: float, st: CpSatSettings, bandwidth: float, capacity: float):
        q, unit = st.quantum_cycles, st.buffer_unit_bytes
        self.ops, self.cands = ops, cands
        local = {v: k for k, v in enumerate(ops)}
        self.pre = [math.ceil(tasks[i].prefetch / q - 1e-9) for i in ops]
        self.lat = [math.ceil(tasks[i].latency / q - 1e-9) for i in ops]
        self.comp = [math.ceil(tasks[i].compute / q - 1e-9) for i in ops]
        self.floor = [math.ceil(tasks[i].on_chip / q - 1e-9) if tasks[i].reuse else self.comp[k] for k, i in enumerate(ops)]
        self.stream = [math.ceil(tasks[i].stream / q - 1e-9) for i in ops]
        self.drain = [math.ceil(tasks[i].drain / q - 1e-9) for i in ops]
        self.hold = [math.ceil(tasks[i].hold_bytes / unit - 1e-9) for i in ops]
        # the stream's share of the bandwidth over the compute window, in rate units (of the quantised durations,
        # which the rounding of both leaves at least the share in cycles)
        self.rate = [math.ceil(RATE_UNITS * stream_rate(st_, c) - 1e-9) for st_, c in zip(self.stream, self.comp,
                                                                                          strict=True)]
        self.engine = [tasks[i].engine for i in ops]
        self.edges = sorted((local[u], local[v]) for u, v in graph.subgraph(ops).edges)
        self.earliest = [_up(state.earliest.get(i, origin), origin, q) for i in ops]
        self.free = {r: _up(state.free[r], origin, q) for r in ("array", "vector", "dram")}
        self.prior = sorted((max(0, math.floor((s - origin) / q)), _up(e, origin, q), math.ceil(b / unit - 1e-9))
                            for s, e, b in state.holds if e > origin)
        self.capacity = math.floor(capacity / unit + 1e-9)
        self.prior_rates = sorted((max(0, math.floor((s - origin) / q)), _up(e, origin, q),
                                   math.ceil(RATE_UNITS * r - 1e-9)) for s, e, r in state.rates if e > origin)
        # stream quanta each kept candidate saves each op (rounded down)
        self.saves: list[dict[int, int]] = [{} for _ in ops]
        self.cand_units = []
        for c_i, c in enumerate(cands):
            one = saved_bytes(tasks, [c])
            for i in (c.producer, *c.readers):
                if one[i] > 0:
                    self.saves[local[i]][c_i] = math.floor(one[i] / bandwidth / q + 1e-9)
            self.cand_units.append(math.ceil(c.bytes / unit - 1e-9))
        self.cand_ops = [(local[c.producer], tuple(local[r] for r in c.readers)) for c in cands]

    def key(self) -> Hashable:
        return (tuple(self.pre), tuple(self.lat), tuple(self.comp), tuple(self.floor), tuple(self.stream),
                tuple(self.drain), tuple(self.hold), tuple(self.engine), tuple(self.edges), tuple(self.earliest),
                tuple(sorted(self.free.items())), tuple(self.prior), tuple(self.prior_rates), self.capacity,
                tuple(tuple(sorted(s.items())) for s in self.saves), tuple(self.cand_units), tuple(self.cand_ops))

    def hint(self) -> list[tuple[int, int, int]]:
        """The better of two list schedules of the window (in quanta): critical path first, and in step order (which
        never ends later than one op after another)."""
        n = len(self.ops)
        g: nx.DiGraph[int] = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(self.edges)
        d = Durations(self.engine, self.pre, self.lat, self.comp, self.stream, self.hold, self.drain,
                      [r / RATE_UNITS for r in self.rate])
        state = State(free=dict(self.free), holds=[(float(s), float(e), float(b)) for s, e, b in self.prior],
                      earliest={k: float(e) for k, e in enumerate(self.earliest)},
                      rates=[(float(s), float(e), r / RATE_UNITS) for s, e, r in self.prior_rates])
        critical = tail_lengths(g, [p + lt + c + dr for p, lt, c, dr in
                                    zip(self.pre, self.lat, self.comp, self.drain, strict=True)])
        best: list[tuple[int, int, int]] = []
        for prio in (critical, {k: float(n - k) for k in range(n)}):
            times = list_schedule(d, range(n), g, float(self.capacity), state, prio)
            out = [(int(times[k][0]), int(times[k][1]), int(times[k][2])) for k in range(n)]
            if not best or self.span(out) < self.span(best):
                best = out
        return best

    def span(self, times: list[tuple[int, int, int]]) -> int:
        return max((x + c + dd for (_, x, _), c, dd in zip(times, self.comp, self.drain, strict=True)), default=0)

    def solve(self, st: CpSatSettings, seed: int) -> _Solution:
        n = len(self.ops)
        hint = self.hint()
        horizon = max([*self.free.values(), *self.earliest, *(e for _, e, _ in self.prior), 0]) + \
            sum(self.pre) + sum(self.lat) + sum(self.comp) + sum(self.stream) + sum(self.drain) + 1
        m = cp_model.CpModel()
        p = [m.new_int_var(0, horizon, f"p{k}") for k in range(n)]
        x = [m.new_int_var(0, horizon, f"x{k}") for k in range(n)]
        r = [m.new_int_var(0, horizon, f"r{k}") for k in range(n)]
        keep = [m.new_bool_var(f"keep{c}") for c in range(len(self.cands))]
        csize: list[cp_model.IntVar | int] = []
        rsize: list[cp_model.IntVar | int] = []
        for k in range(n):
            if self.saves[k]:
                cs = m.new_int_var(self.floor[k], self.comp[k], f"c{k}")
                rs = m.new_int_var(0, self.stream[k], f"s{k}")
                m.add(rs >= self.stream[k] - sum(keep[c] * v for c, v in self.saves[k].items()))
                m.add(cs >= rs + (self.comp[k] - self.stream[k]))  # shorter by the stream cycles saved
                csize.append(cs)
                rsize.append(rs)
            else:
                csize.append(self.comp[k])
                rsize.append(self.stream[k])
        xe = [m.new_int_var(0, horizon, f"xe{k}") for k in range(n)]
        fin: list[cp_model.IntVar] = []  # when each op has finished: its compute and its drain
        dram, engines = [], {e: [] for e in ENGINES}  # type: ignore[var-annotated]
        holds, demands = [], []
        streaming, rates = [], []  # the compute windows that stream, and their shares of the bandwidth
        for k in range(n):
            m.add(p[k] >= self.earliest[k])
            m.add(x[k] >= p[k] + self.pre[k] + self.lat[k])
            if self.pre[k] > 0:
                m.add(p[k] >= self.free["dram"])
                dram.append(m.new_fixed_size_interval_var(p[k], self.pre[k], f"P{k}"))
            compute = m.new_interval_var(x[k], csize[k], xe[k], f"X{k}")
            if self.engine[k] in engines:
                m.add(x[k] >= self.free[self.engine[k]])
                engines[self.engine[k]].append(compute)
            if self.rate[k] > 0:
                streaming.append(compute)
                rates.append(self.rate[k])
            m.add(r[k] >= x[k])
            m.add(r[k] + rsize[k] <= xe[k])
            if self.stream[k] > 0:
                m.add(r[k] >= self.free["dram"])
                r_end = m.new_int_var(0, horizon, f"re{k}")
                dram.append(m.new_interval_var(r[k], rsize[k], r_end, f"R{k}"))
            if self.drain[k] > 0:
                f = m.new_int_var(0, horizon, f"f{k}")
                m.add(f == xe[k] + self.drain[k])
                fin.append(f)
            else:
                fin.append(xe[k])
            if self.hold[k] > 0:
                size = m.new_int_var(0, horizon, f"h{k}")
                m.add(size == xe[k] - p[k])
                holds.append(m.new_interval_var(p[k], size, xe[k], f"H{k}"))
                demands.append(self.hold[k])
        for u, v in self.edges:
            m.add(p[v] >= fin[u])
        for c, (prod, readers) in enumerate(self.cand_ops):
            end = m.new_int_var(0, horizon, f"e{c}")
            for rd in readers:
                m.add(end >= xe[rd])
            size = m.new_int_var(0, horizon, f"ks{c}")
            m.add(size == end - x[prod])
            holds.append(m.new_optional_interval_var(x[prod], size, end, keep[c], f"K{c}"))
            demands.append(self.cand_units[c])
        for s, e, units in self.prior:
            holds.append(m.new_fixed_size_interval_var(s, max(0, e - s), f"prior{s}_{e}"))
            demands.append(units)
        m.add_no_overlap(dram)
        for s, e, units in self.prior_rates:
            streaming.append(m.new_fixed_size_interval_var(s, max(0, e - s), f"prior_rate{s}_{e}"))
            rates.append(units)
        if streaming:
            m.add_cumulative(streaming, rates, RATE_UNITS)
        for ivs in engines.values():
            m.add_no_overlap(ivs)
        if holds:
            m.add_cumulative(holds, demands, self.capacity)
        span = m.new_int_var(0, horizon, "makespan")
        for k in range(n):
            m.add(span >= fin[k])
        for k, (hp, hx, hr) in enumerate(hint):
            m.add_hint(p[k], hp)
            m.add_hint(x[k], hx)
            m.add_hint(r[k], hr)
        for b in keep:
            m.add_hint(b, False)
        m.minimize(span)
        solver = _solver(st, seed)
        status = solver.solve(m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or solver.objective_value > self.span(hint):
            # no better solution than the hint within the budget: the hint stands (counted as such)
            bound = int(solver.best_objective_bound) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else 0
            return (tuple((hp, hx, hr, c, s) for (hp, hx, hr), c, s in zip(hint, self.comp, self.stream, strict=True)),
                    (False,) * len(keep), "hint", self.span(hint), bound)
        best, bound, name = int(solver.objective_value), int(solver.best_objective_bound), solver.status_name(status)
        vals = tuple((solver.value(p[k]), solver.value(x[k]), solver.value(r[k]), int(solver.value(csize[k])),
                      int(solver.value(rsize[k]))) for k in range(n))
        return vals, self.keep_more(vals, [solver.boolean_value(b) for b in keep]), name, best, bound

    def keep_more(self, vals: tuple[tuple[int, int, int, int, int], ...], kept: list[bool]) -> tuple[bool, ...]:
        """At the solver's times, also keep each further tensor the buffer can hold over its whole stay, largest saving
        first. Times stay as they are (a kept tensor only shortens streams and the compute they need), so the makespan
        does not change and the traffic falls. (A second CP-SAT solve for the least traffic at the best makespan took
        ten times its deterministic budget in wall time on LLaMA-7B's windows.)"""
        events: list[tuple[int, int]] = [(s, u) for s, e, u in self.prior] + [(e, -u) for s, e, u in self.prior]
        for k, (vp, vx, _, vc, _) in enumerate(vals):
            if self.hold[k] > 0:
                events += [(vp, self.hold[k]), (vx + vc, -self.hold[k])]
        spans = [(vals[prod][1], max(vals[rd][1] + vals[rd][3] for rd in readers)) for prod, readers in self.cand_ops]
        for c, on in enumerate(kept):
            if on:
                events += [(spans[c][0], self.cand_units[c]), (spans[c][1], -self.cand_units[c])]
        saving = [sum(sv.get(c, 0) for sv in self.saves) for c in range(len(kept))]
        for c in sorted(range(len(kept)), key=lambda c: (-saving[c], c)):
            if kept[c] or saving[c] <= 0:
                continue
            start, end = spans[c]
            trial = sorted([*events, (start, self.cand_units[c]), (end, -self.cand_units[c])], key=lambda e: (e[0], e[1]))
            held, ok = 0, True
            for _, delta in trial:
                held += delta
                ok = ok and held <= self.capacity
            if ok:
                kept[c] = True
                events = trial
        return tuple(kept)


def cpsat(tasks: Sequence[OpTasks], graph: nx.DiGraph[int], keys: Sequence[Hashable], capacity: float,
          bandwidth: float, st: CpSatSettings = CpSatSettings(), seed: int = 0) -> Schedule:
    t0 = time.perf_counter()
    n, q = len(tasks), st.quantum_cycles
    pstart, xstart, rstart = [0.0] * n, [0.0] * n, [0.0] * n
    csize, rcycles = [0.0] * n, [0.0] * n
    kept: list[Candidate] = []
    state = State()
    settings = (st.deterministic_seconds, q, st.buffer_unit_bytes, seed)
    stats = {"windows": 0.0, "optimal_windows": 0.0, "hint_windows": 0.0, "repeated_windows": 0.0,
             "solver_gap_cycles": 0.0}
    all_cands = reuse_candidates(tasks) if st.reuse else ()
    for ops in windows(keys, st.window_ops):
        inside = set(ops)
        cands = [c for c in all_cands if c.producer in inside and all(rd in inside for rd in c.readers)
                 and c.bytes <= capacity]  # (a tensor larger than the whole buffer can never stay)
        for v in ops:
            state.earliest[v] = max([0.0, *(xstart[u] + csize[u] + tasks[u].drain for u in graph.pred[v]
                                            if u not in inside)])
        used = {tasks[i].engine for i in ops} & set(ENGINES)
        if any(tasks[i].prefetch > 0 or tasks[i].stream > 0 for i in ops):
            used.add("dram")
        origin = min(state.free[r] for r in used) if used else max(state.earliest[v] for v in ops)
        w = _Window(tasks, graph, ops, cands, state, origin, st, bandwidth, capacity)
        key = (settings, w.key())
        if key in _SOLVED:
            stats["repeated_windows"] += 1
        else:
            _SOLVED[key] = w.solve(st, seed)
        vals, keeps, status, best, bound = _SOLVED[key]
        stats["windows"] += 1
        stats["optimal_windows"] += status == "OPTIMAL"
        stats["hint_windows"] += status == "hint"
        stats["solver_gap_cycles"] += q * (best - bound)
        win_kept = [c for c, b in zip(cands, keeps, strict=True) if b]
        kept += win_kept
        saved = saved_bytes(tasks, win_kept)
        for k, i in enumerate(ops):
            vp, vx, vr, vc, _ = vals[k]
            pstart[i], xstart[i], rstart[i] = origin + q * vp, origin + q * vx, origin + q * vr
            csize[i] = q * vc
            rcycles[i] = tasks[i].stream_cycles(saved[i], bandwidth)
            t = tasks[i]
            if t.engine in state.free:
                state.free[t.engine] = max(state.free[t.engine], xstart[i] + csize[i])
            if t.prefetch > 0:
                state.free["dram"] = max(state.free["dram"], pstart[i] + t.prefetch)
            if rcycles[i] > 0:
                state.free["dram"] = max(state.free["dram"], rstart[i] + rcycles[i])
            if t.hold_bytes > 0:
                state.holds.append((pstart[i], xstart[i] + csize[i], t.hold_bytes))
            if w.rate[k] > 0:
                state.rates.append((xstart[i], xstart[i] + csize[i], w.rate[k] / RATE_UNITS))
        for c in win_kept:
            state.holds.append((xstart[c.producer], max(xstart[rd] + csize[rd] for rd in c.readers), c.bytes))
    stats["seconds"] = time.perf_counter() - t0
    stats["quantum_cycles"] = q
    return Schedule(scheduler="cpsat", prefetch_start=tuple(pstart), compute_start=tuple(xstart),
                    compute_cycles=tuple(csize), stream_start=tuple(rstart), stream_cycles=tuple(rcycles),
                    kept=tuple(kept),
                    makespan=max((xstart[i] + csize[i] + tasks[i].drain for i in range(n)), default=0.0),
                    dram_bytes=traffic(tasks, kept, bandwidth), stats=stats, drain_cycles=tuple(t.drain for t in tasks))
