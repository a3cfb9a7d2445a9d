"""`--engine scalesim`: SCALE-Sim v3's double-buffered memory system, replayed event by event.

SCALE-Sim (PyPI `scalesim` 3.0.0, files `memory/read_buffer.py`, `write_buffer.py`,
`double_buffered_scratchpad_mem.py`) walks every demand line and every address in Python. This engine gives the
same figures from the same rules, but only does work where something happens: a read window slides, an output
drain starts, or the array stalls. Everything between two such events is skipped with numpy.

The rules (one word = one byte; `bw` is a port's words per cycle; DRAM reads take 1 cycle of latency, writes none):

Reads (ifmap and filter, each its own SRAM and DRAM port).
- The operand's fetch sequence is cut into sets of ceil(SRAM words / 100) words. The active window holds the
  sets of half the SRAM, and a miss slides it forward by the other half (modulo the sequence: a word behind the
  window is found only after the window has gone round the whole operand, one paid fetch per slide).
- Before cycle 0 the first window is fetched: min(ceil(half / bw), sequence rows) requests ending at cycle -1.
- Slide j completes at -1 + j * (ceil(half / bw) + 1), whatever the array is doing. Each slide moves
  ceil(half / bw) * bw words; DRAM reads = fill + slides x that.
- A line's wait: starting from x = t + 1 (t its request cycle), each slide completing at L sets x = L if
  L <= x, else 2L - x (SCALE-Sim adds a positive wait twice and lets a negative one pull the line earlier).
  The line's read stall is x - t - 1.

Writes (ofmap). The SRAM's words are stored as the array writes them, in rows of `bw` words. When the array
writes a word while no drain is in flight and fewer than half the SRAM's words are free, the rows written so
far (the last partial row included) drain, up to ceil(half / bw) rows, one row per cycle from that cycle; their
words count as free at once. A word written while a drain is in flight into a full SRAM stalls the array until
the drain ends. After the last line every remaining row drains, one drain after another.

The array: line i is requested at t = i + S, S the stall so far; each line adds max(ifmap stall, filter stall,
ofmap stall) to S. "Total Cycles" is the last line's write cycle; the span ("incl. prefetch") runs from the first
fill request to the last drained word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from edgesim.compat.scalesim_folds import (
    MAX_OPERAND_WORDS,
    Batch,
    Demands,
    batches,
    conv_operands,
    gemm_operands,
    plan_layer,
    utilisation,
)
from edgesim.errors import ConfigError, Problem
from edgesim.mapping import Dataflow

IntArray = npt.NDArray[np.int64]
READ_LATENCY = 1  # SCALE-Sim's read port latency without Ramulator traces (cycles)
WRITE_LATENCY = 0  # its write port's
ACTIVE_FRACTION = 0.5  # SCALE-Sim's active share of a double-buffered SRAM
KB = 1024  # SCALE-Sim's "kB"


class BandwidthMode(StrEnum):
    USER = "USER"  # the config's bandwidths: reads stall on DRAM
    CALC = "CALC"  # SCALE-Sim estimates the bandwidth: reads never stall, outputs drain at `cols` words/cycle


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleSimArch:
    """What SCALE-Sim's architecture config sets that its memory and compute model use (one word = one byte)."""

    name: str = "scalesim"
    rows: int  # ArrayHeight
    cols: int  # ArrayWidth
    ifmap_sram_kb: int  # SCALE-Sim's kB are 1024 bytes
    filter_sram_kb: int
    ofmap_sram_kb: int
    dataflow: Dataflow
    bandwidth_mode: BandwidthMode = BandwidthMode.USER
    ifmap_bw: int = 10  # words/cycle, DRAM -> ifmap SRAM ([layout] IfmapSRAMBankBandwidth)
    filter_bw: int = 10  # [layout] FilterSRAMBankBandwidth
    ofmap_bw: int = 10  # ofmap SRAM -> DRAM ([architecture_presets] Bandwidth, first value)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleSimRun:
    """One layer's figures, named as in SCALE-Sim's COMPUTE_REPORT and DETAILED_ACCESS_REPORT."""

    layer: str
    m: int
    n: int
    k: int
    total_cycles: int  # "Total Cycles": last demand line plus stalls (no initial fill, no final drain)
    stall_cycles: int
    span_cycles: int  # "Total Cycles (incl. prefetch)": first fill read to the last output word drained
    compute_cycles: int  # total - stall
    ifmap_dram_reads: int  # words
    filter_dram_reads: int
    ofmap_dram_writes: int
    mapping_efficiency: float  # percent, as SCALE-Sim reports it
    compute_utilization: float  # percent


