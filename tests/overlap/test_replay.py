"""The tile-level replay of step schedules: one op alone against the single-op pipeline simulator, two small plans by
hand, tile merging against a plain expansion of the tile tree, and the tiny model's steps replayed under each
scheduler (dependencies, engine order, buffer capacity, serial = sum of the ops alone, conservation of traffic)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pytest

from edgesim.config.hardware import load_arch
from edgesim.cost.model import GemmCost, evaluate_one
from edgesim.cost.vector import VectorCost
from edgesim.evaluate import run_op
from edgesim.mapping import Dataflow, Mapping
from edgesim.methods import Phase
from edgesim.ops import Gemm, Op
from edgesim.overlap.cpsat import CpSatSettings, cpsat, default_quantum
from edgesim.overlap.graph import op_graph
from edgesim.overlap.greedy import greedy, serial
from edgesim.overlap.replay import Chunks, Plan, op_chunks, play, replay, schedule_plan, serial_plan, step_chunks
from edgesim.overlap.schedule import saved_bytes
from edgesim.overlap.tasks import step_tasks
from edgesim.results import Engine
from edgesim.sim.pipeline import ports_of, simulate
from edgesim.sim.tiles import Node, Seq, Tile, tile_tree
from tests.conftest import report_line
from tests.overlap.test_step_overlap import tiny_steps

ARCH = load_arch()
CAP, BW = ARCH.global_buffer.capacity_bytes, ARCH.dram.bandwidth_bytes_per_cycle
LAT = float(ARCH.dram.latency_cycles)
STEPS = list(tiny_steps())


@dataclass(frozen=True)
class Node1:
    """A graph node for an op built by hand."""

    op: Op
    layer: int = 0
    inputs: tuple[str, ...] = ("x",)
    outputs: tuple[str, ...] = ("y",)
    output_bytes: float = 0.0


def alone(node, cost, max_chunks):
    tasks = step_tasks(ARCH, [node], [cost])
    return replay(ARCH, tasks, op_graph(tasks), serial(tasks), [cost], max_chunks=max_chunks)


def costs_of(step):
    return [run_op(ARCH, n.op, Engine.ANALYTIC, max_events=0).cost for n in step.nodes]


# ------------------------------------------------------------------------------------------- one op alone


HAND_OP = Gemm(name="h", m=100, n=72, k=136, batch=2)  # remainders along every dim


@pytest.mark.parametrize("double_buffer", [True, False], ids=["db", "sb"])
@pytest.mark.parametrize("dataflow", list(Dataflow))
@pytest.mark.parametrize("order", ["mnk", "knm"])
def test_one_gemm_alone_is_the_pipeline_simulator(double_buffer, dataflow, order):
    mapping = Mapping(dataflow=dataflow, tile_m=32, tile_n=24, tile_k=40, dram_order=order,
                      double_buffer=double_buffer)
    cost = evaluate_one(ARCH, HAND_OP, mapping)
    assert isinstance(cost, GemmCost)
    ref = simulate(ARCH, HAND_OP, mapping, max_events=0)
    r = alone(Node1(HAND_OP, output_bytes=100 * 72 * 2), cost, None)
    assert r.makespan == pytest.approx(ref.total_cycles, rel=1e-9)
    assert r.serial == pytest.approx(ref.total_cycles, rel=1e-9)
    assert r.dram_busy == pytest.approx(ref.dram_busy_cycles, rel=1e-9)
    assert r.start == (0.0,) and r.end[0] == pytest.approx(ref.total_cycles, rel=1e-9)


def test_the_tiny_models_gemms_alone_are_the_pipeline_simulator():
    name, step = STEPS[0]
    seen = 0
    for node, cost in zip(step.nodes, costs_of(step), strict=True):
        if isinstance(cost, GemmCost) and seen < 12:
            seen += 1
            ref = simulate(ARCH, cost.op, cost.mapping, max_events=0).total_cycles
            assert alone(node, cost, None).makespan == pytest.approx(ref, rel=1e-9), node.op.name
    assert seen == 12


# ------------------------------------------------------------------------------------------- chunks


def _expand(node: Node, busy_of) -> list[tuple[float, float, float]]:
    if isinstance(node, Tile):
        return [(node.load_bytes, busy_of(node), node.writeback_bytes)]
    out: list[tuple[float, float, float]] = []
    for child, reps in node.items:
        out += _expand(child, busy_of) * reps
    return out


@pytest.mark.parametrize("max_chunks", [1, 5, 7, 64, 95, 96, 1000, None])
def test_merged_chunks_are_consecutive_near_equal_groups_of_tiles(max_chunks):
    mapping = Mapping(dataflow=Dataflow.WS, tile_m=32, tile_n=24, tile_k=40, dram_order="knm")
    cost = evaluate_one(ARCH, HAND_OP, mapping)
    assert isinstance(cost, GemmCost)
    p = ports_of(ARCH, mapping)
    tree = tile_tree(ARCH, HAND_OP, mapping)
    assert isinstance(tree, Seq)
    tiles = _expand(tree, lambda t: max(t.compute_cycles, t.buffer_bytes / p.buffer_bandwidth,
                                        t.register_port_bytes / p.register_bandwidth))
    assert len(tiles) == 96
    groups = len(tiles) if max_chunks is None else min(max_chunks, len(tiles))
    bounds = [g * len(tiles) // groups for g in range(groups + 1)]
    want = [tuple(sum(x[f] for x in tiles[a:b]) for f in range(3)) for a, b in zip(bounds, bounds[1:], strict=False)]
    ch = op_chunks(ARCH, cost, max_chunks)
    assert ch is not None and ch.double_buffer
    got = list(zip(ch.load, ch.busy, ch.writeback, strict=True))
    assert len(got) == groups
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, rel=1e-12)


def test_vector_chunks_split_the_ops_traffic_and_time():
    """A vector op streams in as many chunks as keep each chunk's transfer at least one DRAM latency long (at most 64
    and max_chunks), and its chunks carry exactly its bytes and busy cycles."""
    _, step = STEPS[0]
    latency = float(ARCH.dram.latency_cycles)
    for cost in [c for c in costs_of(step) if isinstance(c, VectorCost)][:6]:
        fit = int(cost.dram_cycles // latency)
        for max_chunks in (None, 256, 10, 1):
            ch = op_chunks(ARCH, cost, max_chunks)
            assert ch is not None and ch.double_buffer
            assert len(ch.busy) == max(1, min(max_chunks or 64, 64, fit))
            if len(ch.busy) > 1:
                assert (ch.load[0] + ch.writeback[0]) / ARCH.dram.bandwidth_bytes_per_cycle >= latency
            assert sum(ch.load) + sum(ch.writeback) == pytest.approx(cost.dram_bytes, rel=1e-12)
            assert sum(ch.busy) == pytest.approx(max(cost.vector_cycles, cost.glb_cycles), rel=1e-12)


# ------------------------------------------------------------------------------------------- plans by hand


def _hand_plan(hold2: float) -> Plan:
    """bandwidth 1 B/cycle, latency 10, capacity 100. Op 0 (array, db): loads 4+4, busy 6+6, write-back 0+2 bytes;
    op 1 (vector, db): load 3, busy 5, write-back 1; op 2 (array after op 0, sb): loads 2+2, busy 3+3, write-backs
    1+1, holding `hold2` bytes against op 0's 50. All independent, released at 0."""
    return Plan(chunks=(Chunks((4.0, 4.0), (6.0, 6.0), (0.0, 2.0), True), Chunks((3.0,), (5.0,), (1.0,), True),
                        Chunks((2.0, 2.0), (3.0, 3.0), (1.0, 1.0), False)),
                engine=("array", "vector", "array"), floor=(0.0, 0.0, 0.0), preds=((), (), ()),
                order=(0.0, 0.0, 1.0), hold=(50.0, 0.0, hold2))


