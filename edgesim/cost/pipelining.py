"""Cycles of a double-buffered tile pipeline in closed form: what the tile simulator (`edgesim.sim.pipeline`) plays
tile by tile, as the longest of a few paths through it.

The pipeline (edgesim.sim.pipeline's model, one shared DRAM channel served first come, first served): tile i's
loads may start once tile i-2's compute has ended (its buffer half is free); they queue behind every earlier
transfer, among them tile i-2's write-back, issued when tile i-2's compute ended; its data arrive `latency` after
the transfer ends; its compute starts when its data are there and tile i-1's compute has ended; its write-back is
issued when its compute ends. Tiles 0 and 1 load at time 0. With, per tile, x_i its load cycles, w_i its
write-back cycles and b_i its busy cycles (compute, or the buffer or register port when slower), L the latency:

    ce_i >= ce_{i-1} + b_i                              (the array, one tile after the other)
    ce_i >= ce_{i-2} + w_{i-2} + x_i + L + b_i          (the buffer half: a prefetch only one tile ahead)
    the channel moves every byte in order               (loads and write-backs, x_i + w_i per tile)

With only one tile of prefetch, DRAM latency is hidden only behind a tile that computes for longer than the next
tile's load plus the latency (plus the write-back queued ahead of it); otherwise every other tile waits.

Which tiles move what: the innermost DRAM loop that iterates advances on every tile, so the tensors it indexes are
loaded (and, for C, written back) on every tile; the others move once per run of that loop (its trip count of
tiles), in a burst: at the run's first tile for inputs, at its last for C when K is innermost. Per candidate: T
tiles in R runs, B = Σ b_i, the every-tile loads X_e and write-backs W_e, the burst loads X_r and write-backs W_r,
the first tile's load x_0 and the last tile's write-back w_l; per-tile means x = X_e/T, w = W_e/T, b = B/T, and per
run a burst of β = (X_r + W_r)/R. The total is the longer of two paths:

- compute path: x_0 + L + B + S + w_l, the first load and the last write-back exposed, and S the stalls of the
  prefetch window. S takes m two-tile steps (0 <= m <= floor((T-1)/2)), each adding x + w + L - b over the two
  computes it spans, and catches a burst β in each of up to R - 1 of them (the first run's burst is x_0, the last
  run's write-back w_l): the best m among none, one per run, and every other tile. Tile 1, whose load x queues
  behind tile 0's, adds max(0, x - b) where a single step remains.
- DRAM path: all the bytes, X_e + X_r + W_e + W_r, plus the channel's idle time: at the start, until tile 0's
  compute ends and frees tile 2's buffer half (L + b - x, from T = 3), and at the end, while the last tile waits for
  its data and computes (L + b, less the write-back w of tile T-2 that runs meanwhile).

(Runs are one tile long only when no DRAM loop iterates, and then every tensor moves on every tile: no bursts.)

The loop-nest model (`edgesim.cost.nest`) can have an operand whose tile spans several runs and moves less often
than once per run (once, in the extreme: with the first tile only). It passes such transfers separately (`held`):
they count on the DRAM path, and those after an input's first load and before C's last write-back are added whole
to the stalls of both step choices (its bursts all fall on run boundaries, each caught by one two-tile step).

The caller caps the total at the single-buffered cycles (nothing overlaps). Exact for one tile (both paths are
x_0 + L + b_0 + w_l, the serial sum) and, in steady state, for uniform runs: the compute path's per-tile cost is
then max(b, (w + x + L + b) / 2) plus the bursts a two-tile step cannot hide, and the DRAM path's x + w (the
pipeline's max-plus cycle means). Tiles of one mapping differ beyond that (the last tile along a dim is smaller),
and the means stand for them, which underestimates in two cases: where the innermost loop has two trips, a full
and a much smaller tile, the two-tile steps all fall on the full ones; and where full tiles are bound by the buffer
port and the small last tiles by compute, B (the op's max of compute and port cycles) is short of Σ b_i.
benchmarks/bench_engines.py measures the agreement with the simulator.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from edgesim.mapping import LOOP_ORDERS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def innermost_tables() -> tuple[IntArray, BoolArray]:
    """(innermost[order, code], every[order, code, tensor]): the innermost DRAM loop of a loop order (LOOP_ORDERS
    index) that iterates (0 m, 1 n, 2 k; 3 none), given code = bit0 m iterates | bit1 n | bit2 k, and whether that
    loop indexes A, B, C (then the tensor moves on every tile; every tensor does when no loop iterates)."""
    inner = np.full((len(LOOP_ORDERS), 8), 3, dtype=np.int64)
    every = np.ones((len(LOOP_ORDERS), 8, 3), dtype=bool)
    for o, order in enumerate(LOOP_ORDERS):
        for code in range(8):
            d = next(("mnk".index(x) for x in reversed(order) if code >> "mnk".index(x) & 1), 3)
            inner[o, code] = d
            if d < 3:
                every[o, code] = [("mnk"[d] in rel) for rel in ("mk", "kn", "mn")]
    return inner, every


INNERMOST, EVERY = innermost_tables()
_INNER_FLAT = INNERMOST.reshape(-1)  # by order * 8 + code
_EVERY_FLAT = tuple(EVERY[:, :, t].reshape(-1).astype(np.float64) for t in range(3))  # 1.0 where tensor t moves every tile
_INNERMOST_PY: dict[tuple[str, int], tuple[int, tuple[bool, bool, bool]]] = {
    (order, code): (int(INNERMOST[o, code]), (bool(EVERY[o, code, 0]), bool(EVERY[o, code, 1]), bool(EVERY[o, code, 2])))
    for o, order in enumerate(LOOP_ORDERS) for code in range(8)}


def innermost(order: str, m_iterates: bool, n_iterates: bool, k_iterates: bool) -> tuple[int, tuple[bool, bool, bool]]:
    """(innermost iterating DRAM loop, whether it indexes A, B, C) in plain Python (`innermost_tables`)."""
    return _INNERMOST_PY[(order, m_iterates + 2 * n_iterates + 4 * k_iterates)]


CHUNK = 8192  # candidates per pass: a chunk's temporaries stay in cache and are reused between passes


def pipelined_cycles(busy: FloatArray, every_loads: FloatArray, burst_loads: FloatArray, every_writebacks: FloatArray,
                     burst_writebacks: FloatArray, first_load: FloatArray, last_writeback: FloatArray, tiles: FloatArray,
                     runs: FloatArray, latency: float, held_transfers: FloatArray | None = None,
                     held_bursts: FloatArray | None = None) -> FloatArray:
    """Double-buffered total cycles per candidate (module docstring). Cycles: `busy` B, `every_loads` X_e,
    `burst_loads` X_r, `every_writebacks` W_e, `burst_writebacks` W_r, `first_load` x_0, `last_writeback` w_l;
    counts: `tiles` T and `runs` R (1 <= R <= T). The same operations in the same order as `pipelined_cycles_scalar`,
    `CHUNK` candidates at a time: on a whole array of candidates each fresh temporary would cost more (new memory)
    than its arithmetic.

    Optionally, transfers the caller counts per fill instead of once per run (the loop-nest model, whose operand
    tiles can span several runs, `edgesim.cost.nest`): `held_transfers` (cycles, not in X_r or W_r) enter the DRAM
    path only, and `held_bursts` (the part of them the prefetch window must catch: all but the first load, which is
    in x_0, and the last write-back, w_l) are added whole to the stalls of both step choices (bursts that fall on
    run boundaries, at most R - 1 of them). Both default to zero (the three-level model's figures)."""
    args: tuple[FloatArray, ...] = (busy, every_loads, burst_loads, every_writebacks, burst_writebacks, first_load,
                                    last_writeback, tiles, runs)
    if held_transfers is not None or held_bursts is not None:
        zero = np.zeros(len(busy))
        args += (zero if held_transfers is None else held_transfers, zero if held_bursts is None else held_bursts)
    n = len(busy)
    if n <= CHUNK:
        return _pipelined(args, latency)
    out: FloatArray = np.empty(n)
    for start in range(0, n, CHUNK):
        part = slice(start, start + CHUNK)
        out[part] = _pipelined(tuple(a[part] for a in args), latency)
    return out


def three_level_cycles(on_chip: FloatArray, no_overlap: FloatArray, dram_reads: FloatArray, c_writes: FloatArray,
                       tile_in: FloatArray, last_c: FloatArray, nm: IntArray, nn: IntArray, nk: IntArray,
                       order: IntArray, tiles: FloatArray, c_bytes: float, bandwidth: float, latency: float) -> FloatArray:
    """The three-level model's double-buffered cycles (`edgesim.cost.model`), `CHUNK` candidates at a time: per
    candidate its on-chip cycles, its single-buffered cycles (a bound: double buffering never costs more), its DRAM
    reads per tensor (n, 3) and C's DRAM writes (bytes), its first tile's input bytes, its last tile's outputs
    (elements), its DRAM trips per dim, loop order (LOOP_ORDERS index) and tiles. What the innermost iterating DRAM
    loop indexes moves on every tile, the rest once per run of that loop."""
    out: FloatArray = np.empty(len(on_chip))
    for start in range(0, len(on_chip), CHUNK):
        p = slice(start, start + CHUNK)
        m_, n_, k_ = nm[p], nn[p], nk[p]
        key = order[p] * 8 + (m_ > 1) + 2 * (n_ > 1) + 4 * (k_ > 1)
        t = tiles[p]
        runs = t / np.choose(_INNER_FLAT[key], [m_, n_, k_, np.ones_like(m_)])
        r = dram_reads[p]
        ra, rb, rc = r[:, 0], r[:, 1], r[:, 2]
        loads = (ra + rb + rc) / bandwidth
        every_loads = (ra * _EVERY_FLAT[0][key] + rb * _EVERY_FLAT[1][key] + rc * _EVERY_FLAT[2][key]) / bandwidth
        writebacks = c_writes[p] / bandwidth
        every_writebacks = writebacks * _EVERY_FLAT[2][key]
        first_load = np.minimum(tile_in[p] / bandwidth, loads)
        last_writeback = last_c[p] * (c_bytes / bandwidth)
        out[p] = np.minimum(_pipelined((on_chip[p], every_loads, loads - every_loads, every_writebacks,
                                        writebacks - every_writebacks, first_load, last_writeback, t, runs), latency),
                            no_overlap[p])
    return out


def _pipelined(args: tuple[FloatArray, ...], latency: float) -> FloatArray:
    busy, every_loads, burst_loads, every_writebacks, burst_writebacks, first_load, last_writeback, tiles, runs = args[:9]
    held = args[9:]  # optional: held transfers (DRAM path only) and held bursts (stalls), `pipelined_cycles`
    L = float(latency)
    x = every_loads / tiles
    w = every_writebacks / tiles
    b = busy / tiles
    burst = burst_loads / runs
    burst += burst_writebacks / runs
    two = tiles >= 2
    w_prev = w * two  # tile T-2's write-back
    steps = tiles - 1.0  # two-tile steps that fit between tile 0 and the last tile
    steps *= 0.5
    np.floor(steps, out=steps)
    caught = runs - 1.0  # bursts those steps can catch
    np.minimum(caught, steps, out=caught)
    one = x - b  # tile 1 waiting for its load, queued behind tile 0's
    np.maximum(one, 0.0, out=one)
    one *= two
    gain = x + w
    gain += L
    gain -= b
    last = tiles - 1.0
    by_run = gain + burst
    by_run *= caught
    by_run += one * (2.0 * caught < last)
    every_other = steps * gain
    every_other += caught * burst
    every_other += one * (2.0 * steps < last)
    if held:
        by_run += held[1]
        every_other += held[1]
    np.maximum(by_run, one, out=by_run)
    np.maximum(by_run, every_other, out=by_run)  # the stalls
    compute_path = first_load + L
    compute_path += busy
    compute_path += by_run
    compute_path += last_writeback
    lb = b + L
    idle = lb - x
    np.maximum(idle, 0.0, out=idle)
    idle *= tiles >= 3
    lb -= w_prev
    np.maximum(lb, 0.0, out=lb)
    idle += lb
    dram_path = every_loads + burst_loads
    dram_path += every_writebacks
    dram_path += burst_writebacks
    dram_path += idle
    if held:
        dram_path += held[0]
    np.maximum(compute_path, dram_path, out=compute_path)
    return compute_path


def pipelined_cycles_scalar(busy: float, every_loads: float, burst_loads: float, every_writebacks: float,
                            burst_writebacks: float, first_load: float, last_writeback: float, tiles: float,
                            runs: float, latency: float, held_transfers: float = 0.0, held_bursts: float = 0.0
                            ) -> float:
    """`pipelined_cycles` for one candidate in plain Python (the same operations in the same order)."""
    L = float(latency)
    x = every_loads / tiles
    w = every_writebacks / tiles
    b = busy / tiles
    burst = burst_loads / runs + burst_writebacks / runs
    w_prev = w if tiles >= 2 else 0.0
    steps = float(math.floor((tiles - 1.0) * 0.5))
    caught = min(runs - 1.0, steps)
    one = max(x - b, 0.0) if tiles >= 2 else 0.0
    gain = x + w + L - b
    last = tiles - 1.0
    by_run = (gain + burst) * caught + (one if 2.0 * caught < last else 0.0) + held_bursts
    every_other = steps * gain + caught * burst + (one if 2.0 * steps < last else 0.0) + held_bursts
    stalls = max(max(by_run, one), every_other)
    compute_path = first_load + L + busy + stalls + last_writeback
    lb = b + L
    idle = (max(lb - x, 0.0) if tiles >= 3 else 0.0) + max(lb - w_prev, 0.0)
    return max(compute_path, every_loads + burst_loads + every_writebacks + burst_writebacks + idle + held_transfers)