def run_gemm(arch: ScaleSimArch, m: int, n: int, k: int, *, layer: str = "gemm") -> ScaleSimRun:
    """SCALE-Sim v3's figures for the GEMM (M x K) @ (K x N) on `arch` (SCALE-Sim's GEMM mode)."""
    _check_size(layer, m * k, k * n)
    ifmap, filt = gemm_operands(m, n, k)
    return _run(arch, ifmap, filt, layer, (m, n, k))


def run_conv(arch: ScaleSimArch, ifmap_h: int, ifmap_w: int, filter_h: int, filter_w: int, channels: int,
             filters: int, stride_h: int, stride_w: int, *, layer: str = "conv") -> ScaleSimRun:
    """SCALE-Sim v3's figures for a convolution layer (its im2col GEMM: M = output pixels, K = window, N = filters)."""
    pixels = -(-(ifmap_h - filter_h + stride_h) // stride_h) * -(-(ifmap_w - filter_w + stride_w) // stride_w)
    window = filter_h * filter_w * channels
    _check_size(layer, pixels * window, window * filters)
    ifmap, filt = conv_operands(ifmap_h, ifmap_w, filter_h, filter_w, channels, filters, stride_h, stride_w)
    return _run(arch, ifmap, filt, layer, (ifmap.shape[0], filters, ifmap.shape[1]))


def _check_size(layer: str, ifmap_words: int, filter_words: int) -> None:
    """Refuse a layer whose operand matrices the engine cannot hold (it keeps every word's address, as SCALE-Sim)."""
    for name, words in (("ifmap", ifmap_words), ("filter", filter_words)):
        if words > MAX_OPERAND_WORDS:
            raise ConfigError(Problem(source=f"layer {layer}", path=name,
                                      message=f"{words:,} words; --engine scalesim holds at most "
                                              f"{MAX_OPERAND_WORDS:,} words per operand matrix"))


def _run(arch: ScaleSimArch, ifmap: IntArray, filt: IntArray, layer: str, mnk: tuple[int, int, int]) -> ScaleSimRun:
    plan = plan_layer(ifmap, filt, arch.dataflow, arch.rows, arch.cols)
    calc = arch.bandwidth_mode == BandwidthMode.CALC
    ifm = ReadPort(plan.ifmap_fetch, arch.ifmap_sram_kb * KB, arch.ifmap_bw, stalls=not calc)
    fil = ReadPort(plan.filter_fetch, arch.filter_sram_kb * KB, arch.filter_bw, stalls=not calc)
    est_i = EstimatedReads(arch.ifmap_sram_kb * KB)
    est_f = EstimatedReads(arch.filter_sram_kb * KB)
    out = WritePort(arch.ofmap_sram_kb * KB, arch.cols if calc else arch.ofmap_bw)
    array = Array()
    for batch in batches(plan):
        if calc:
            est_i.feed(batch.ifmap)
            est_f.feed(batch.filter)
        array.play(batch, ifm.feed(batch.ifmap), ifm, fil.feed(batch.filter), fil, out)
    total, stall = array.last_write, array.stall
    out.drain_all(total)
    if calc:
        if_reads, fi_reads = est_i.inserted, est_f.inserted
        span = out.last_end - min(est_i.first_read(), est_f.first_read())
    else:
        if_reads, fi_reads = ifm.dram_words(), fil.dram_words()
        span = out.last_end + max(ifm.fill_rows, fil.fill_rows)
    eff, util = utilisation(plan)
    m, n, k = mnk
    return ScaleSimRun(layer=layer, m=m, n=n, k=k, total_cycles=total, stall_cycles=stall, span_cycles=span,
                       compute_cycles=total - stall, ifmap_dram_reads=if_reads, filter_dram_reads=fi_reads,
                       ofmap_dram_writes=out.words, mapping_efficiency=eff, compute_utilization=util)


class ReadPort:
    """One input operand's double-buffered SRAM: where its window slides, and when each slide completes."""

    def __init__(self, fetch: IntArray, words: int, bw: int, *, stalls: bool = True) -> None:
        eps = math.ceil(words / 100)  # words per set
        active = math.ceil(words * ACTIVE_FRACTION)
        prefetch = words - active
        valid = fetch >= 0
        rank = np.cumsum(valid) - 1
        self.n_sets = int(valid.sum()) // eps + 1  # SCALE-Sim keeps a last (possibly empty) set
        self.n_active = min(math.ceil(active / eps), self.n_sets)
        self.n_prefetch = min(math.ceil(prefetch / eps), self.n_sets - self.n_active) if stalls else 0
        self.fill_rows = min(math.ceil(active / bw), math.ceil(fetch.size / bw))
        self.bw = bw
        self.slide_rows = math.ceil(prefetch / bw)
        # sets of each address (an im2col ifmap repeats words: a word is a hit if any of its sets is in the window)
        self.sets_of = _sets_of(fetch[valid], rank[valid] // eps)
        self.start = 0  # the window's first set
        self.count = 0  # slides so far

    def feed(self, demands: Demands) -> dict[int, list[int]]:
        """The next demands' misses: {line: [slides at each miss of that line, in order]}; the window moves on."""
        if self.n_prefetch == 0:
            return {}
        out, self.start = _slides(self.sets_of[demands.addr], demands.line, self.start, self.n_sets, self.n_active,
                                  self.n_prefetch)
        self.count += sum(sum(s) for s in out.values())
        return out

    def dram_words(self) -> int:
        return (self.fill_rows + self.count * self.slide_rows) * self.bw

    def completion(self, j: int) -> int:
        """Cycle at which the j-th slide's last word arrives (j >= 1)."""
        return -1 + j * (self.slide_rows + READ_LATENCY)


def _sets_of(addr: IntArray, sets: IntArray) -> IntArray:
    """For every address 0..max, the sets holding it, as an (addresses, k) table padded with -1."""
    order = np.lexsort((sets, addr))
    addr, sets = addr[order], sets[order]
    first = np.r_[True, addr[1:] != addr[:-1]]
    start = np.flatnonzero(first)
    slot = np.arange(addr.size) - np.repeat(start, np.diff(np.r_[start, addr.size]))
    table = np.full((int(addr.max()) + 1 if addr.size else 1, int(slot.max()) + 1 if addr.size else 1), -1,
                    dtype=np.int64)
    table[addr, slot] = sets
    return table


def _slides(sets: IntArray, line: IntArray, start: int, n_sets: int, n_active: int,
            n_prefetch: int) -> tuple[dict[int, list[int]], int]:
    """The window's slides, by demand line ({line: [slides at each miss of that line, in order]}), and its new start.

    `sets` holds each demand's sets (one column per copy of its word, -1 padding). A demand hits while one of
    its sets s satisfies (s - start) mod n_sets < n_active; a miss slides the window by n_prefetch sets until it
    hits: ceil(((s - start) mod n_sets - n_active + 1) / n_prefetch) slides.
    """
    out: dict[int, list[int]] = {}
    single = sets.shape[1] == 1
    flat = sets[:, 0]
    pos, size, chunk = 0, sets.shape[0], 256
    while pos < size:
        if single:
            off1 = (flat[pos:pos + chunk] - start) % n_sets
            miss = np.flatnonzero(off1 >= n_active)
        else:
            block = sets[pos:pos + chunk]
            off = (block - start) % n_sets
            miss = np.flatnonzero(~((off < n_active) & (block >= 0)).any(axis=1))
        if miss.size == 0:
            pos += chunk
            chunk = min(chunk * 2, 1 << 16)
            continue
        d = int(miss[0])
        if single:
            slides = -(-(int(off1[d]) - n_active + 1) // n_prefetch)
        else:
            copies = off[d][block[d] >= 0]
            slides = int((-(-(copies - n_active + 1) // n_prefetch)).min())
        out.setdefault(int(line[pos + d]), []).append(slides)
        start = (start + slides * n_prefetch) % n_sets
        pos += d + 1
        chunk = max(64, 2 * d)
    return out, start


class EstimatedReads:
    """CALC mode's DRAM reads (`memory/read_buffer_estimate_bw.py`).

    SCALE-Sim groups the words the array misses, in demand order, into sets of floor(SRAM words / 100); a word
    hits while the set it was last put in is at or after the window's first set, which moves 50 sets on each time
    50 more sets fill. Every set is read once, so the reads are the misses. Within a stretch where the window
    does not move, a word misses only at its first demand in the stretch, and only if its last set is older: one
    numpy pass per stretch.
    """

    WINDOW = 50  # sets
    BW = 10  # SCALE-Sim's default words/cycle for the first read

    def __init__(self, words: int) -> None:
        self.per_set = words // 100
        self.last: IntArray = np.full(0, -1, dtype=np.int64)  # each word's last set
        self.inserted = 0  # words read
        self.start = 0  # the window's first set
        self.first_line = -1  # the first demand's line

    def feed(self, demands: Demands) -> None:
        addr = demands.addr
        if addr.size == 0:
            return
        if self.first_line < 0:
            self.first_line = int(demands.line[0])
        last = self.last
        if last.size <= int(addr.max()):
            last = self.last = np.concatenate([last, np.full(int(addr.max()) + 1 - last.size, -1, dtype=np.int64)])
        per_set, pos = self.per_set, 0
        while pos < addr.size:
            boundary = (self.start + self.WINDOW) * per_set  # the insertion after which the window moves
            chunk = addr[pos:pos + max(4096, 2 * per_set * self.WINDOW)]
            cand = np.flatnonzero(last[chunk] < self.start)
            _, first = np.unique(chunk[cand], return_index=True)
            at = np.sort(cand[first])  # positions (in the chunk) of the misses
            room = boundary - self.inserted
            if at.size >= room:  # the window moves after the room-th miss: the rest of the chunk sees the new one
                at = at[:room]
                last[chunk[at]] = (self.inserted + np.arange(at.size)) // per_set
                self.inserted, self.start, pos = boundary, self.start + self.WINDOW, pos + int(at[-1]) + 1
                continue
            last[chunk[at]] = (self.inserted + np.arange(at.size)) // per_set
            self.inserted += at.size
            pos += chunk.size

    def first_read(self) -> int:
        """Cycle of the first DRAM read: the window's first sets are read just before the first demand, or, if
        fewer sets ever fill, all of them before cycle 0."""
        per_set, window = self.per_set, self.WINDOW
        if self.inserted >= window * per_set:
            return self.first_line - math.ceil(window * per_set / self.BW)
        return -math.ceil(-(-self.inserted // per_set) * per_set / self.BW)


class WritePort:
    """The ofmap SRAM: rows of `bw` words, drained half an SRAM at a time."""

    def __init__(self, words: int, bw: int) -> None:
        self.size = words
        self.active = math.ceil(words * ACTIVE_FRACTION)
        self.drain_rows = math.ceil((words - self.active) / bw)
        self.bw = bw
        self.free = words
        self.drain_end = 0
        self.stored = 0  # words written so far
        self.cut = 0  # words already in complete segments
        self.segments: list[tuple[int, int]] = []  # (full rows, words in a last partial row)
        self.seg, self.row = 0, 0  # drain pointer: segment, row within it
        self.words = 0  # DRAM writes as SCALE-Sim counts them
        self.last_end = 0

    def write_line(self, count: int, t: int) -> int:
        """The array writes `count` words at cycle t; returns the line's write cycle (t plus any stall)."""
        cur = t
        for _ in range(count):
            self.stored += 1
            self.free -= 1
            if cur < self.drain_end:
                if self.free <= 0:
                    cur = self.drain_end
            elif self.free < self.active:
                self.drain_end = self._drain(cur)
        return cur

    def _close_rows(self) -> None:
        """SCALE-Sim forces the words written since the last drain into rows, the last one partial."""
        new = self.stored - self.cut
        if new:
            self.segments.append((new // self.bw, new % self.bw))
            self.cut = self.stored

    def _drain(self, start: int) -> int:
        self._close_rows()
        need, taken, last = self.drain_rows, 0, self.bw
        while need and self.seg < len(self.segments):
            full, part = self.segments[self.seg]
            rows = full + (1 if part else 0)
            take = min(need, rows - self.row)
            self.row += take
            taken += take
            need -= take
            last = part if part and self.row == rows else self.bw
            if self.row == rows:
                self.seg, self.row = self.seg + 1, 0
        moved = taken * self.bw - (self.bw - last) if taken else 0
        self.words += moved
        self.free += moved
        end = start + taken - 1 + WRITE_LATENCY
        self.last_end = max(self.last_end, end)
        return end

    def pending(self) -> bool:
        return self.seg < len(self.segments)

    def drain_all(self, cycle: int) -> None:
        """SCALE-Sim's final drain: every remaining row, from the last line's write cycle, one drain after another."""
        self._close_rows()
        while self.pending():
            cycle = self._drain(cycle) + 1


def _read_stall(port: ReadPort, slides: list[int], done: int, t: int) -> tuple[int, int]:
    """A line's read stall given its misses' slide counts; `done` slides came before. Returns (stall, done)."""
    x = t + 1
    for s in slides:
        for _ in range(s):
            done += 1
            when = port.completion(done)
            x = when if when <= x else 2 * when - x
    return x - t - 1, done


class Array:
    """The array's progress over the demand lines: stall so far, slides used per port, last write cycle."""

    def __init__(self) -> None:
        self.stall = 0
        self.done_i = 0
        self.done_f = 0
        self.last_write = 0

    def play(self, batch: Batch, miss_i: dict[int, list[int]], ifm: ReadPort, miss_f: dict[int, list[int]],
             fil: ReadPort, out: WritePort) -> None:
        """Play one batch's lines: only lines with a miss or an ofmap event are played one by one."""
        words = batch.ofmap_words
        cum = np.cumsum(words)
        events = sorted(set(miss_i) | set(miss_f))
        first, lines = batch.first_line, words.size
        ev, line = 0, 0  # line: local to the batch
        while line < lines:
            nxt = events[ev] - first if ev < len(events) else lines
            here = _next_write_event(out, cum, line, nxt, first + self.stall)
            if here > line:  # lines without any event: the array writes their words, nothing else happens
                n = int(cum[here - 1] - (cum[line - 1] if line else 0))
                out.stored += n
                out.free -= n
                self.last_write = first + here - 1 + self.stall
            if here >= lines:
                break
            t = first + here + self.stall
            s_i, self.done_i = _read_stall(ifm, miss_i.get(first + here, []), self.done_i, t)
            s_f, self.done_f = _read_stall(fil, miss_f.get(first + here, []), self.done_f, t)
            self.last_write = out.write_line(int(words[here]), t)
            self.stall += max(s_i, s_f, self.last_write - t)
            if here == nxt:
                ev += 1
            line = here + 1


def _next_write_event(out: WritePort, cum: IntArray, line: int, end: int, offset: int) -> int:
    """The first line in [line, end) on which the ofmap SRAM stalls or starts a drain (`end` if none).

    The stall is constant over these lines (only event lines add to it), so line l writes at l + offset.
    """
    if line >= end:
        return end
    base = int(cum[line - 1]) if line else 0
    written = cum[line:end] - base  # words written through each line
    busy = max(0, min(end, out.drain_end - offset) - line)  # lines written while a drain is in flight
    if busy:  # a word that leaves the SRAM full stalls the array
        hit = int(np.searchsorted(written[:busy], max(1, out.free), side="left"))
        if hit < busy:
            return line + hit
    rest = written[busy:]
    first = max(1, out.free - out.active + 1)  # the word after which fewer than half the SRAM is free
    if busy:
        first = max(1, out.free - int(written[busy - 1]) - out.active + 1) + int(written[busy - 1])
    hit = int(np.searchsorted(rest, first, side="left"))
    return line + busy + hit if hit < rest.size else end