def test_hand_plan_shares_the_channel_first_come_first_served():
    """Op 2 fits the buffer at once. Channel: op0 loads [0,4) [4,8) (ready 14, 18), op1 load [8,11) (ready 21), op2
    load [11,13) (ready 23). Op 0 computes [14,20) [20,26), writes [26,28); op 1 computes [21,26), writes [28,29)
    (issued at 26 too, after op 0 by index). Op 2 waits for the array until 26: computes [26,29), writes [29,30),
    loads [30,32) (ready 42), computes [42,45), writes [45,46)."""
    p = play(_hand_plan(40.0), 100.0, 1.0, 10.0)
    assert p.start == (0.0, 0.0, 0.0)
    assert p.first_compute == (14.0, 21.0, 26.0)
    assert p.last_compute == (26.0, 26.0, 45.0)
    assert p.end == (28.0, 29.0, 46.0)
    assert p.makespan == 46.0
    assert p.dram_busy == 4 + 4 + 3 + 2 + 2 + 1 + 1 + 2 + 1
    assert p.peak_buffer_bytes == 90.0 and p.forced == 0


def test_hand_plan_waits_for_the_buffer():
    """Op 2's 60 bytes do not fit beside op 0's 50: it is released when op 0's last compute ends (26), after which
    the channel is busy with the write-backs until 29: its load [29,31) (ready 41), compute [41,44), write-back
    [44,45), load [45,47) (ready 57), compute [57,60), write-back [60,61)."""
    p = play(_hand_plan(60.0), 100.0, 1.0, 10.0)
    assert p.release == (0.0, 0.0, 26.0)
    assert p.start == (0.0, 0.0, 26.0)
    assert p.first_compute == (14.0, 21.0, 41.0)
    assert p.end == (28.0, 29.0, 61.0)
    assert p.makespan == 61.0
    assert p.peak_buffer_bytes == 60.0 and p.forced == 0


