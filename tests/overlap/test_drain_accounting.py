"""An op's drain (the last tile's write-back after its compute window, cost model v4) in what a tuning step reports
from its schedule: the op has finished, and its tensors are freed, only when its drain ends, and the drain's bytes
keep the DRAM channel busy. A three-op schedule worked out by hand."""

from __future__ import annotations

import pytest

from edgesim.config.models import load_model
from edgesim.llm.memory import peak_memory
from edgesim.llm.step import StepNode, TuningStep
from edgesim.llm.tune import busy_by_group, op_times
from edgesim.methods import Method, Phase
from edgesim.ops import Gemm, VectorKind, VectorOp
from edgesim.overlap.graph import op_graph
from edgesim.overlap.schedule import Schedule, busy_shares, violations
from tests.overlap.helpers import task

# a (PE array) reads the step's input x (100 B) and writes y (50 B): prefetch [0, 2), compute [2, 12) streaming
# [2, 6), drain [12, 15). b (vector unit, independent) writes z (20 B): compute and stream [13, 19), starting during
# a's drain. c (vector unit) reads y and z and writes w (10 B): after both have finished, [19, 23).
TASKS = [task("a", prefetch=2, compute=10, stream=4, drain=3, inputs=("x",), outputs=("y",)),
         task("b", "vector", compute=6, stream=6, outputs=("z",)),
         task("c", "vector", compute=4, inputs=("y", "z"), outputs=("w",))]
SCHEDULE = Schedule(scheduler="hand", prefetch_start=(0, 13, 19), compute_start=(2, 13, 19), compute_cycles=(10, 6, 4),
                    stream_start=(2, 13, 19), stream_cycles=(4, 6, 0), kept=(), makespan=23, dram_bytes=15,
                    drain_cycles=(3, 0, 0))


def _step() -> TuningStep:
    def node(op, phase, inputs, outputs, nbytes):
        return StepNode(op=op, phase=phase, layer=0, inputs=inputs, outputs=outputs, output_bytes=nbytes,
                        category="activation")

    return TuningStep(model=load_model("tiny"), method=Method.LORA, label="hand", nodes=(
        node(Gemm(name="a", m=8, n=8, k=8), Phase.FORWARD, ("x",), ("y",), 50),
        node(VectorOp(name="b", kind=VectorKind.ADD, elements=8), Phase.FORWARD, (), ("z",), 20),
        node(VectorOp(name="c", kind=VectorKind.ADD, elements=8), Phase.BACKWARD_DATA, ("y", "z"), ("w",), 10)),
        persistent_bytes={}, trainable_params=0, forward_layers=1, backward_layers=(0,), inputs={"x": 100})


def test_the_hand_schedule_is_valid():
    assert violations(TASKS, op_graph(TASKS), SCHEDULE, 1e9, 1.0) == []
    assert [SCHEDULE.finish(i) for i in range(3)] == [15, 19, 23]


def test_an_op_finishes_and_frees_its_tensors_when_its_drain_ends():
    """Each op runs from its start to its finish: a [0, 15) (not 12: its drain), b [13, 19), c [19, 23). So x, which
    a reads, lives until 15 and overlaps b's run, and z, which b writes from 13, overlaps a's. Live bytes, node by
    node: a: x 100 + y 50 + z 20 = 170; b: x 100 + y 50 + z 20 = 170; c: y 50 + z 20 + w 10 = 80 (x died at 15).
    Ending a at its compute window's end (12) would give 150, 70, 80."""
    assert op_times(TASKS, SCHEDULE) == ([0, 13, 19], [15, 19, 23])
    mem = peak_memory(_step(), op_times(TASKS, SCHEDULE))
    assert mem.timeline == pytest.approx((170, 170, 80))
    assert mem.peak_bytes == pytest.approx(170)


def test_the_drain_keeps_dram_busy():
    """DRAM moves a's prefetch 2 + stream 4 + drain 3 and b's stream 6: 15 of the 23 cycles, all in the forward
    phase; the array computes 10 cycles (forward), the vector unit 6 (forward) + 4 (backward)."""
    shares = busy_shares(TASKS, SCHEDULE)
    assert shares == pytest.approx({"array": 10 / 23, "vector": 10 / 23, "dram": 15 / 23})
    by_phase = busy_by_group(TASKS, SCHEDULE, ["forward", "forward", "backward_data"])
    assert by_phase == {"forward": {"array": 10, "vector": 6, "dram": 15},
                        "backward_data": {"array": 0, "vector": 4, "dram": 0}}
