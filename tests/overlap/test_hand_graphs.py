"""Tiny graphs whose optimal makespan is worked out by hand (in each test's docstring); the greedy list scheduler
and CP-SAT against them, every schedule checked by `violations`. DRAM moves 1 B per cycle."""

from __future__ import annotations

import pytest

from edgesim.overlap.cpsat import CpSatSettings, clear_cache, cpsat
from edgesim.overlap.graph import op_graph, reuse_candidates
from edgesim.overlap.greedy import greedy, serial
from edgesim.overlap.schedule import Schedule, lower_bound, violations
from edgesim.overlap.tasks import InputRead, OpTasks
from tests.overlap.helpers import task

EXACT = CpSatSettings(quantum_cycles=1.0, buffer_unit_bytes=1.0, deterministic_seconds=5.0)


def run_all(tasks: list[OpTasks], capacity: float = 1e9, reuse: bool = True) -> dict[str, Schedule]:
    clear_cache()
    g = op_graph(tasks)
    out = {"serial": serial(tasks), "greedy": greedy(tasks, g, capacity),
           "cpsat": cpsat(tasks, g, [0] * len(tasks), capacity, 1.0, CpSatSettings(
               quantum_cycles=1.0, buffer_unit_bytes=1.0, deterministic_seconds=5.0, reuse=reuse))}
    for name, s in out.items():
        assert violations(tasks, g, s, capacity, 1.0) == [], name
    return out


def test_independent_ops_on_two_engines_run_together() -> None:
    """A 10-cycle GEMM and a 6-cycle vector op, independent, no DRAM: serial 16, overlapped max(10, 6) = 10."""
    s = run_all([task("gemm", compute=10), task("vec", "vector", compute=6)])
    assert s["serial"].makespan == 16
    assert s["greedy"].makespan == 10
    assert s["cpsat"].makespan == 10


def test_a_chain_cannot_overlap() -> None:
    """b reads a's output: 10 + 6 = 16 whatever the scheduler."""
    tasks = [task("a", compute=10), task("b", "vector", compute=6, inputs=("a",))]
    assert {k: s.makespan for k, s in run_all(tasks).items()} == {"serial": 16, "greedy": 16, "cpsat": 16}


def test_prefetch_hides_under_the_previous_compute() -> None:
    """a computes 10 cycles without DRAM; b, independent, prefetches 4 then computes 5 on the same array. Serial:
    10 + 4 + 5 = 19. Overlapped: b's prefetch during a, b's compute after it: 10 + 5 = 15."""
    s = run_all([task("a", compute=10), task("b", prefetch=4, compute=5)])
    assert s["serial"].makespan == 19
    assert s["greedy"].makespan == 15
    assert s["cpsat"].makespan == 15


def test_dram_is_one_transfer_at_a_time() -> None:
    """A GEMM computes 10 cycles streaming 5 (half the bandwidth along its window); an independent vector op computes
    6 streaming 3 (also half). The windows may run together (0.5 + 0.5 of the bandwidth), but the two streams may not:
    CP-SAT reaches max(10, 6) = 10 with the GEMM's stream in [0, 5) and the vector op's window in [4, 10), its stream
    in [5, 8). The list scheduler starts a stream with its window, so the vector op waits for the GEMM's stream to
    end: 5 + 6 = 11. Serial: 16."""
    tasks = [task("gemm", compute=10, stream=5), task("vec", "vector", compute=6, stream=3, on_chip=1)]
    s = run_all(tasks)
    assert s["serial"].makespan == 16
    assert s["greedy"].makespan == 11
    assert s["cpsat"].makespan == 10


def test_streaming_windows_share_the_bandwidth() -> None:
    """A GEMM computes 10 cycles streaming 8; an independent vector op streams 6 over its whole 6 cycles. DRAM carries
    14 cycles (the busy-time bound), and placing the GEMM's stream in [0, 8) and the vector op in [8, 14) would reach
    it; but a tile pipeline moves the GEMM's data along its whole window, 0.8 of the bandwidth, and the vector op needs
    all of it: their windows cannot overlap, 10 + 6 = 16 = serial."""
    tasks = [task("gemm", compute=10, stream=8), task("vec", "vector", compute=6, stream=6, on_chip=1)]
    s = run_all(tasks)
    assert lower_bound(tasks, op_graph(tasks), (), 1.0)["dram_busy"] == 14
    assert {k: x.makespan for k, x in s.items()} == {"serial": 16, "greedy": 16, "cpsat": 16}
    fluid = Schedule(scheduler="x", prefetch_start=(0, 8), compute_start=(0, 8), compute_cycles=(10, 6),
                     stream_start=(0, 8), stream_cycles=(8, 6), kept=(), makespan=14, dram_bytes=14)
    found = violations(tasks, op_graph(tasks), fluid, 1e9, 1.0)
    assert found == ["DRAM: the compute windows at cycle 8 stream at 1.8 times the bandwidth"]


