"""Step-level scheduling of real tuning steps (the tiny model and LLaMA-7B's shapes): the task model against the cost
model, the schedules against the checker and the bounds, the report's totals against the schedule, the CLI."""

from __future__ import annotations

import json

import pytest

from edgesim.cli import main
from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import load_trace
from edgesim.evaluate import run_op
from edgesim.llm.memory import peak_memory
from edgesim.llm.step import TuningSettings, expand_step
from edgesim.llm.tune import cost_step
from edgesim.methods import Method, Phase
from edgesim.overlap.cpsat import CpSatSettings, cpsat
from edgesim.overlap.graph import op_graph, reuse_candidates
from edgesim.overlap.greedy import greedy, serial
from edgesim.overlap.run import OverlapSettings
from edgesim.overlap.schedule import lower_bound, violations
from edgesim.overlap.tasks import step_tasks
from edgesim.results import Engine
from tests.conftest import REPO

ARCH = load_arch()
TINY = load_model("tiny")


def tiny_steps():
    trace = load_trace(REPO / "workloads/traces/tiny_edge_llm.json", TINY)
    st = TuningSettings(seq=64, base_bits=8)
    yield "lora", expand_step(ARCH, TINY, Method.LORA, st)
    yield "full", expand_step(ARCH, TINY, Method.FULL, st)
    yield "edge-llm", expand_step(ARCH, TINY, Method.EDGE_LLM, st, list(trace.policies), trace.phases[-1])


STEPS = list(tiny_steps())


@pytest.mark.parametrize(("name", "step"), STEPS, ids=[n for n, _ in STEPS])
def test_each_op_alone_takes_its_cost_model_cycles(name, step):
    """prefetch + latency + compute of every op is the cost model's figure, so serial execution of the tasks is
    exactly today's step time, and the serial scheduler's timed peak memory is the step-order peak."""
    costs = [run_op(ARCH, n.op, Engine.ANALYTIC, max_events=0).cost for n in step.nodes]
    tasks = step_tasks(ARCH, step.nodes, costs)
    for t, c in zip(tasks, costs, strict=True):
        assert t.serial == pytest.approx(c.total_cycles, rel=1e-12), t.name
        assert 0 <= t.stream <= t.compute + 1e-9
    s = serial(tasks)
    assert s.makespan == pytest.approx(cost_step(ARCH, step).cycles, rel=1e-12)
    starts = [s.prefetch_start[i] for i in range(len(tasks))]
    timed = peak_memory(step, (starts, [s.end(i) for i in range(len(tasks))]))
    assert timed.peak_bytes == pytest.approx(peak_memory(step).peak_bytes)
    assert timed.timeline == pytest.approx(peak_memory(step).timeline)


@pytest.mark.parametrize(("name", "step"), STEPS, ids=[n for n, _ in STEPS])
def test_greedy_and_cpsat_schedules_are_valid_and_bounded(name, step):
    costs = [run_op(ARCH, n.op, Engine.ANALYTIC, max_events=0).cost for n in step.nodes]
    tasks = step_tasks(ARCH, step.nodes, costs)
    g = op_graph(tasks)
    cap, bw = ARCH.global_buffer.capacity_bytes, ARCH.dram.bandwidth_bytes_per_cycle
    ser = serial(tasks).makespan
    lb = lower_bound(tasks, g, reuse_candidates(tasks), bw)["bound"]
    q = float(ARCH.clock_mhz)
    keys = [(n.layer, n.phase == Phase.FORWARD) for n in step.nodes]
    for s in (greedy(tasks, g, cap), cpsat(tasks, g, keys, cap, bw, CpSatSettings(quantum_cycles=q))):
        assert violations(tasks, g, s, cap, bw) == [], s.scheduler
        assert lb <= s.makespan
        # CP-SAT rounds each task up to a microsecond: never above serial by more than that rounding
        assert s.makespan <= ser + (3 * q * len(tasks) if s.scheduler == "cpsat" else 1e-6), s.scheduler


