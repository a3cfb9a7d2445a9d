"""Tile-level replay of a step-level schedule: the ops' tile pipelines played together on one DRAM channel and one
global buffer, in the order the schedule chose, to check what its fluid task model promised.

Each op becomes a sequence of chunks, each (bytes loaded, cycles busy on its engine, bytes written back):
- a GEMM's chunks are the tiles of its mapping (`edgesim.sim.tiles.tile_tree`) in loop order, each busy for
  max(compute, buffer bytes / buffer bandwidth, register-port bytes / register-port bandwidth) as in
  `edgesim.sim.pipeline.step`. Beyond `max_chunks` tiles, consecutive tiles are merged into `max_chunks` near-equal
  groups (loads, busy cycles and write-backs summed), walking the runs of the tile tree without expanding them;
- a vector op streams its inputs and output in equal chunks, each busy for max(vector cycles, buffer cycles) /
  chunks, double buffered: as many as keep each chunk's transfer at least one DRAM latency long (so the pipeline
  hides the latency, as the cost model's single latency assumes), at most `VECTOR_CHUNKS` and `max_chunks`;
- an infeasible op has no chunk: it completes when released;
- a tensor kept on chip (`Schedule.kept`) scales its writer's write-backs down by the share of them it saves, and
  each reader's loads by the share of them it saves (`saved_bytes`, per tensor).

Each op's chunks follow the per-tile recurrence of `edgesim.sim.pipeline.step` / `finish`. Double buffered: chunk i's
loads are issued when chunk i-2's compute ends (chunks 0 and 1 at the op's release); chunk i's write-back when its
compute ends; chunk i computes from the latest of chunk i-1's compute end, its data (load transfer end plus the DRAM
read latency) and the end of chunk i-2's write-back. Single buffered: chunk i-1's write-back and then chunk i's
loads are issued when chunk i-1's compute ends, and chunk i computes once both are over. Writes are posted.

Shared resources, played as one discrete-event simulation ordered by time:
- the DRAM channel serves every op's transfers first come, first served by issue time (ties: op index, then the
  order `pipeline.step` issues them in), one at a time at the channel's bandwidth;
- each engine (PE array, vector unit) runs its ops in the order of the schedule's compute starts: an op's first
  compute waits for the previous op on its engine to finish its last compute;
- an op is released (its first load issued) no earlier than its scheduled prefetch start, the completion (last
  compute end and last write-back end, the later) of every op whose output it reads, and its admission into the
  global buffer: it holds its `hold_bytes` from its release to its last compute end, and a kept tensor holds its
  bytes from its writer's first compute start to its last reader's last compute end. Admission reserves the op's
  hold and the kept tensors it writes; an op waits (event driven) until they fit, and is admitted only after the op
  before it on its engine (so a later op cannot take the room of an earlier one it then waits for). Waiting ops are
  admitted in the schedule's order, first fit; an op too large for an empty buffer is admitted into it alone.
The serial replay plays the same ops one after another in step order: each is released when the previous one has
completed, nothing kept on chip, so it is the sum of the ops replayed alone. `replay` builds both `Plan`s
(`schedule_plan`, `serial_plan`) and plays them (`play`, whose `Played` also gives each op's compute times).

What is approximate: merging tiles into chunks coarsens the pipeline (a merged chunk loads, computes and writes back
as a unit, so its fill and drain grow with it; with `max_chunks=None` a GEMM alone is exactly
`edgesim.sim.pipeline.simulate`); a vector op is modelled as equal chunks, not its real access pattern; a kept tensor
scales every chunk's traffic uniformly rather than removing the transfers of that tensor; the channel is strictly
first come, first served (no priorities, no read/write turnaround, no banks).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace

import networkx as nx

from edgesim.arch import ArchSpec
from edgesim.cost.model import GemmCost
from edgesim.cost.vector import VectorCost, stream_bytes
from edgesim.errors import Infeasible
from edgesim.ops import Gemm, VectorOp
from edgesim.overlap.schedule import RTOL, Schedule, op_starts, saved_bytes
from edgesim.overlap.tasks import OpTasks
from edgesim.sim.pipeline import Ports, ports_of
from edgesim.sim.tiles import Node, Seq, Tile, tile_tree

VECTOR_CHUNKS = 64  # the most chunks a vector op streams in
NEG_INF = float("-inf")
_FREE, _READY, _DRAM = 0, 1, 2  # event classes, in the order they are handled at equal times

# (time, class, op or free counter, sequence, bytes, chunk, is a load)
_Event = tuple[float, int, int, int, float, int, bool]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    makespan: float  # cycles, schedule replayed
    serial: float  # cycles, the same ops replayed one after another in step order (the same simulator)
    start: tuple[float, ...]  # per op: its first load issue (or first compute if it loads nothing)
    end: tuple[float, ...]  # per op: its completion (last compute end and last write-back end, the later)
    dram_busy: float  # cycles the channel transferred, schedule replay
    peak_buffer_bytes: float  # schedule replay


@dataclass(frozen=True, slots=True)
class Chunks:
    """One op's work as a sequence of chunks, each loaded, computed on the op's engine and written back."""

    load: tuple[float, ...]  # DRAM bytes loaded before the chunk's compute
    busy: tuple[float, ...]  # cycles on the engine
    writeback: tuple[float, ...]  # DRAM bytes written after it
    double_buffer: bool

    def scaled(self, load: float, writeback: float) -> Chunks:
        if load == 1.0 and writeback == 1.0:
            return self
        return Chunks(tuple(x * load for x in self.load), self.busy, tuple(x * writeback for x in self.writeback),
                      self.double_buffer)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What one replay plays: the ops' chunks and the constraints on when they run."""

    chunks: tuple[Chunks | None, ...]  # None: no work (an infeasible op), completes when released
    engine: tuple[str, ...]
    floor: tuple[float, ...]  # earliest release
    preds: tuple[tuple[int, ...], ...]  # ops that must complete before the release
    order: tuple[float, ...]  # engine order (ties by index); with the floor, the admission order
    hold: tuple[float, ...]  # global-buffer bytes from release to last compute end
    kept: tuple[tuple[int, tuple[int, ...], float], ...] = ()  # (writer, readers, bytes) of tensors kept on chip


