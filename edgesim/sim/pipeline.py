"""Tile-level pipeline simulation: DRAM loads, array compute and write-backs as events in time.

Model (cycles, bytes). One DRAM channel serves transfers first-come first-served at
`bandwidth_bytes_per_cycle`; a read's data arrive `latency_cycles` after its transfer ends (the
latency overlaps the next transfer); writes are posted (no latency). Optionally (`Ports.per_operand`,
SCALE-Sim's memory model) A, B and C each have a channel of their own at that bandwidth, working in
parallel; C's channel carries partial sums and outputs. Per tile i:
- double buffered: tile i's loads may start once tile i-2's compute has ended (its buffer half is
  free); the previous tile's write-back is issued when that tile's compute ends; compute i starts
  when its data are ready, compute i-1 has ended and tile i-2's write-back has left (tile i writes
  its outputs into that half: write-backs exert back-pressure);
- single buffered: the previous tile's write-back, then tile i's loads, both after compute i-1 ends;
  compute i waits for both;
- a tile occupies the array for max(compute, buffer bytes / buffer bandwidth, register-port bytes /
  register-port bandwidth): the excess over compute is a buffer-port stall. The register-file port carries
  only the stationary input operand's accesses, as in the cost model (`edgesim.cost.access`).
Waiting for data is split into DRAM latency (at most one latency per wait) and DRAM bandwidth (the
rest: transfer time and queueing behind other transfers). After the last tile, the final write-back
is a bandwidth stall. So total = compute + port + latency + bandwidth stalls, exactly.

Fast path: the recurrence is max-plus, hence shift-invariant: if one repetition of a run moves
every time in the state by the same δ, every later repetition does too and adds the same stalls.
`simulate` plays runs of identical tiles until that happens, then jumps over the rest in closed form.
`tests/sim/oracle.py` checks it against a plain per-tile event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgesim.arch import ArchSpec
from edgesim.mapping import Mapping
from edgesim.ops import Gemm
from edgesim.sim.tiles import Node, Seq, Tile, tile_tree

CAUSES = ("dram_bandwidth", "dram_latency", "buffer_port")
NEG_INF = float("-inf")


@dataclass(slots=True)
class Event:
    lane: str  # "dram", "compute" or "stall"
    start: float
    end: float
    kind: str  # load, writeback, compute, or a stall cause
    label: str = ""
    share: float = 1.0  # for runs jumped in closed form: the fraction of the span the resource is busy


@dataclass(slots=True)
class Ports:
    bandwidth: float  # DRAM bytes per cycle
    latency: float  # DRAM read latency, cycles
    buffer_bandwidth: float
    register_bandwidth: float  # register-file port bytes per cycle, all PEs together
    single_buffered: bool
    per_operand: bool = False  # one channel per operand (A, B, C) instead of one shared channel

    @property
    def channels(self) -> int:
        return 3 if self.per_operand else 1


@dataclass(slots=True)
class State:
    dram_free: list[float] = field(default_factory=lambda: [0.0])  # per channel
    ce1: float = 0.0  # compute end of the previous tile
    ce2: float = 0.0  # compute end of the tile before it
    wb_last: float = 0.0  # when the write-back sent during the previous step (tile i-2's outputs) ended
    pending_writeback: float = 0.0  # bytes the previous tile must write back
    compute: float = 0.0
    stalls: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0.0))
    dram_busy: float = 0.0
    buffer_bytes: float = 0.0
    dram_bytes: float = 0.0
    macs: float = 0.0
    tiles: int = 0

    def times(self) -> list[float]:
        return [*self.dram_free, self.wb_last, self.ce1, self.ce2]

    def shift(self, by: float) -> None:
        self.dram_free = [x + by for x in self.dram_free]
        self.ce1 += by
        self.ce2 += by
        self.wb_last += by

    def counters(self) -> list[float]:
        return [self.compute, *self.stalls.values(), self.dram_busy, self.buffer_bytes, self.dram_bytes, self.macs,
                float(self.tiles)]

    def take_counters(self) -> list[float]:
        """Return the counters and reset them to zero."""
        out = self.counters()
        self.compute = self.dram_busy = self.buffer_bytes = self.dram_bytes = self.macs = 0.0
        self.stalls = dict.fromkeys(CAUSES, 0.0)
        self.tiles = 0
        return out

    def add_counters(self, delta: list[float], times: int) -> None:
        self.compute += delta[0] * times
        for i, c in enumerate(CAUSES):
            self.stalls[c] += delta[1 + i] * times
        self.dram_busy += delta[4] * times
        self.buffer_bytes += delta[5] * times
        self.dram_bytes += delta[6] * times
        self.macs += delta[7] * times
        self.tiles += round(delta[8] * times)


def transfer(s: State, p: Ports, channel: int, issue: float, nbytes: float, log: list[Event] | None,
             kind: str) -> float:
    """Put `nbytes` on a DRAM channel no earlier than `issue`; return when the transfer ends."""
    start = max(issue, s.dram_free[channel])
    end = start + nbytes / p.bandwidth
    s.dram_free[channel] = end
    s.dram_busy += nbytes / p.bandwidth
    s.dram_bytes += nbytes
    if log is not None:
        log.append(Event("dram", start, end, kind))
    return end


def _load(s: State, p: Ports, issue: float, t: Tile, log: list[Event] | None) -> float:
    """Issue the tile's loads; return when its data are ready."""
    if not p.per_operand:
        return transfer(s, p, 0, issue, t.load_bytes, log, "load") + p.latency
    ends = [transfer(s, p, ch, issue, nbytes, log, "load") for ch, nbytes in enumerate(t.load_parts) if nbytes > 0]
    return max(ends) + p.latency