@pytest.mark.parametrize(("capacity", "expected"), [(100, 16), (120, 10)])
def test_buffer_capacity_decides_whether_ops_overlap(capacity: float, expected: float) -> None:
    """Each op holds 60 B of buffer: with 100 B they cannot run together (10 + 6 = 16), with 120 B they can (10)."""
    tasks = [task("gemm", compute=10, hold=60), task("vec", "vector", compute=6, hold=60)]
    s = run_all(tasks, capacity)
    assert s["greedy"].makespan == expected
    assert s["cpsat"].makespan == expected


def chain_with_a_tensor() -> list[OpTasks]:
    """p reads 2 B and writes a 4 B tensor t (stream 6, on-chip 2); r reads t (4 B) and writes 2 B (stream 6,
    on-chip 2). Both are DRAM-bound: 6 cycles each."""
    return [task("p", "vector", compute=6, stream=6, on_chip=2, outputs=("t",), output_bytes=4),
            task("r", "vector", compute=6, stream=6, on_chip=2, inputs=("t",), outputs=("u",), output_bytes=2,
                 reads=(InputRead("t", 4),))]


def test_a_tensor_kept_on_chip_saves_its_round_trip() -> None:
    """Kept on chip, t is neither written nor read back: each op streams 2 B, so each takes max(2, 2) = 2 cycles and
    the pair 4 (against 12), and 8 B less cross DRAM (12 -> 4)."""
    tasks = chain_with_a_tensor()
    assert [c.tensor for c in reuse_candidates(tasks)] == ["t"]
    s = run_all(tasks, capacity=4)
    assert s["serial"].makespan == 12
    assert s["greedy"].makespan == 12  # the list scheduler keeps nothing on chip
    assert s["cpsat"].makespan == 4
    assert [c.tensor for c in s["cpsat"].kept] == ["t"]
    assert s["cpsat"].dram_bytes == 4
    assert s["serial"].dram_bytes == 12


def test_a_tensor_larger_than_the_free_buffer_goes_through_dram() -> None:
    """With 3 B of buffer the 4 B tensor cannot stay: 12 cycles, 12 B."""
    s = run_all(chain_with_a_tensor(), capacity=3)
    assert s["cpsat"].makespan == 12
    assert s["cpsat"].kept == ()
    assert s["cpsat"].dram_bytes == 12


def test_reuse_off_keeps_nothing() -> None:
    s = run_all(chain_with_a_tensor(), capacity=4, reuse=False)
    assert s["cpsat"].makespan == 12


def test_the_checker_catches_each_broken_rule() -> None:
    """The checker itself: a schedule moved by hand breaks the rule it should."""
    tasks = [task("a", compute=10, hold=60), task("b", "vector", compute=6, hold=60, inputs=("a",))]
    g = op_graph(tasks)
    ok = serial(tasks)
    assert violations(tasks, g, ok, 100, 1.0) == []
    early = Schedule(scheduler="x", prefetch_start=(0, 5), compute_start=(0, 5), compute_cycles=(10, 6),
                     stream_start=(0, 5), stream_cycles=(0, 0), kept=(), makespan=11, dram_bytes=0)
    found = violations(tasks, g, early, 100, 1.0)
    assert any("starts before a" in v for v in found)
    assert any("global buffer holds 120" in v for v in found)
    short = Schedule(scheduler="x", prefetch_start=(0, 10), compute_start=(0, 10), compute_cycles=(9, 6),
                     stream_start=(0, 10), stream_cycles=(0, 0), kept=(), makespan=16, dram_bytes=0)
    assert any("compute window 9" in v for v in violations(tasks, g, short, 100, 1.0))