@dataclass(frozen=True, slots=True, kw_only=True)
class Played:
    release: tuple[float, ...]
    first_compute: tuple[float, ...]
    last_compute: tuple[float, ...]
    start: tuple[float, ...]
    end: tuple[float, ...]
    makespan: float
    dram_busy: float
    peak_buffer_bytes: float
    forced: int  # admissions over the capacity to break a stall (0 when the buffer rules could be kept)


# ---------------------------------------------------------------------------------------------------- chunks


class _Merger:
    """Accumulates tiles in order into `groups` near-equal groups of consecutive tiles."""

    def __init__(self, tiles: int, groups: int):
        self.tiles, self.groups = tiles, groups
        self.group, self.pos = 0, 0
        self.bound = self._bound(0)
        self.acc = [0.0, 0.0, 0.0]
        self.load: list[float] = []
        self.busy: list[float] = []
        self.writeback: list[float] = []

    def _bound(self, g: int) -> int:
        return ((g + 1) * self.tiles) // self.groups

    def take(self, count: int, load: float, busy: float, writeback: float) -> None:
        """Add `count` tiles (their totals), all inside the current group."""
        self.pos += count
        self.acc[0] += load
        self.acc[1] += busy
        self.acc[2] += writeback
        if self.pos == self.bound:
            self.load.append(self.acc[0])
            self.busy.append(self.acc[1])
            self.writeback.append(self.acc[2])
            self.acc = [0.0, 0.0, 0.0]
            self.group += 1
            if self.group < self.groups:
                self.bound = self._bound(self.group)


