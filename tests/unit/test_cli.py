"""The CLI, run as a user runs it (subprocess), and through main() for the error paths."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from edgesim.cli import main
from tests.conftest import REPO

TINY_TRACE = REPO / "workloads" / "traces" / "tiny_edge_llm.json"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgesim", *args], capture_output=True, text=True, cwd=REPO, timeout=120)


def test_no_arguments_runs_the_main_job():
    out = run()
    assert out.returncode == 0, out.stderr
    assert "edgesim tune: llama-7b (seq 512, batch 1) on edge-npu-16x16" in out.stdout
    rows = [ln.split() for ln in out.stdout.splitlines() if ln.strip().startswith(("lora ", "edge-llm "))]
    assert [r[0] for r in rows[:2]] == ["lora", "edge-llm"]
    # the baseline is int8 LoRA, what an int8 NPU's user runs; its peak (8.34 GiB) does not fit the 8 GiB device, so
    # it says so instead of giving ratios
    assert "Vanilla methods run at 8-bit weights and activations" in out.stdout
    assert " ".join(rows[0][2:5]) == "does not fit 29.46" or rows[0][2:5] == ["does", "not", "fit"]
    peak = re.search(r"lora \(([\d.]+) GiB\) does not fit this device's 8 GiB of DRAM", out.stdout)
    assert peak is not None and float(peak.group(1)) > 8
    assert not any(cell.endswith("x") for cell in rows[1][1:4])  # no speed-up against a baseline that cannot run


def test_simulate_without_arguments_runs_the_default_gemm_list():
    out = run("simulate")
    assert out.returncode == 0, out.stderr
    assert "llama7b-layer0-luc-fwd on edge-npu-16x16" in out.stdout
    assert "down_proj" in out.stdout and "TOTAL" in out.stdout


def test_json_has_totals_that_add_up(capsys):
    assert main(["simulate", "--gemm", "512,4096,4096", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("compute_cycles", "total_cycles", "energy_pj", "dram_bytes"):
        assert data[key] > 0
    op = data["per_op"][0]
    assert (op["m"], op["n"], op["k"]) == (512, 4096, 4096)
    assert data["total_cycles"] == op["total_cycles"] >= data["compute_cycles"]


def test_set_changes_the_array(capsys):
    assert main(["simulate", "--gemm", "64,64,64", "--dataflow", "os", "--format", "json",
                 "--set", "pe_array.rows=8", "--set", "pe_array.cols=64"]) == 0
    narrow = json.loads(capsys.readouterr().out)
    assert main(["simulate", "--gemm", "64,64,64", "--dataflow", "os", "--format", "json"]) == 0
    square = json.loads(capsys.readouterr().out)
    assert narrow["compute_cycles"] != square["compute_cycles"]
    assert narrow["per_op"][0]["mapping"].startswith("os ")


def test_csv_format(capsys):
    assert main(["simulate", "--gemm", "32,32,32", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("op,kind,shape,m,n,k,") and len(lines) == 2


@pytest.mark.parametrize("args, message", [
    (["simulate", "--set", "pe_array.rows=x"],
     "--set pe_array.rows=x: pe_array.rows: expected a positive integer (PEs, at most 4,096), got 'x'"),
    (["simulate", "--set", "pe_aray.rows=4"], "did you mean 'pe_array'?"),
    (["simulate", "--gemm", "1,2"], "--gemm 1,2: expected three positive integers M,N,K"),
    (["simulate", "--hw", "no_such_npu"], "no_such_npu: no such file, and no built-in hardware config of that name"),
    (["simulate", "--workload", "missing.yaml"], "missing.yaml: cannot read file"),
])
def test_errors_are_messages_not_tracebacks(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgesim: error:") and message in err
    assert "Traceback" not in err


def test_workload_file_errors_name_entry_and_line(write, capsys):
    path = write("w.yaml", "name: w\ngemms:\n  - {name: a, m: 4, n: 4, k: 4}\n  - {name: b, m: 0, n: 4, kk: 4}\n")
    assert main(["simulate", "--workload", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4: gemms[1].m: expected a positive integer (at most 1,048,576), got 0" in err
    assert "gemms[1].kk: unknown key 'kk'" in err
    assert "gemms[1].k: missing required field" in err


def test_csv_workload(write, capsys):
    path = write("w.csv", "name,m,n,k,weight_density,weight_format\nfc,64,64,64,0.5,unstructured\nfc2,8,8,8,,\n")
    assert main(["simulate", "--workload", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["op"] for r in data["per_op"]] == ["fc", "fc2"]
    assert data["per_op"][0]["weight_density"] == 0.5


def test_output_file(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["simulate", "--gemm", "16,16,16", "--format", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["total_cycles"] > 0


def test_layer_with_timeline_png_and_csv(tmp_path, capsys):
    png, csv_path = tmp_path / "t.png", tmp_path / "t.csv"
    assert main(["simulate", "--layer", "tiny", "--seq", "64", "--timeline", str(png)]) == 0
    out = capsys.readouterr().out
    assert "engine: sim" in out and "softmax" in out and "bw stall" in out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main(["simulate", "--layer", "tiny", "--seq", "64", "--timeline", str(csv_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["engine"] == "sim"
    # the simulator's totals: every op's cycles = compute + stalls
    for op in data["per_op"]:
        stalls = sum(op[f"stall_{c}_cycles"] for c in ("dram_bandwidth", "dram_latency", "buffer_port"))
        assert op["total_cycles"] == pytest.approx(op["compute_cycles"] + stalls)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "op,lane,start_cycle,end_cycle,kind,busy_share,label" and len(lines) > 20


def test_timeline_needs_sim_and_known_suffix(tmp_path, capsys):
    assert main(["simulate", "--gemm", "8,8,8", "--engine", "analytic", "--timeline", str(tmp_path / "x.png")]) == 2
    assert "--timeline: needs --engine sim" in capsys.readouterr().err
    assert main(["simulate", "--gemm", "8,8,8", "--timeline", str(tmp_path / "x.svg")]) == 2
    assert "expected a file name ending in .png or .csv" in capsys.readouterr().err


def test_tune_compare_all_methods_json(capsys, tmp_path):
    assert main(["tune", "--model", "tiny", "--seq", "32", "--trace", str(TINY_TRACE), "--format", "json",
                 "--compare", "full,lora,qlora,partial,edge-llm", "--partial-layers", "1", "--cache-dir", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    methods = {m["method"]: m for m in data["methods"]}
    assert list(methods) == ["full", "lora", "qlora", "partial", "edge-llm"]
    assert methods["lora"]["speedup_vs_lora"] == 1.0 and methods["lora"]["memory_reduction_vs_lora"] == 1.0
    for m in methods.values():
        phases = sum(m[f"{p}_seconds"] for p in ("forward", "backward_data", "backward_weight", "optimizer"))
        assert phases == pytest.approx(m["seconds"])
        assert m["peak_memory_bytes"] >= m["peak_weights_bytes"] > 0
    # qlora stores 4-bit base weights: less memory than lora; full fine-tuning needs the most
    assert methods["qlora"]["peak_weights_bytes"] < methods["lora"]["peak_weights_bytes"]
    assert methods["full"]["peak_memory_bytes"] == max(m["peak_memory_bytes"] for m in methods.values())
    assert len(methods["edge-llm"]["phases"]) == 2


def test_tune_errors(capsys):
    assert main(["tune", "--compare", "lora,fast"]) == 2
    assert "unknown method(s) fast" in capsys.readouterr().err
    assert main(["tune", "--model", "opt_1b3", "--method", "edge-llm"]) == 2  # no default trace for OPT
    assert "opt_1b3_edge_llm.json: cannot read file" in capsys.readouterr().err


def test_trace_command_refuses_unmeasured_layer(tmp_path, capsys):
    data = REPO.parent / "shared" / "data" / "llama7b_layerwise_pruning_mse.csv"
    if not data.exists():
        pytest.skip("../shared/data is not beside the repository")
    out = tmp_path / "t.json"
    assert main(["trace", "--from-mse", str(data), "--model", "llama7b", "-o", str(out)]) == 2
    assert "layer 31: every output_mse is 0" in capsys.readouterr().err and not out.exists()
    assert main(["trace", "--from-mse", str(data), "--model", "llama7b", "--unmeasured", "exclude", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["provenance"]["unmeasured_choice"] == "exclude"


def test_tune_per_layer_and_infer(capsys):
    assert main(["tune", "--model", "tiny", "--seq", "32", "--trace", str(TINY_TRACE), "--compare", "lora,edge-llm",
                 "--per-layer", "--mapper", "heuristic"]) == 0
    out = capsys.readouterr().out
    assert "Seconds per layer per step:" in out and "heads/loss/opt" in out
    assert main(["infer", "--model", "tiny", "--trace", str(TINY_TRACE), "--prompt", "16", "--generate", "4",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["exits"] for m in data["methods"]] == [[3], [1, 3]]


def test_tune_mappers_agree_or_improve(capsys, tmp_path):
    """The scheduler is never slower than a fixed dataflow; at tolerance 0 never slower than the heuristic;
    with the default 2% band it stays within 2% of its fastest mapping."""
    seconds = {}
    for mapper, tol in (("exhaustive", "0"), ("auto", "0.02"), ("fixed-ws", "0"), ("fixed-os", "0"), ("heuristic", "0")):
        assert main(["tune", "--model", "tiny", "--seq", "32", "--method", "lora", "--mapper", mapper,
                     "--latency-tolerance", tol, "--cache-dir", str(tmp_path), "--format", "json"]) == 0
        seconds[mapper] = json.loads(capsys.readouterr().out)["methods"][0]["seconds"]
    assert seconds["exhaustive"] <= min(seconds["fixed-ws"], seconds["fixed-os"], seconds["heuristic"]) * (1 + 1e-9)
    assert seconds["auto"] <= min(seconds["fixed-ws"], seconds["fixed-os"]) * (1 + 1e-9)
    assert seconds["auto"] <= seconds["exhaustive"] * 1.02


def test_simulate_uses_mappings_written_by_schedule(tmp_path, capsys):
    maps = tmp_path / "maps.json"
    assert main(["schedule", "--gemm", "64,48,80", "--searcher", "fixed-ws", "--no-cache", "-o", str(maps)]) == 0
    capsys.readouterr()
    assert main(["simulate", "--gemm", "64,48,80", "--mappings", str(maps), "--format", "json"]) == 0
    op = json.loads(capsys.readouterr().out)["per_op"][0]
    assert op["mapping"].startswith("ws ")  # the heuristic alone would pick the faster os here
    assert main(["simulate", "--gemm", "64,48,80", "--format", "json"]) == 0
    assert not json.loads(capsys.readouterr().out)["per_op"][0]["mapping"].startswith("ws ")