def test_hand_plan_in_series():
    """The serial plan: op 0 [0,28), then op 1 from 28: load [28,31) ready 41, compute [41,46), write-back [46,47);
    then op 2 from 47: load [47,49) ready 59, compute [59,62), write-back [62,63), load [63,65) ready 75, compute
    [75,78), write-back [78,79)."""
    plan = _hand_plan(60.0)
    p = play(serial_plan([_Task(e, h) for e, h in zip(plan.engine, plan.hold, strict=True)], plan.chunks),
             100.0, 1.0, 10.0)
    assert p.end == (28.0, 47.0, 79.0)
    assert p.makespan == 79.0


@dataclass(frozen=True)
class _Task:
    engine: str
    hold_bytes: float


# ------------------------------------------------------------------------------------------- two real ops


def test_a_gemm_and_an_independent_vector_op_overlap():
    name, step = STEPS[0]
    costs = costs_of(step)
    gi = next(i for i, c in enumerate(costs) if isinstance(c, GemmCost) and c.total_cycles > 2000)
    gemm = step.nodes[gi]
    vi = next(i for i, n in enumerate(step.nodes) if isinstance(costs[i], VectorCost)
              and not set(n.inputs) & set(gemm.outputs) and not set(gemm.inputs) & set(n.outputs))
    nodes, cs = [gemm, step.nodes[vi]], [costs[gi], costs[vi]]
    tasks = step_tasks(ARCH, nodes, cs)
    g = op_graph(tasks)
    assert g.number_of_edges() == 0
    s = greedy(tasks, g, CAP)
    assert s.makespan < serial(tasks).makespan  # the schedule overlaps them
    r = replay(ARCH, tasks, g, s, cs)
    ones = [alone(n, c, 256).makespan for n, c in zip(nodes, cs, strict=True)]
    assert r.serial == pytest.approx(sum(ones), rel=1e-12)
    assert max(ones) - 1e-9 <= r.makespan <= r.serial
    assert r.makespan < r.serial  # and so does the replay
    assert r.dram_busy == pytest.approx(sum(c.dram_bytes for c in cs) / BW, rel=1e-12)


# ------------------------------------------------------------------------------------------- tiny steps


