"""`edgesim schedule --nest`: the loop-nest search through the CLI, its report, and its flag errors."""

from __future__ import annotations

import json
import re

import pytest

from edgesim import api
from edgesim.cli import main
from edgesim.config.hardware import load_arch
from edgesim.cost.hierarchy import of_arch
from edgesim.cost.nest import evaluate_nest
from edgesim.loopnest import LoopNest
from edgesim.operands import operand_model
from edgesim.ops import Gemm
from edgesim.report import nest_schedule
from edgesim.search.factory import SEARCHERS

TPU = ["schedule", "--hw", "edge_tpu_like", "--nest"]
ZIGZAG_SPATIAL = "D1=n8 D2=k8 D3=m4 D4=m4"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main([*args, "--format", "json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def rebuild(h, nest: dict) -> LoopNest:
    """The LoopNest of a report's JSON, from its own fields (axes and memories in the hierarchy's order)."""
    assert list(nest["spatial"]) == [a.name for a in h.axes]
    assert list(nest["bounds"]) == [m.name for m in h.memories]
    return LoopNest(spatial=tuple(tuple((d, f) for d, f in nest["spatial"][a.name]) for a in h.axes),
                    temporal=tuple((d, f) for d, f in nest["temporal"]),
                    bounds=tuple(tuple(nest["bounds"][m.name].get(t, 0) for t in "ABC") for m in h.memories),
                    double_buffer=nest["double_buffer"])


def test_json_cycles_are_the_reported_nests_cost(capsys):
    data = run_json(capsys, *TPU, "--gemm", "64,64,256", "--searcher", "random", "--budget", "500")
    arch = load_arch("edge_tpu_like")
    h = of_arch(arch)
    op = Gemm(name="gemm_64x64x256", m=64, n=64, k=256)
    (row,) = data["per_op"]
    assert row["mapped"] and row["searcher"] == "random" and row["nests_scored"] == 500
    costs = evaluate_nest(h, op, operand_model(arch, op), rebuild(h, row["nest"]))
    assert bool(costs.feasible[0])
    assert row["total_cycles"] == float(costs.total_cycles[0])
    assert row["energy_pj"] == pytest.approx(float(costs.energy_pj[0]))
    assert row["dram_bytes"] == pytest.approx(float(costs.dram_bytes[0]))
    assert row["utilization"] == pytest.approx(op.macs / (row["total_cycles"] * 1024))
    # per memory and operand traffic, the memories holding each operand only; DRAM's is the DRAM total
    assert set(row["traffic"]["rf_1B"]) == {"B"} and set(row["traffic"]["sram_2MB"]) == {"A", "C"}
    assert sum(v["read_bytes"] + v["write_bytes"] for v in row["traffic"]["dram"].values()) == row["dram_bytes"]
    assert data["total_cycles"] == row["total_cycles"] and data["mapped_ops"] == data["ops"] == 1
    assert not data["incomplete"]
    assert [a["size"] for a in data["hierarchy"]["axes"]] == [8, 8, 4, 4]
    assert data["hierarchy"]["interconnect"] == "broadcast"


@pytest.mark.parametrize("spatial, expected", [
    (ZIGZAG_SPATIAL, {"D1": [["n", 8]], "D2": [["k", 8]], "D3": [["m", 4]], "D4": [["m", 4]]}),
    ("D4=m4 D1=k4,n2 D2=k8 D3=m4", {"D1": [["k", 4], ["n", 2]], "D2": [["k", 8]], "D3": [["m", 4]], "D4": [["m", 4]]}),
])
def test_spatial_fixes_the_unrolling(spatial, expected, capsys):
    data = run_json(capsys, *TPU, "--gemm", "64,64,256", "--searcher", "random", "--budget", "300", "--spatial", spatial)
    row = data["per_op"][0]
    # per axis, the dims in any order (the searchers give them in m, n, k order)
    assert {a: sorted(v) for a, v in row["nest"]["spatial"].items()} == {a: sorted(v) for a, v in expected.items()}
    assert data["settings"]["spatial"] == spatial


@pytest.mark.parametrize("spatial, token, what", [
    ("D9=n8 D2=k8 D3=m4 D4=m4", "'D9=n8'", "unknown array axis 'D9'"),
    ("D1=n8 D2=k8 D3=m4", "'D1=n8 D2=k8 D3=m4'", "missing axis D4"),
    ("D1=n16 D2=k8 D3=m4 D4=m4", "'D1=n16'", "unrolls 16 on axis D1, which has 8 PEs"),
    ("D1=k4,n4 D2=k8 D3=m4 D4=m4", "'D1=k4,n4'", "unrolls 16 on axis D1, which has 8 PEs"),
    ("D1=x8 D2=k8 D3=m4 D4=m4", "'D1=x8'", "'x8': the dim must be one of m, n, k"),
    ("D1=n0 D2=k8 D3=m4 D4=m4", "'D1=n0'", "'n0': the factor must be a positive integer"),
    ("D1=n8 D1=k8 D3=m4 D4=m4", "'D1=k8'", "axis D1 given twice"),
    ("D1 D2=k8 D3=m4 D4=m4", "'D1'", "not AXIS=UNROLL"),
])
def test_bad_spatial_is_a_message_naming_the_flag(spatial, token, what, capsys):
    assert main([*TPU, "--gemm", "64,64,64", "--searcher", "random", "--budget", "10", "--spatial", spatial]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgesim: error:") and "Traceback" not in err
    assert f"--spatial: {token}: {what}" in err
    assert "D1 (8), D2 (8), D3 (4), D4 (4)" in err  # the hardware's axes and sizes


def _flag_errors() -> list[tuple[list[str], str]]:
    cases = [
        ([*TPU, "--gemm", "8,8,8", "--searcher", "exhaustive"],
         "--searcher: exhaustive is a three-level searcher; with --nest the searchers are auto, cpsat, random, genetic"),
        ([*TPU, "--gemm", "8,8,8", "--searcher", "fixed-ws"], "--searcher: fixed-ws is a three-level searcher"),
        ([*TPU, "--gemm", "8,8,8", "--raw"], "--raw: the loop-nest searchers have no raw mode"),
        (["schedule", "--gemm", "8,8,8", "--spatial", ZIGZAG_SPATIAL], "--spatial: fixes the loop-nest model's spatial "
                                                                        "unrolling: only with --nest"),
    ]
    # names only the loop-nest search has (auto, today) are errors without --nest; a name both have keeps its
    # three-level meaning there
    cases += [(["schedule", "--gemm", "8,8,8", "--searcher", name], f"--searcher: {name} searches the loop-nest "
               "mapspace: add --nest") for name in api.NEST_SEARCHERS if name not in SEARCHERS]
    return cases


@pytest.mark.parametrize("args, message", _flag_errors())
def test_flag_errors(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgesim: error:") and message in err and "Traceback" not in err


def test_auto_is_nest_only_today(capsys):
    if "auto" in SEARCHERS:
        pytest.skip("auto is a three-level searcher name too")
    assert main(["schedule", "--gemm", "8,8,8", "--searcher", "auto"]) == 2
    assert "--searcher: auto searches the loop-nest mapspace: add --nest" in capsys.readouterr().err


def test_mappings_out_is_an_error_with_nest(tmp_path, capsys):
    out = tmp_path / "x.json"
    assert main([*TPU, "--gemm", "8,8,8", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "-o: the loop-nest search writes no mappings file yet" in err and "Traceback" not in err
    assert not out.exists()


def test_cpsat_on_a_systolic_array_names_the_alternatives(capsys):
    assert main(["schedule", "--hw", "edge_npu_16x16", "--nest", "--gemm", "16,16,16", "--searcher", "cpsat"]) == 2
    err = capsys.readouterr().err
    assert "the exact loop-nest model covers broadcast arrays, and edge-npu-16x16 is a systolic array" in err
    assert "use --searcher auto (random search there), random or genetic" in err and "Traceback" not in err


def test_cpsat_and_auto_on_a_broadcast_array(capsys):
    """The exact model, and auto's random + CP-SAT, on one fixed unrolling (small deterministic budgets)."""
    cp = run_json(capsys, *TPU, "--gemm", "32,32,64", "--searcher", "cpsat", "--deterministic-limit", "0.3",
                  "--spatial", ZIGZAG_SPATIAL)
    auto = run_json(capsys, *TPU, "--gemm", "32,32,64", "--deterministic-limit", "0.3", "--budget", "300",
                    "--spatial", ZIGZAG_SPATIAL)
    assert cp["per_op"][0]["searcher"] == "cpsat" and cp["per_op"][0]["mapped"]
    assert auto["searcher"] == "auto" and auto["per_op"][0]["searcher"].startswith("auto (")
    assert auto["settings"] == {"seed": 0, "spatial": ZIGZAG_SPATIAL, "deterministic_limit": 0.3, "points": 300}
    # auto keeps the better of its random search and the same CP-SAT run
    assert auto["total_cycles"] <= cp["total_cycles"]


def test_packed_op_is_not_mapped_and_totals_are_incomplete(write, capsys):
    """A 4-bit weight packs two MACs per PE on edge_npu_16x16 (Bit Fusion): the loop-nest model cannot cost it. It is
    reported NOT MAPPED with the reason, left out of the totals, which are marked INCOMPLETE; the exit status is 0, as
    `edgesim schedule` reports an infeasible op of the three-level search."""
    path = write("w.yaml", "name: w\ngemms:\n  - {name: dense, m: 32, n: 32, k: 64}\n"
                           "  - {name: w4, m: 32, n: 32, k: 64, b_bits: 4}\n")
    args = ["schedule", "--hw", "edge_npu_16x16", "--nest", "--workload", str(path), "--searcher", "random",
            "--budget", "200"]
    data = run_json(capsys, *args)
    dense, w4 = data["per_op"]
    assert dense["mapped"] and not w4["mapped"]
    assert "packs several MACs per PE" in w4["not_mapped"] and w4["total_cycles"] is None and w4["nest"] is None
    assert data["incomplete"] and data["not_mapped_ops"] == 1 and data["mapped_ops"] == 1
    assert data["total_cycles"] == dense["total_cycles"] and data["energy_pj"] == dense["energy_pj"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "TOTAL INCOMPLETE (1 op(s) NOT MAPPED, left out)" in out
    w4_line = next(ln for ln in out.splitlines() if ln.split()[:1] == ["w4"] and "32" in ln)
    assert "NOT MAPPED" in w4_line
    assert re.search(rf"^  w4 +NOT MAPPED: {re.escape(w4['not_mapped'])}$", out, re.MULTILINE)


def test_no_feasible_nest_is_not_mapped(capsys):
    """D4 unrolling n makes rf_1B (1 B, shared over D3 and D4) hold 4 weights: no nest of this unrolling fits."""
    data = run_json(capsys, *TPU, "--gemm", "64,64,64", "--searcher", "random", "--budget", "100",
                    "--spatial", "D1=n8 D2=k8 D3=m4 D4=n4")
    (row,) = data["per_op"]
    assert not row["mapped"] and row["nests_scored"] == 100
    assert row["not_mapped"] == "random found no feasible nest among the 100 it scored (each overflows a memory or the array)"
    assert data["incomplete"] and data["total_cycles"] == 0 and data["utilization"] is None
    assert main([*TPU, "--gemm", "64,64,64", "--searcher", "random", "--budget", "100", "--spatial",
                 "D1=n8 D2=k8 D3=m4 D4=n4"]) == 0
    out = capsys.readouterr().out
    assert "TOTAL INCOMPLETE (1 op(s) NOT MAPPED, left out)" in out and "found no feasible nest" in out


def test_table_has_units_and_no_column_of_zeros(monkeypatch, capsys):
    frames = []
    original = nest_schedule.table_frame

    def keep(head, rows):
        frames.append(original(head, rows))
        return frames[-1]

    monkeypatch.setattr(nest_schedule, "table_frame", keep)
    assert main([*TPU, "--layer", "tiny", "--seq", "8", "--searcher", "random", "--budget", "100"]) == 0
    out = capsys.readouterr().out
    (frame,) = frames
    assert frame.to_string(index=False) in out
    for col in ("cycles", "energy uJ", "util %", "search s", "nests scored"):
        assert col in frame.columns
    assert any(c.startswith("DRAM ") and c.split()[-1] in ("B", "KiB", "MiB", "GiB") for c in frame.columns)
    assert any(c.startswith("rf_1B r+w ") for c in frame.columns)

    def zero(cell: str) -> bool:
        try:
            return float(cell.replace(",", "")) == 0
        except ValueError:
            return False

    ops = frame.iloc[:-1]  # the ops' rows, without the totals
    for col in frame.columns:
        assert not any(zero(c) for c in ops[col]), f"column {col!r} prints a zero"
    assert "array 8x8x4x4 broadcast" in out and "sram_2MB [A C] 2 MiB" in out
    assert frame["op"].iloc[-1] == "TOTAL"


def test_api_reports_unsupported_ops_and_rejects_bad_spatial():
    arch = load_arch("edge_npu_16x16")
    ops = [Gemm(name="w4", m=16, n=16, k=32, b_bits=4)]
    (s,) = api.schedule_nests(arch, ops, searcher="random", budget=50)
    assert not s.mapped and s.result is None and "packs" in s.reason
    with pytest.raises(ValueError, match="the unrolling uses 32 PEs, the axis has 16"):
        api.schedule_nests(arch, ops, searcher="random", budget=50, spatial=((("m", 32),), ()))
    with pytest.raises(ValueError, match="covers broadcast arrays"):
        api.schedule_nests(arch, ops, searcher="cpsat")