def step(s: State, t: Tile, p: Ports, log: list[Event] | None = None) -> None:
    """Advance the pipeline by one tile."""
    c_channel = p.channels - 1
    wb_done = NEG_INF
    if p.single_buffered and s.pending_writeback > 0:
        wb_done = transfer(s, p, c_channel, s.ce1, s.pending_writeback, log, "writeback")
    ready = NEG_INF
    if t.load_bytes > 0:
        ready = _load(s, p, s.ce1 if p.single_buffered else s.ce2, t, log)
    if not p.single_buffered:
        # tile i writes into the buffer half of tile i-2, whose outputs must have left first
        wb_done = s.wb_last
        if s.pending_writeback > 0:
            s.wb_last = transfer(s, p, c_channel, s.ce1, s.pending_writeback, log, "writeback")
    start = max(s.ce1, ready, wb_done)
    wait = start - s.ce1
    latency_part = min(wait, p.latency) if t.load_bytes > 0 else 0.0
    s.stalls["dram_latency"] += latency_part
    s.stalls["dram_bandwidth"] += wait - latency_part
    busy = max(t.compute_cycles, t.buffer_bytes / p.buffer_bandwidth, t.register_port_bytes / p.register_bandwidth)
    s.compute += t.compute_cycles
    s.stalls["buffer_port"] += busy - t.compute_cycles
    if log is not None:
        if wait > 0:
            log.append(Event("stall", s.ce1, start, "dram_latency" if latency_part >= wait else "dram_bandwidth"))
        log.append(Event("compute", start, start + t.compute_cycles, "compute"))
        if busy > t.compute_cycles:
            log.append(Event("stall", start + t.compute_cycles, start + busy, "buffer_port"))
    s.ce2, s.ce1 = s.ce1, start + busy
    s.pending_writeback = t.writeback_bytes
    s.buffer_bytes += t.buffer_bytes
    s.macs += t.macs
    s.tiles += 1
    # No later transfer is issued before this bound, so an idle channel's stale free time can be raised
    # to it without changing anything; it keeps the state shift-invariant across identical tiles.
    bound = s.ce1 if p.single_buffered else s.ce2
    s.dram_free = [max(x, bound) for x in s.dram_free]
    s.wb_last = max(s.wb_last, s.ce1)  # a write-back that ended before compute i did constrains nothing later


def finish(s: State, p: Ports, log: list[Event] | None = None) -> float:
    """Write back the last C tile; return the total cycles."""
    end = s.ce1
    if s.pending_writeback > 0:
        end = max(end, transfer(s, p, p.channels - 1, s.ce1, s.pending_writeback, log, "writeback"))
        s.pending_writeback = 0.0
    s.stalls["dram_bandwidth"] += end - s.ce1
    if log is not None and end > s.ce1:
        log.append(Event("stall", s.ce1, end, "dram_bandwidth"))
    return end


MAX_CYCLE = 4  # longest period of repetitions looked for (alternating pipelines repeat every 2)


def _play(node: Node, reps: int, s: State, p: Ports, log: list[Event] | None, budget: list[int]) -> None:
    """Play `node` `reps` times, jumping in closed form once the pipeline repeats as a pure time shift.

    The check compares the state after this repetition with the state c = 1..MAX_CYCLE repetitions ago:
    if every time moved by the same δ (and the owed write-back is the same), the next c repetitions
    repeat the last c shifted by δ, and so on, so whole periods are added at once and any remainder
    (fewer than c repetitions) is played.
    """
    history: list[tuple[list[float], float]] = []
    deltas: list[list[float]] = []
    r = 0
    while r < reps:
        # Counters of this repetition are summed from zero, so the deltas used for a jump carry no
        # cancellation error from the (large) running totals.
        history.append((s.times(), s.pending_writeback))
        outer = s.take_counters()
        if isinstance(node, Tile):
            step(s, node, p, log if budget[0] > 0 else None)
            budget[0] -= 1
        else:
            for child, n in node.items:
                _play(child, n, s, p, log, budget)
        deltas.append(s.take_counters())
        s.add_counters(outer, 1)
        s.add_counters(deltas[-1], 1)
        r += 1
        periods = _find_period(s, history, reps - r)
        if periods is not None:
            c, shift, n = periods
            t0 = s.ce1
            period_delta = [sum(d[i] for d in deltas[-c:]) for i in range(len(deltas[-1]))]
            s.shift(shift * n)
            s.add_counters(period_delta, n)
            r += n * c
            if log is not None:
                _log_jump(log, t0, s.ce1, period_delta, n, p, node, reps_per_period=c)
            history.clear()
            deltas.clear()


