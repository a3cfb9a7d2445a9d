"""Random op graphs (hypothesis): every schedule greedy and CP-SAT produce is valid (dependencies, one task at a
time per engine and on DRAM, buffer capacity, kept tensors), never longer than serial execution and never shorter
than the lower bound (each engine's and DRAM's busy time, the critical path)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.overlap.cpsat import CpSatSettings, clear_cache, cpsat
from edgesim.overlap.graph import op_graph, reuse_candidates
from edgesim.overlap.greedy import greedy, serial
from edgesim.overlap.schedule import lower_bound, violations
from edgesim.overlap.tasks import InputRead, OpTasks
from tests.overlap.helpers import task

CAPACITY = 100.0


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[OpTasks], list[int]]:
    n = draw(st.integers(2, 10))
    tasks = []
    for i in range(n):
        preds = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        on_chip = draw(st.integers(1, 20))
        stream = draw(st.integers(0, 20))
        reads = tuple(InputRead(f"t{p}", draw(st.integers(0, 8))) for p in preds)
        tasks.append(task(f"t{i}", draw(st.sampled_from(["array", "vector"])), prefetch=draw(st.integers(0, 6)),
                          latency=draw(st.integers(0, 3)), compute=max(on_chip, stream), on_chip=on_chip, stream=stream,
                          hold=draw(st.sampled_from([0, 20, 40, 70, 100])), inputs=tuple(f"t{p}" for p in preds),
                          outputs=(f"t{i}",), output_bytes=draw(st.integers(0, 8)), reads=reads,
                          reuse=draw(st.booleans())))
    keys = sorted(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))  # windows: runs of equal keys
    return tasks, keys


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_schedules_are_valid_and_between_the_bound_and_serial(case: tuple[list[OpTasks], list[int]]) -> None:
    tasks, keys = case
    clear_cache()
    g = op_graph(tasks)
    ser = serial(tasks)
    lb = lower_bound(tasks, g, reuse_candidates(tasks), 1.0)["bound"]
    exact = CpSatSettings(quantum_cycles=1.0, buffer_unit_bytes=1.0, deterministic_seconds=1.0, window_ops=4)
    for s in (greedy(tasks, g, CAPACITY), cpsat(tasks, g, keys, CAPACITY, 1.0, exact)):
        assert violations(tasks, g, s, CAPACITY, 1.0) == [], s.scheduler
        assert lb - 1e-9 <= s.makespan, s.scheduler
        assert s.dram_bytes <= ser.dram_bytes + 1e-9
    assert cpsat(tasks, g, keys, CAPACITY, 1.0, exact).makespan <= ser.makespan + 1e-9