def _gemm_chunks(arch: ArchSpec, op: Gemm, cost: GemmCost, max_chunks: int | None) -> Chunks:
    p: Ports = ports_of(arch, cost.mapping)
    tree = tile_tree(arch, op, cost.mapping)
    totals: dict[int, tuple[int, float, float, float]] = {}

    def total(node: Node) -> tuple[int, float, float, float]:
        """(tiles, load bytes, busy cycles, write-back bytes) of one pass of `node`."""
        key = id(node)
        if key not in totals:
            if isinstance(node, Tile):
                busy = max(node.compute_cycles, node.buffer_bytes / p.buffer_bandwidth,
                           node.register_port_bytes / p.register_bandwidth)
                totals[key] = (1, node.load_bytes, busy, node.writeback_bytes)
            else:
                n, ld, bs, wb = 0, 0.0, 0.0, 0.0
                for child, reps in node.items:
                    c = total(child)
                    n, ld, bs, wb = n + c[0] * reps, ld + c[1] * reps, bs + c[2] * reps, wb + c[3] * reps
                totals[key] = (n, ld, bs, wb)
        return totals[key]

    tiles = total(tree)[0]
    merger = _Merger(tiles, tiles if max_chunks is None else min(max_chunks, tiles))

    def walk(node: Node, reps: int) -> None:
        n, ld, bs, wb = total(node)
        while reps > 0:
            whole = min((merger.bound - merger.pos) // n, reps)  # passes that fit in the current group
            if whole > 0:
                merger.take(whole * n, whole * ld, whole * bs, whole * wb)
                reps -= whole
            else:  # a pass straddles the group's end: walk into it (a tile never does: a group has >= 1 tile)
                assert isinstance(node, Seq)
                for child, r in node.items:
                    walk(child, r)
                reps -= 1

    walk(tree, 1)
    return Chunks(tuple(merger.load), tuple(merger.busy), tuple(merger.writeback), cost.mapping.double_buffer)


def _vector_chunks(arch: ArchSpec, op: VectorOp, cost: VectorCost, max_chunks: int | None) -> Chunks:
    latency = float(arch.dram.latency_cycles)
    by_latency = int(cost.dram_cycles // latency) if latency > 0 else VECTOR_CHUNKS
    n = max(1, min(max_chunks or VECTOR_CHUNKS, VECTOR_CHUNKS, by_latency))
    in_bytes, out_bytes = stream_bytes(op)
    busy = max(cost.vector_cycles, cost.glb_cycles) / n
    return Chunks((in_bytes / n,) * n, (busy,) * n, (out_bytes / n,) * n, True)


def op_chunks(arch: ArchSpec, cost: GemmCost | VectorCost | Infeasible, max_chunks: int | None = 256) -> Chunks | None:
    """The chunks of one op (None for an infeasible op)."""
    if max_chunks is not None and max_chunks < 1:
        raise ValueError(f"max_chunks must be >= 1 or None, got {max_chunks}")
    if isinstance(cost, GemmCost):
        return _gemm_chunks(arch, cost.op, cost, max_chunks)
    if isinstance(cost, VectorCost):
        return _vector_chunks(arch, cost.op, cost, max_chunks)
    return None


# ---------------------------------------------------------------------------------------------------- playing


class _Sim:
    """The discrete-event replay of one plan."""

    def __init__(self, plan: Plan, capacity: float, bandwidth: float, latency: float):
        self.plan, self.capacity, self.bw, self.latency = plan, capacity, bandwidth, latency
        n = len(plan.chunks)
        self.n = n
        self.heap: list[_Event] = []
        self.free_counter = 0
        self.channel_free = NEG_INF
        self.dram_busy = 0.0
        # engine chains in the schedule's order
        self.engine_prev = [-1] * n
        self.engine_next = [-1] * n
        last: dict[str, int] = {}
        for i in sorted(range(n), key=lambda j: (plan.order[j], j)):
            if plan.chunks[i] is None:
                continue
            e = plan.engine[i]
            if e in last:
                self.engine_prev[i], self.engine_next[last[e]] = last[e], i
            last[e] = i
        self.admit_key = [(plan.floor[i], plan.order[i], i) for i in range(n)]
        self.succ: list[list[int]] = [[] for _ in range(n)]
        for v, ps in enumerate(plan.preds):
            for u in set(ps):
                self.succ[u].append(v)
        self.preds_left = [len(set(ps)) for ps in plan.preds]
        self.need = list(plan.hold)
        self.kept_left: list[int] = []
        self.kept_end: list[float] = []
        self.kept_of_reader: list[list[int]] = [[] for _ in range(n)]
        for k, (writer, readers, nbytes) in enumerate(plan.kept):
            self.need[writer] += nbytes
            self.kept_left.append(len(set(readers)))
            self.kept_end.append(NEG_INF)
            for r in set(readers):
                self.kept_of_reader[r].append(k)
        self.reserved = 0.0
        self.waiting: set[int] = set()
        self.admitted = [False] * n
        self.forced = 0
        self.now = 0.0  # the time of the event being handled
        # per op pipeline state
        self.release: list[float | None] = [None] * n
        self.next_chunk = [0] * n
        self.ce: list[list[float]] = [[] for _ in range(n)]
        self.ready: list[list[float | None]] = []
        self.wb_end: list[list[float | None]] = []
        for ch in plan.chunks:
            loads = ch.load if ch is not None else ()
            self.ready.append([NEG_INF if x <= 0 else None for x in loads])
            self.wb_end.append([None] * len(loads))
        self.pending_wb = [0] * n
        self.last_wb = [NEG_INF] * n
        self.first_load = [float("inf")] * n
        self.first_compute: list[float | None] = [None] * n
        self.last_compute: list[float | None] = [None] * n
        self.completion: list[float | None] = [None] * n
        self.done = 0

    # -- events

    def push(self, e: _Event) -> None:
        heapq.heappush(self.heap, e)

    def run(self) -> Played:
        for i in range(self.n):
            if self.preds_left[i] == 0:
                self.push((self.plan.floor[i], _READY, i, 0, 0.0, 0, False))
        while self.heap or self.done < self.n:
            if not self.heap:
                self._break_stall()
                continue
            t, cls, a, seq, nbytes, c, is_load = heapq.heappop(self.heap)
            self.now = t
            if cls == _FREE:
                self.reserved -= nbytes
                self._admit(t)
            elif cls == _READY:
                self.waiting.add(a)
                self._admit(t)
            else:
                self._transfer(t, a, nbytes, c, is_load)
        return self._played()

    def _break_stall(self) -> None:
        """Nothing can happen yet ops wait for the buffer (held by kept tensors whose readers wait): admit the
        first of them over the capacity."""
        if not self.waiting:
            raise RuntimeError("replay stalled with ops neither waiting nor under way (a cycle in the op graph?)")
        ok = [i for i in self.waiting if self.engine_prev[i] < 0 or self.admitted[self.engine_prev[i]]]
        i = min(ok or self.waiting, key=lambda j: self.admit_key[j])
        self.forced += 1
        self._start(i, self.now)

    def _admit(self, now: float) -> None:
        tol = RTOL * max(1.0, self.capacity)
        changed = True
        while changed and self.waiting:
            changed = False
            for i in sorted(self.waiting, key=lambda j: self.admit_key[j]):
                ep = self.engine_prev[i]
                if ep >= 0 and not self.admitted[ep]:
                    continue
                if self.reserved + self.need[i] <= self.capacity + tol or self.reserved <= tol:
                    self._start(i, now)
                    changed = True

    def _start(self, i: int, now: float) -> None:
        self.waiting.discard(i)
        self.admitted[i] = True
        self.reserved += self.need[i]
        self.release[i] = now
        ch = self.plan.chunks[i]
        if ch is None:
            self.first_compute[i] = now
            self._last_compute(i, now)
            return
        self._issue_load(i, 0, now)
        if ch.double_buffer and len(ch.busy) > 1:
            self._issue_load(i, 1, now)
        self._advance(i)

    def _issue_load(self, i: int, c: int, t: float) -> None:
        ch = self.plan.chunks[i]
        assert ch is not None
        if ch.load[c] > 0:
            seq = 2 * c if ch.double_buffer else 2 * c + 1  # pipeline.step's order of issue
            self.push((t, _DRAM, i, seq, ch.load[c], c, True))
            self.first_load[i] = min(self.first_load[i], t)

    def _transfer(self, t: float, i: int, nbytes: float, c: int, is_load: bool) -> None:
        start = max(t, self.channel_free)
        end = start + nbytes / self.bw
        self.channel_free = end
        self.dram_busy += nbytes / self.bw
        if is_load:
            self.ready[i][c] = end + self.latency
        else:
            self.wb_end[i][c] = end
            self.pending_wb[i] -= 1
            self.last_wb[i] = max(self.last_wb[i], end)
        self._advance(i)
        self._check_complete(i)

    def _advance(self, i: int) -> None:
        """Start every chunk of op `i` whose inputs are all known."""
        ch = self.plan.chunks[i]
        rel = self.release[i]
        if ch is None or rel is None:
            return
        n = len(ch.busy)
        ce, ready, wb_end = self.ce[i], self.ready[i], self.wb_end[i]
        while self.next_chunk[i] < n:
            c = self.next_chunk[i]
            if c == 0:
                prev = rel
                ep = self.engine_prev[i]
                if ep >= 0:
                    lc = self.last_compute[ep]
                    if lc is None:
                        return
                    prev = max(prev, lc)
            else:
                prev = ce[c - 1]
            rd = ready[c]
            back = c - 2 if ch.double_buffer else c - 1  # whose write-back this chunk's compute waits for
            wd = wb_end[back] if back >= 0 else NEG_INF
            if rd is None or wd is None:
                return
            start = max(prev, rd, wd)
            if c == 0:
                self.first_compute[i] = start
            end = start + ch.busy[c]
            ce.append(end)
            self.next_chunk[i] = c + 1
            if ch.writeback[c] > 0:
                seq = 2 * c + 3 if ch.double_buffer else 2 * c + 2
                self.push((end, _DRAM, i, seq, ch.writeback[c], c, False))
                self.pending_wb[i] += 1
            else:
                wb_end[c] = NEG_INF
            nxt = c + 2 if ch.double_buffer else c + 1
            if nxt < n:
                self._issue_load(i, nxt, end)
            if c == n - 1:
                self._last_compute(i, end)

    def _last_compute(self, i: int, end: float) -> None:
        self.last_compute[i] = end
        self._free(end, self.plan.hold[i])
        for k in self.kept_of_reader[i]:
            self.kept_left[k] -= 1
            self.kept_end[k] = max(self.kept_end[k], end)
            if self.kept_left[k] == 0:
                self._free(self.kept_end[k], self.plan.kept[k][2])
        if self.engine_next[i] >= 0:
            self._advance(self.engine_next[i])
        self._check_complete(i)

    def _free(self, t: float, nbytes: float) -> None:
        if nbytes > 0:
            self.free_counter += 1
            self.push((t, _FREE, self.free_counter, 0, nbytes, 0, False))

    def _check_complete(self, i: int) -> None:
        lc = self.last_compute[i]
        if lc is None or self.pending_wb[i] > 0 or self.completion[i] is not None:
            return
        done = max(lc, self.last_wb[i])
        self.completion[i] = done
        self.done += 1
        for v in self.succ[i]:
            self.preds_left[v] -= 1
            if self.preds_left[v] == 0:
                ready = max([self.plan.floor[v], *(self._completed(u) for u in self.plan.preds[v])])
                self.push((ready, _READY, v, 0, 0.0, 0, False))

    def _completed(self, i: int) -> float:
        c = self.completion[i]
        assert c is not None
        return c

    def _played(self) -> Played:
        n = self.n
        release = [x if x is not None else 0.0 for x in self.release]
        first = [x if x is not None else 0.0 for x in self.first_compute]
        last = [x if x is not None else 0.0 for x in self.last_compute]
        end = [self._completed(i) for i in range(n)]
        start = [min(self.first_load[i], first[i]) for i in range(n)]
        deltas: dict[float, float] = {}
        for i in range(n):
            if self.plan.hold[i] > 0:
                deltas[release[i]] = deltas.get(release[i], 0.0) + self.plan.hold[i]
                deltas[last[i]] = deltas.get(last[i], 0.0) - self.plan.hold[i]
        for k, (writer, _, nbytes) in enumerate(self.plan.kept):
            deltas[first[writer]] = deltas.get(first[writer], 0.0) + nbytes
            deltas[self.kept_end[k]] = deltas.get(self.kept_end[k], 0.0) - nbytes
        held, peak = 0.0, 0.0
        for t in sorted(deltas):
            held += deltas[t]
            peak = max(peak, held)
        return Played(release=tuple(release), first_compute=tuple(first), last_compute=tuple(last),
                      start=tuple(start), end=tuple(end), makespan=max([0.0, *end]), dram_busy=self.dram_busy,
                      peak_buffer_bytes=peak, forced=self.forced)


def play(plan: Plan, capacity: float, bandwidth: float, latency: float) -> Played:
    """Replay `plan` on one DRAM channel (`bandwidth` bytes per cycle, reads arriving `latency` cycles after their
    transfer) and a global buffer of `capacity` bytes."""
    n = len(plan.chunks)
    if not all(len(x) == n for x in (plan.engine, plan.floor, plan.preds, plan.order, plan.hold)):
        raise ValueError("a plan needs one engine, floor, predecessor list, order and hold per op")
    return _Sim(plan, capacity, bandwidth, latency).run()


# ---------------------------------------------------------------------------------------------------- replay


def step_chunks(arch: ArchSpec, costs: Sequence[GemmCost | VectorCost | Infeasible],
                max_chunks: int | None = 256) -> list[Chunks | None]:
    """Each op's chunks, nothing kept on chip (identical ops, as decoder layers' are, are chunked once)."""
    if max_chunks is not None and max_chunks < 1:
        raise ValueError(f"max_chunks must be >= 1 or None, got {max_chunks}")
    cache: dict[Hashable, Chunks | None] = {}
    out: list[Chunks | None] = []
    for c in costs:
        if isinstance(c, Infeasible):
            out.append(None)
            continue
        key: Hashable = (replace(c.op, name=""), c.mapping) if isinstance(c, GemmCost) else replace(c.op, name="")
        if key not in cache:
            cache[key] = op_chunks(arch, c, max_chunks)
        out.append(cache[key])
    return out


def schedule_plan(tasks: Sequence[OpTasks], graph: nx.DiGraph[int], schedule: Schedule,
                  chunks: Sequence[Chunks | None]) -> Plan:
    """The plan of a schedule: its release floors, engine order and kept tensors, which scale their writer's
    write-backs and their readers' loads by the share of them they save."""
    n = len(tasks)
    if len(chunks) != n or len(schedule.compute_start) != n:
        raise ValueError(f"{n} tasks, {len(chunks)} chunked ops and {len(schedule.compute_start)} scheduled ops")
    load_saved, wb_saved = [0.0] * n, [0.0] * n
    for cand in schedule.kept:
        s = saved_bytes(tasks, [cand])
        wb_saved[cand.producer] += s[cand.producer]
        for r in set(cand.readers):
            load_saved[r] += s[r]
    scaled: list[Chunks | None] = []
    for i, ch in enumerate(chunks):
        if ch is None:
            scaled.append(None)
        else:
            scaled.append(ch.scaled(_factor(load_saved[i], sum(ch.load)), _factor(wb_saved[i], sum(ch.writeback))))
    floor = tuple(op_starts(tasks, schedule))
    return Plan(chunks=tuple(scaled), engine=tuple(t.engine for t in tasks), floor=floor,
                preds=tuple(tuple(graph.pred[i]) for i in range(n)), order=tuple(schedule.compute_start),
                hold=tuple(t.hold_bytes for t in tasks),
                kept=tuple((c.producer, c.readers, c.bytes) for c in schedule.kept))


def serial_plan(tasks: Sequence[OpTasks], chunks: Sequence[Chunks | None]) -> Plan:
    """One op after another in step order, each released when the previous one has completed."""
    n = len(tasks)
    return Plan(chunks=tuple(chunks), engine=tuple(t.engine for t in tasks), floor=(0.0,) * n,
                preds=tuple(((i - 1,) if i else ()) for i in range(n)), order=tuple(float(i) for i in range(n)),
                hold=tuple(t.hold_bytes for t in tasks))


def replay(arch: ArchSpec, tasks: Sequence[OpTasks], graph: nx.DiGraph[int], schedule: Schedule,
           costs: Sequence[GemmCost | VectorCost | Infeasible], *, max_chunks: int | None = 256) -> ReplayResult:
    """Replay `schedule` of `tasks` (built from `costs`, same order) at tile level, and the same ops serially."""
    if len(costs) != len(tasks):
        raise ValueError(f"{len(tasks)} tasks but {len(costs)} costs")
    base = step_chunks(arch, costs, max_chunks)
    cap, bw = arch.global_buffer.capacity_bytes, arch.dram.bandwidth_bytes_per_cycle
    latency = float(arch.dram.latency_cycles)
    played = play(schedule_plan(tasks, graph, schedule, base), cap, bw, latency)
    serial = play(serial_plan(tasks, base), cap, bw, latency)
    return ReplayResult(makespan=played.makespan, serial=serial.makespan, start=played.start, end=played.end,
                        dram_busy=played.dram_busy, peak_buffer_bytes=played.peak_buffer_bytes)


def _factor(saved: float, total: float) -> float:
    """The share of `total` left once `saved` is not moved, in [0, 1]."""
    if saved <= 0 or total <= 0:
        return 1.0
    return min(1.0, max(0.0, 1.0 - saved / total))