def test_overlapped_step_totals_follow_the_schedule():
    """With --overlap the step's cycles are the makespan, its phases' cycles sum to it, its energy and traffic drop
    only by what stays on chip, and its peak memory is measured with ops running together."""
    _, step = STEPS[0]
    base = cost_step(ARCH, step)
    for scheduler in ("greedy", "cpsat"):
        c = cost_step(ARCH, step, overlap=OverlapSettings(scheduler=scheduler))
        sch = c.schedule
        assert sch is not None and sch.scheduler == scheduler
        assert c.cycles == sch.makespan_cycles
        assert sch.serial_cycles == pytest.approx(base.cycles)
        assert sch.bound_cycles <= c.cycles <= base.cycles + 3 * ARCH.clock_mhz * len(step.nodes)
        assert sum(p["cycles"] for p in c.by_phase.values()) == pytest.approx(c.cycles)
        assert sum(c.by_layer.values()) == pytest.approx(c.cycles)
        assert c.dram_bytes == pytest.approx(sch.dram_bytes)
        saved = base.dram_bytes - c.dram_bytes
        assert saved >= -1e-6
        assert base.energy_pj - c.energy_pj == pytest.approx(saved * ARCH.dram.read_energy_pj_per_byte, rel=1e-9,
                                                             abs=1e-6)  # reads and writes cost the same here
        assert set(sch.busy) == {"array", "vector", "dram"} and all(0 <= v <= 1 + 1e-9 for v in sch.busy.values())


def test_cli_overlap_report(capsys):
    assert main(["tune", "--model", "tiny", "--compare", "lora,edge-llm", "--overlap", "cpsat", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overlap"] == "cpsat"
    for m in data["methods"]:
        o = m["overlap"]
        assert o["scheduler"] == "cpsat"
        assert o["bound_seconds"] <= o["seconds"]
        assert m["seconds"] == pytest.approx(o["seconds"])
        assert o["stats"]["windows"] >= 1
    assert main(["tune", "--model", "tiny", "--overlap", "greedy"]) == 0
    out = capsys.readouterr().out
    assert "Step-level schedule" in out and "greedy µs" in out and "Busy time per phase" in out


@pytest.mark.parametrize(("args", "names"), [(["--overlap", "cpsat", "--engine", "sim"], "--overlap"),
                                             (["--overlap", "cpsat", "--overlap-budget", "0"], "--overlap-budget")])
def test_cli_overlap_errors_name_the_flag(capsys, args, names):
    assert main(["tune", "--model", "tiny", *args]) == 2
    assert names in capsys.readouterr().err


def test_cli_gantt_writes_a_png(tmp_path, capsys):
    out = tmp_path / "gantt.png"
    assert main(["tune", "--model", "tiny", "--compare", "lora,edge-llm", "--overlap", "greedy", "--gantt", str(out),
                 "--gantt-layer", "3"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()


@pytest.mark.parametrize(("args", "flag"), [(["--gantt", "x.png"], "--gantt"),
                                            (["--overlap", "greedy", "--gantt", "x.svg"], "--gantt"),
                                            (["--gantt-layer", "1"], "--gantt-layer"),
                                            (["--overlap", "greedy", "--gantt", "x.png", "--gantt-layer", "9"],
                                             "--gantt-layer")])
def test_cli_gantt_errors_name_the_flag(tmp_path, capsys, monkeypatch, args, flag):
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "--model", "tiny", *args]) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_overlap_csv_has_flat_schedule_columns(capsys):
    import csv
    import io

    assert main(["tune", "--model", "tiny", "--overlap", "greedy", "--format", "csv"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["scheduler"] == "greedy"
    assert float(row["bound_seconds"]) <= float(row["seconds"]) <= float(row["serial_seconds"])
    assert all(0 <= float(row[f"{e}_busy_share"]) <= 1 for e in ("array", "vector", "dram"))
