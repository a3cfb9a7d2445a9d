"""One model, two engines: the analytic cost model (`edgesim.cost.model`, its double-buffered pipeline in
`edgesim.cost.pipelining`) against the tile simulator (`edgesim.sim.pipeline`).

Each hand-worked case is a tiny GEMM on the 2x2 array of tests/unit/test_cost_hand.py (1 GHz, buffer and register
ports at 1000 B/cycle so that compute alone keeps the array busy, 32-bit partial sums, 8-bit A, B and C unless
said), with the DRAM bandwidth and latency chosen to bring out one term of the pipeline. The docstring plays the
simulator's rules by hand (tiles 0 and 1 load at time 0; tile i >= 2 loads once tile i-2's compute has ended, behind
every transfer queued before it; data arrive `latency` after their transfer; a tile computes once its data are there
and the previous tile is done; its write-back is posted when it is done) and works out the analytic formula, and
both engines must give that number. Every case fails on the cost model of version 3 (latency + first tile's load +
max(on chip, the rest of DRAM)), whose number is given too.

The last test draws a seeded sample of (GEMM, mapping, hardware) triples with benchmarks/bench_engines.py's sampler
and asserts the issue's target: the analytic total within 10% of the simulated one on at least 95% of them. On this
sample (seed 9) the version-3 model, with the searcher's best chosen by it, is within 10% on 85% of the triples and
this one on 100% (checked by replacing `pipelined_cycles` and `pipelined_cycles_scalar` with the version-3 formula),
so the test can fail. Over seeds 0-15 this model's worst is 97% (two triples of 60 outside); the version-3 model
falls below 95% on 10 of the 16 seeds, down to 80%.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from edgesim.cost import GemmCost, evaluate_one
from edgesim.cost.pipelining import pipelined_cycles_scalar
from edgesim.mapping import Dataflow, Mapping
from edgesim.ops import Gemm
from edgesim.sim.pipeline import simulate
from tests.unit.test_cost_hand import tiny_arch

REPO = Path(__file__).resolve().parents[2]
OP = Gemm(name="g", m=4, n=4, k=4)


def both(arch, op, mp) -> tuple[float, float]:
    """(analytic total, simulated total) cycles."""
    c = evaluate_one(arch, op, mp)
    assert isinstance(c, GemmCost), c
    return c.total_cycles, simulate(arch, op, mp, max_events=0).total_cycles


def fast_ports(**dram):
    """The tiny arch with 1000 B/cycle buffer and register ports; `dram` sets the DRAM's bandwidth_gb_per_s and
    latency_ns (GB/s = B/cycle, ns = cycles at 1 GHz)."""
    return tiny_arch(global_buffer__bandwidth_bytes_per_cycle=1000,
                     **{f"dram__{k}": v for k, v in dram.items()})


def test_one_tile_exposes_its_load_and_its_write_back():
    """Fill and drain. 4x4x4 os, one tile, double buffered, 1 B/cycle, latency 5.

    Simulator: A + B (32 B) over [0, 32), data at 37; compute 2x2 folds of (R+C-2) + K = 6 -> 24 cycles, [37, 61);
    C (16 B at 8 bits) written back over [61, 77). Total 77.
    Analytic: one tile, nothing overlaps: first load 32 + latency 5 + on chip 24 + last write-back 16 = 77
    (the DRAM path: 48 B + latency 5 + the tile's compute 24 = 77 too).
    Version 3: 5 + 32 + max(24, 48 - 32) = 61: it overlapped the write-back with the compute that produces it.
    """
    arch = fast_ports(latency_ns=5)
    mp = Mapping(dataflow=Dataflow.OS, tile_m=4, tile_n=4, tile_k=4)
    assert both(arch, OP, mp) == (77, 77)


def test_a_prefetch_one_tile_ahead_cannot_hide_a_long_latency():
    """The one-tile prefetch window (latency-bound). 4x4x4 os, tile 4x4x1, order mnk: four tiles along K, each
    loading A 4x1 + B 1x4 = 8 B (8 cycles at 1 B/cycle) and computing 2x2 folds of (2+2-2) + 1 = 3 -> 12 cycles;
    C stays on chip until the last tile writes it (16 B, 16 cycles). Latency 100.

    Simulator: load 0 [0, 8), data 108; load 1 [8, 16), data 116. Compute 0 [108, 120); compute 1 [120, 132).
    Load 2 may start when compute 0 ends: [120, 128), data 228; compute 2 [228, 240). Load 3 after compute 1:
    [132, 140), data 240; compute 3 [240, 252). Write-back [252, 268). Total 268: every other tile waits a latency.
    Analytic (T = 4, X = 32, W = 16, B = 48: per tile x = 8, b = 12): one two-tile step fits (floor(3/2) = 1), and it
    adds x + L - b = 8 + 100 - 12 = 96 over the two computes it spans; no write-back to catch (one, the last).
    Compute path: first load 8 + latency 100 + 48 + 96 + last write-back 16 = 268. DRAM path: 48 + idle at the
    start (L + b - x = 104) and at the end (L + b = 112) = 264. Total 268.
    Version 3: 100 + 8 + max(48, 48 - 8) = 156.
    """
    arch = fast_ports(latency_ns=100)
    mp = Mapping(dataflow=Dataflow.OS, tile_m=4, tile_n=4, tile_k=1, dram_order="mnk")
    assert both(arch, OP, mp) == (268, 268)


def test_a_write_back_burst_delays_the_load_queued_behind_it():
    """A write-back is absorbed by one tile only. 4x4x4 os with 32-bit outputs, tile 2x4x2, order mnk, 4 B/cycle,
    latency 0: tiles (m0 k0), (m0 k1), (m1 k0), (m1 k1), each loading A 2x2 + B 2x4 = 12 B (3 cycles) and computing
    1x2 folds of (2+2-2) + 2 = 4 -> 8 cycles; tiles 1 and 3 write C, 2x4 x 4 B = 32 B (8 cycles).

    Simulator: load 0 [0, 3), load 1 [3, 6); compute 0 [3, 11), compute 1 [11, 19). Load 2 after compute 0:
    [11, 14); tile 1's write-back posted at 19: [19, 27); compute 2 [19, 27). Load 3 after compute 1 (19), queued
    behind that write-back: [27, 30); compute 3 [30, 38): a 3-cycle stall. Last write-back [38, 46). Total 46.
    Analytic (T = 4, 2 write-backs, X = 12, W = 16, B = 32: x = 3, b = 8, w = 8): the one two-tile step catches
    the first write-back: 1 x (x + L - b + w) = 3 - 8 + 8 = 3. Compute path: 3 + 0 + 32 + 3 + 8 = 46. DRAM path:
    28 + idle at the start (L + b - x = 5) and at the end (L + b = 8; tile 2 writes nothing) = 41. Total 46.
    Version 3: 0 + 3 + max(32, 28 - 3) = 35.
    """
    arch = fast_ports(bandwidth_gb_per_s=4, latency_ns=0)
    op = Gemm(name="g", m=4, n=4, k=4, c_bits=32)
    mp = Mapping(dataflow=Dataflow.OS, tile_m=2, tile_n=4, tile_k=2, dram_order="mnk")
    assert both(arch, op, mp) == (46, 46)


def test_a_dram_bound_pipeline_idles_the_channel_while_the_last_tile_computes():
    """The DRAM path. 4x4x4 os, tile 4x4x1, order mnk (as the prefetch case), 0.5 B/cycle, latency 0: loads of 16
    cycles per tile, compute 12, the last write-back 32.

    Simulator: load 0 [0, 16), load 1 [16, 32); compute 0 [16, 28), compute 1 [32, 44). Load 2 [32, 48) (after
    compute 0 and load 1); compute 2 [48, 60). Load 3 [48, 64); compute 3 [64, 76). Write-back [76, 108). Total
    108: the channel is busy 96 cycles and idle while the last tile computes, [64, 76).
    Analytic (T = 4, X = 64, W = 32, B = 48: x = 16, b = 12): DRAM path 96 + idle at the start max(0, L + b - x) = 0
    + idle at the end L + b = 12 = 108. Compute path: 16 + 0 + 48 + stalls max(tile 1's x - b = 4, one two-tile step
    x + L - b = 4 + tile 1's 4 = 8) + 32 = 104. Total 108.
    Version 3: 0 + 16 + max(48, 96 - 16) = 96, the DRAM bytes alone.
    """
    arch = fast_ports(bandwidth_gb_per_s=0.5, latency_ns=0)
    mp = Mapping(dataflow=Dataflow.OS, tile_m=4, tile_n=4, tile_k=1, dram_order="mnk")
    assert both(arch, OP, mp) == (108, 108)


def test_a_long_run_settles_at_the_two_tile_period():
    """Steady state. 4x4x1001 os, tile 4x4x1, order mnk, 1 B/cycle, latency 50: 1001 tiles along K, each loading
    8 B (8 cycles) and computing 12 cycles; one write-back of 16 B at the end.

    Simulator: compute 0 ends at 8 + 50 + 12 = 70. From then on tile i's load starts when compute i-2 ends, and its
    data arrive 8 + 50 later, after compute i-1 (12) has long ended: the chain i-2 -> i costs 8 + 50 + 12 = 70 per
    two tiles, 35 per tile. Compute 1000 ends at 70 + 500 x 70 = 35070; the write-back ends at 35086.
    Analytic (T = 1001, x = 8, b = 12): 500 two-tile steps of x + L - b = 46: compute path
    8 + 50 + 12012 + 23000 + 16 = 35086 (the DRAM path, 8024 + idle 54 + 62, is far below).
    Version 3: 50 + 8 + max(12012, 8024 - 8) = 12070, a third of it.
    """
    arch = fast_ports(bandwidth_gb_per_s=1, latency_ns=50)
    op = Gemm(name="g", m=4, n=4, k=1001)
    mp = Mapping(dataflow=Dataflow.OS, tile_m=4, tile_n=4, tile_k=1, dram_order="mnk")
    assert both(arch, op, mp) == (35_086, 35_086)


def test_an_input_burst_at_a_runs_first_tile_stalls_it():
    """Bursts. 4x4x16 os, tile 2x2x16, order mnk, 4 B/cycle, latency 5: n is the innermost loop that iterates, so
    B (16x2 = 32 B, 8 cycles) and C (2x2 = 4 B, 1 cycle) move on every tile, and A (2x16 = 32 B, 8 cycles) once per
    run of n, at tiles 0 and 2. Each tile computes one fold of (2+2-2) + 16 = 18 cycles.

    Simulator: load 0 (A + B) [0, 16), data 21; load 1 (B) [16, 24), data 29. Compute 0 [21, 39), its write-back
    [39, 40); compute 1 [39, 57). Load 2 (A + B) after compute 0 and that write-back: [40, 56), data 61; compute 2
    waits until 61: [61, 79). Load 3 (B) [58, 66), data 71; compute 3 [79, 97); write-back [97, 98). Total 98.
    Analytic (T = 4 in 2 runs; every tile x = 8, w = 1, b = 18; a burst of 8 per run): one two-tile step,
    x + w + L - b = -4, catches the second run's burst, 8: stalls 4. Compute path: first load 16 + 5 + 72 + 4 + last
    write-back 1 = 98. DRAM path: 52 + idle 15 + 22 = 89. Total 98. (Averaging A over every tile, x = 12, would
    hide the stall: 94.)
    Version 3: 5 + 16 + max(72, 52 - 16) = 93.
    """
    arch = fast_ports(bandwidth_gb_per_s=4, latency_ns=5)
    op = Gemm(name="g", m=4, n=4, k=16)
    mp = Mapping(dataflow=Dataflow.OS, tile_m=2, tile_n=2, tile_k=16, dram_order="mnk")
    assert both(arch, op, mp) == (98, 98)


def test_the_channel_idles_until_tile_zero_frees_a_buffer_half():
    """The DRAM path's idle start. 4x4x4 os, tile 2x2x4, order mnk, 1 B/cycle, latency 5: B (4x2 = 8 B) and C
    (2x2 = 4 B) move on every tile, A (2x4 = 8 B) at tiles 0 and 2; each tile computes (2+2-2) + 4 = 6 cycles.

    Simulator: load 0 [0, 16), data 21; load 1 [16, 24), data 29. Compute 0 [21, 27); the channel idles until then,
    [24, 27): tile 2 may load only once compute 0 is done. Write-back 0 [27, 31); compute 1 [29, 35). Load 2 [31, 47),
    data 52; write-back 1 [47, 51); compute 2 [52, 58). Load 3 [51, 59), data 64; write-back 2 [59, 63); compute 3
    [64, 70), the channel idle again [63, 70); write-back 3 [70, 74). Total 74.
    Analytic (T = 4 in 2 runs; every tile x = 8, w = 4, b = 6; bursts of 8): DRAM path 64 + idle at the start
    L + b - tile 1's load = 5 + 6 - 8 = 3 + idle at the end L + b - tile 2's write-back = 5 + 6 - 4 = 7 = 74.
    Compute path: 16 + 5 + 24 + stalls max(tile 1's 8 - 6 = 2, one step 8 + 4 + 5 - 6 = 11 catching a burst of 8,
    + 2) = 21 + 4 = 70. Total 74.
    Version 3: 5 + 16 + max(24, 64 - 16) = 69.
    """
    arch = fast_ports(bandwidth_gb_per_s=1, latency_ns=5)
    mp = Mapping(dataflow=Dataflow.OS, tile_m=2, tile_n=2, tile_k=4, dram_order="mnk")
    assert both(arch, OP, mp) == (74, 74)


def test_the_closed_form_keeps_the_steady_state_periods():
    """`pipelined_cycles_scalar` on made-up uniform tiles, one run of T = 1001 (x = 3 and w = 2 every tile, L = 50,
    b = 10): 500 two-tile steps of x + w + L - b = 45: 3 + 50 + 10010 + 22500 + 2 = 32565, the period
    (w + x + L + b) / 2 = 32.5 per tile; with L = 0 the array binds: 3 + 10010 + 2 = 10015. The same bytes as bursts,
    one per run of 7 tiles (143 runs of 35): every two-tile step gains L - b = 40 and 142 of the 500 catch a burst:
    3 + 50 + 10010 + 500 x 40 + 142 x 35 + 2 = 35035."""
    assert pipelined_cycles_scalar(10_010, 3_003, 0, 2_002, 0, 3, 2, 1001, 1, 50) == 32_565
    assert pipelined_cycles_scalar(10_010, 3_003, 0, 2_002, 0, 3, 2, 1001, 1, 0) == 10_015
    assert pipelined_cycles_scalar(10_010, 0, 3_003, 0, 2_002, 3, 2, 1001, 143, 50) == 35_035


def _bench():
    spec = importlib.util.spec_from_file_location("bench_engines", REPO / "benchmarks" / "bench_engines.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_engines", mod)
    spec.loader.exec_module(mod)
    return mod


def test_a_seeded_sample_agrees_within_ten_percent():
    """The issue's target on a small seeded sample (60 triples: the default searcher's best and random feasible
    mappings of LLM and odd GEMMs on shipped and varied hardware, benchmarks/bench_engines.py)."""
    bench = _bench()
    outcomes = bench.compare(bench.draw_triples(60, seed=9))
    assert bench.within(outcomes) >= 0.95, [(o.triple.op, o.triple.mapping.describe(), o.error) for o in outcomes
                                            if abs(o.error) > 0.1]