def _check(tasks, g, s, costs, max_chunks, alone_sum):
    r = replay(ARCH, tasks, g, s, costs, max_chunks=max_chunks)
    n = len(tasks)
    tol = 1e-9 * r.makespan
    for u, v in g.edges:
        assert r.start[v] >= r.end[u] - tol, (tasks[u].name, tasks[v].name)
    assert all(r.start[i] <= r.end[i] <= r.makespan for i in range(n))
    assert r.peak_buffer_bytes <= CAP * (1 + 1e-9)
    assert r.serial == pytest.approx(alone_sum, rel=1e-9)
    assert r.makespan <= r.serial * (1 + 1e-9)
    # the same plan in detail: engine order kept, nothing forced over the capacity
    chunks = step_chunks(ARCH, costs, max_chunks)
    p = play(schedule_plan(tasks, g, s, chunks), CAP, BW, LAT)
    assert p.makespan == r.makespan and p.forced == 0
    for engine in ("array", "vector"):
        ops = sorted((i for i in range(n) if tasks[i].engine == engine), key=lambda i: (s.compute_start[i], i))
        for a, b in zip(ops, ops[1:], strict=False):
            assert p.first_compute[b] >= p.last_compute[a] - tol, (tasks[a].name, tasks[b].name)
    # traffic: every tile's bytes once, less what kept tensors save (each op's loads and write-backs down to zero)
    load_saved, wb_saved = [0.0] * n, [0.0] * n
    for c in s.kept:
        sv = saved_bytes(tasks, [c])
        wb_saved[c.producer] += sv[c.producer]
        for rd in set(c.readers):
            load_saved[rd] += sv[rd]
    moved = sum(max(0.0, sum(ch.load) - ls) + max(0.0, sum(ch.writeback) - ws)
                for ch, ls, ws in zip(chunks, load_saved, wb_saved, strict=True) if ch is not None)
    assert r.dram_busy * BW == pytest.approx(moved, rel=1e-9)
    if not s.kept:
        assert r.dram_busy * BW == pytest.approx(sum(t.dram_bytes for t in tasks), rel=1e-9)
    return r


@functools.cache
def _scheduled(name):
    step = dict(STEPS)[name]
    costs = costs_of(step)
    tasks = step_tasks(ARCH, step.nodes, costs)
    g = op_graph(tasks)
    keys = [(n.layer, n.phase == Phase.FORWARD) for n in step.nodes]
    schedules = (serial(tasks), greedy(tasks, g, CAP),
                 cpsat(tasks, g, keys, CAP, BW, CpSatSettings(quantum_cycles=default_quantum(tasks))))
    return step, costs, tasks, g, schedules


@pytest.mark.parametrize("max_chunks", [256, 16])  # 16: below the largest ops' tile counts, so merging is exercised
@pytest.mark.parametrize("name", [n for n, _ in STEPS])
def test_tiny_steps_replayed(name, max_chunks):
    step, costs, tasks, g, schedules = _scheduled(name)
    alone_sum = sum(alone(n, c, max_chunks).makespan for n, c in zip(step.nodes, costs, strict=True))
    assert schedules[2].kept  # kept tensors are exercised
    ser = schedules[0]
    for s in schedules:
        r = _check(tasks, g, s, costs, max_chunks, alone_sum)
        if s.scheduler != "none":
            # the stated tolerance: replayed against the same ops replayed serially, a schedule ends no more than 1
            # point later than it promised over serial execution, and no more than 10 points earlier (a schedule is
            # conservative: tensors it keeps after the solve shorten ops it does not re-time, and the replay starts
            # each op as soon as its inputs, engine and buffer allow)
            promised = s.makespan / ser.makespan
            assert promised - 0.10 <= r.makespan / r.serial <= promised + 0.01, s.scheduler
        report_line(f"replay {name:8s} max_chunks={max_chunks:3d} {s.scheduler:6s}: replayed makespan/serial "
                    f"{r.makespan / r.serial:.4f}, schedule's {s.makespan / ser.makespan:.4f}; replayed serial / "
                    f"cost-model serial {r.serial / ser.makespan:.4f}, peak buffer {r.peak_buffer_bytes / CAP:.0%}")