def _find_period(s: State, history: list[tuple[list[float], float]], left: int) -> tuple[int, float, int] | None:
    """(period c, time shift per period, whole periods that fit in `left`) if the state repeats, else None."""
    now = s.times()
    tol = 1e-14 * max(1.0, abs(s.ce1))
    for c in range(1, min(MAX_CYCLE, len(history)) + 1):
        if left < c:
            return None
        before, pending = history[-c]
        if pending != s.pending_writeback:
            continue
        shift = [a - b for a, b in zip(now, before, strict=True)]
        if max(shift) - min(shift) <= tol:
            return c, shift[-1], left // c
    return None


def _log_jump(log: list[Event], t0: float, t1: float, delta: list[float], periods: float, p: Ports, node: Node,
              reps_per_period: int = 1) -> None:
    """One bar per lane for a run jumped in closed form, labelled with its busy or stall share."""
    span = max(t1 - t0, 1e-12)
    what = "tile" if isinstance(node, Tile) else "block"
    left = int(periods * reps_per_period)
    busy = delta[0] * periods / span
    log.append(Event("compute", t0, t1, "compute", f"steady: {left:,} more x {what}, array busy {busy:.0%}", busy))
    dram = delta[4] * periods / p.channels / span
    log.append(Event("dram", t0, t1, "load", f"steady: DRAM busy {dram:.0%}", dram))
    for i, cause in enumerate(CAUSES):
        if delta[1 + i] > 0:
            share = delta[1 + i] * periods / span
            log.append(Event("stall", t0, t1, cause, f"steady: {share:.0%} of the time", share))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    total_cycles: float
    compute_cycles: float
    stall_cycles: dict[str, float]
    dram_bytes: float
    dram_busy_cycles: float
    buffer_bytes: float
    macs: float
    tiles: int
    utilization: dict[str, float]  # fraction of total cycles each resource is busy
    timeline: tuple[Event, ...]

    @property
    def stalls_total(self) -> float:
        return sum(self.stall_cycles.values())


def ports_of(arch: ArchSpec, mapping: Mapping, *, per_operand: bool = False) -> Ports:
    rf = arch.registers
    return Ports(bandwidth=arch.dram.bandwidth_bytes_per_cycle, latency=float(arch.dram.latency_cycles),
                 buffer_bandwidth=arch.global_buffer.bandwidth_bytes_per_cycle,
                 register_bandwidth=rf.bandwidth_bytes_per_cycle * rf.instances,
                 single_buffered=not mapping.double_buffer, per_operand=per_operand)


def simulate(arch: ArchSpec, op: Gemm, mapping: Mapping, *, max_events: int = 2000, per_operand: bool = False,
             tree: Seq | None = None) -> SimResult:
    """Simulate the tile pipeline of `op` under `mapping`; keep at most `max_events` explicit tile events.

    `per_operand=True` gives A, B and C a DRAM channel each (SCALE-Sim's memory model) instead of one
    shared channel.
    """
    p = ports_of(arch, mapping, per_operand=per_operand)
    s = State(dram_free=[0.0] * p.channels)
    log: list[Event] = []
    _play(tree if tree is not None else tile_tree(arch, op, mapping), 1, s, p, log, [max_events])
    total = finish(s, p, log)
    return result_of(s, total, p, log)


def play_tree(tree: Seq, p: Ports, *, max_events: int = 2000) -> SimResult:
    """Simulate a prebuilt tile tree on ports `p` (what `simulate` does once it has its tree and ports); used by
    `edgesim.sim.nest_tiles` for loop nests, whose ports come from a `Hierarchy` rather than an `ArchSpec`."""
    s = State(dram_free=[0.0] * p.channels)
    log: list[Event] = []
    _play(tree, 1, s, p, log, [max_events])
    total = finish(s, p, log)
    return result_of(s, total, p, log)


def result_of(s: State, total: float, p: Ports, log: list[Event]) -> SimResult:
    span = max(total, 1e-12)
    return SimResult(total_cycles=total, compute_cycles=s.compute, stall_cycles=dict(s.stalls),
                     dram_bytes=s.dram_bytes, dram_busy_cycles=s.dram_busy, buffer_bytes=s.buffer_bytes,
                     macs=s.macs, tiles=s.tiles,
                     utilization={"pe_array": s.compute / span, "dram": s.dram_busy / p.channels / span,
                                  "global_buffer": s.buffer_bytes / p.buffer_bandwidth / span},
                     timeline=tuple(log))
