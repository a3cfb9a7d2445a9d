"""Malformed inputs, by class, through the CLI entry point: every one exits 2 with a message that names the file (or
flag), the field and the value, and none raises (no traceback reaches the user).

The cases are generated from the shipped files (hw_configs/edge_npu_16x16.yaml, workloads/models/tiny.yaml, the tiny
trace) by replacing one field at a time with a value of the wrong kind, out of range, infinite, NaN or huge, plus
hand-written cases for cross-field rules, unreadable files and command-line slips. `test_there_are_enough_cases`
keeps the count honest.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgesim.cli import main
from tests.conftest import REPO

HW = yaml.safe_load((REPO / "hw_configs" / "edge_npu_16x16.yaml").read_text(encoding="utf-8"))
FP16_HW = yaml.safe_load((REPO / "hw_configs" / "fp16_npu_32x32.yaml").read_text(encoding="utf-8"))  # a split MAC
MODEL = yaml.safe_load((REPO / "workloads" / "models" / "tiny.yaml").read_text(encoding="utf-8"))
TRACE = json.loads((REPO / "workloads" / "traces" / "tiny_edge_llm.json").read_text(encoding="utf-8"))
QUICK_SPEC = REPO / "experiments" / "04_hw_sweep" / "sweep_quick.yaml"
GEMMS = {"name": "w", "gemms": [{"name": "g", "m": 64, "n": 64, "k": 64}]}

WRONG = [0, -3, "x", float("inf"), float("nan"), 10**30, True, [1], {"a": 1}]  # for fields that must be positive
HW_POSITIVE = ["clock_mhz", "pe_array.rows", "pe_array.cols", "mac.native_bits", "mac.accumulator_bits",
               "vector_unit.lanes", "registers.capacity_bytes_per_pe", "registers.bandwidth_bytes_per_cycle_per_pe",
               "global_buffer.capacity_kib", "global_buffer.bandwidth_bytes_per_cycle", "dram.capacity_gib",
               "dram.bandwidth_gb_per_s", "area.pe_mm2", "area.sram_mm2_per_kib"]
HW_NONNEG = ["registers.read_energy_pj_per_byte", "global_buffer.write_energy_pj_per_byte", "dram.latency_ns",
             "dram.read_energy_pj_per_byte", "vector_unit.energy_pj_per_op", "area.fixed_mm2"]
MODEL_FIELDS = ["hidden", "intermediate", "layers", "heads", "kv_heads", "vocab", "max_seq"]
GEMM_FIELDS = ["m", "n", "k", "batch", "a_bits", "b_bits"]


def set_path(tree: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(tree)
    node = out
    *parents, last = dotted.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    return out


def cases() -> list[tuple[str, Any, tuple[str, ...]]]:
    """(kind, payload, substrings the message must contain); the payload is written to a file for file kinds."""
    out: list[tuple[str, Any, tuple[str, ...]]] = []
    for f in HW_POSITIVE:
        out += [("hw", set_path(HW, f, v), (f, f"got {v!r}")) for v in WRONG]
    for f in HW_NONNEG:
        out += [("hw", set_path(HW, f, v), (f, f"got {v!r}")) for v in (-1, float("inf"), "x", 10**30)]
    for table in ({8: -1}, {"x": 1}, {8: float("inf")}, {}, {0: 0.3}, {8: 0.3, 128: 0.1}):
        out.append(("hw", set_path(HW, "mac.energy_pj_per_mac", table), ("mac.energy_pj_per_mac", "got")))
    out += [
        ("hw", set_path(HW, "mac.accumulator_bits", 8), ("mac.accumulator_bits", "at least 16 bits, got 8")),
        ("hw", set_path(HW, "mac.min_bits", 3), ("mac.min_bits", "got 3")),
        ("hw", set_path(HW, "mac.min_bits", 16), ("mac.min_bits", "got 16")),
        ("hw", set_path(HW, "mac.native_bits", 7), ("mac.native_bits", "got 7")),
        ("hw", set_path(HW, "mac.energy_pj_per_mac", {8: 0.3}), ("mac.energy_pj_per_mac", "missing 4")),
        ("hw", set_path(HW, "mac.precision_mode", "quantum"), ("mac.precision_mode", "got 'quantum'")),
        ("hw", set_path(FP16_HW, "mac.native_bits", 12), ("mac.native_bits", "split MAC", "got 12")),
        ("hw", set_path(FP16_HW, "mac.min_bits", 6), ("mac.min_bits", "split MAC", "got 6")),
        ("hw", set_path(FP16_HW, "mac.energy_pj_per_mac", {4: 0.15, 16: 2.0}), ("mac.energy_pj_per_mac", "missing 8")),
        ("hw", set_path(HW, "sparsity.efficiency", 1.5), ("sparsity.efficiency", "got 1.5")),
        ("hw", set_path(HW, "sparsity.nm_patterns", ["4:2"]), ("sparsity.nm_patterns", "got ['4:2']")),
        ("hw", set_path(HW, "pe_array.rowz", 8), ("pe_array.rowz", "did you mean 'rows'")),
        ("hw", set_path(HW, "dram", 5), ("dram", "got 5")),
        ("hw", [1, 2], ("<top>", "got [1, 2]")),
    ]
    for f in MODEL_FIELDS:
        out += [("model", {**MODEL, f: v}, (f, f"got {v!r}")) for v in (0, "x", 10**30, -1, 2.5)]
    out += [("model", {**MODEL, "mlp": "tanh"}, ("mlp", "got 'tanh'")),
            ("model", {**MODEL, "hiden": 64}, ("hiden", "did you mean 'hidden'"))]
    for f in GEMM_FIELDS:
        out += [("gemms", {**GEMMS, "gemms": [{**GEMMS["gemms"][0], f: v}]}, (f"gemms[0].{f}", f"got {v!r}"))
                for v in (0, "x", 10**30)]
    out += [("gemms", {**GEMMS, "gemms": [{**GEMMS["gemms"][0], "weight_density": 0}]}, ("weight_density", "got 0")),
            ("gemms", {**GEMMS, "gemms": [{**GEMMS["gemms"][0], "a_bits": 3}]}, ("gemms[0].a_bits", "3-bit")),
            ("gemms", {**GEMMS, "gemms": [{**GEMMS["gemms"][0], "b_bits": 32}]}, ("gemms[0].b_bits", "32-bit"))]
    for field, v in (("weight_bits", 3), ("weight_bits", 1), ("activation_bits", 32), ("kv_bits", 12)):
        t = copy.deepcopy(TRACE)
        t["layers"][1][field] = v
        out.append(("trace", t, (f"layers[1].{field}", f"{v}-bit")))
    for field, v in (("weight_sparsity", float("nan")), ("weight_sparsity", float("inf")), ("weight_sparsity", 1.5),
                     ("weight_sparsity", "x"), ("lora_rank", -1), ("weight_bits", 0),
                     ("trainable", "yes"), ("sparsity_format", "diagonal")):
        t = copy.deepcopy(TRACE)
        t["layers"][1][field] = v
        out.append(("trace", t, ("layers", field)))
    for top, v in (("schema_version", 2), ("num_layers", 5), ("model", "llama7b"), ("sequence_length", 0),
                   ("batch", "one"), ("optimizer", "lion")):
        out.append(("trace", {**TRACE, top: v}, (top,)))
    # GEMM lists as CSV: a header line, then one GEMM per line
    for col, v in (("m", "0"), ("n", "x"), ("k", "1e400"), ("batch", "-2"), ("a_bits", "3"), ("weight_density", "nan")):
        row = {"name": "g", "m": "64", "n": "64", "k": "64", col: v}
        out.append(("csv", ",".join(row) + "\n" + ",".join(row.values()) + "\n", (col,)))
    out += [("csv", "name,m,n\ng,64,64\n", ("gemms[0].k", "missing")),
            ("csv", "name,m,n,k,color\ng,64,64,64,red\n", ("color",))]
    # sensitivity measurements for edgesim trace --from-mse (layer,pruning_ratio,sample,output_mse)
    head = "layer,pruning_ratio,sample,output_mse\n"
    out += [("mse", head + "x,0.1,0,0.5\n", ("layer", "got 'x'")),
            ("mse", head + "0,1.5,0,0.5\n", ("pruning_ratio", "got 1.5")),
            ("mse", head + "0,0.1,0,nan\n", ("output_mse", "got nan")),
            ("mse", head + "0,0.1,0,-1\n", ("output_mse", "got -1")),
            ("mse", head + "0.5,0.1,0,1\n", ("layer", "got 0.5")),
            ("mse", head, ("no measurements",)),
            ("mse", "layer,ratio\n0,0.1\n", ("pruning_ratio,output_mse", "missing column")),
            ("mse", head + "40,0.1,0,1\n", ("layer", "measures layers 40 to 40")),
            ("mse", (REPO.parent / "shared" / "data" / "llama7b_layerwise_pruning_mse.csv").read_text(encoding="utf-8")
             if (REPO.parent / "shared" / "data" / "llama7b_layerwise_pruning_mse.csv").exists() else head + "40,0.1,0,1\n",
             ("layer",))]
    # mappings files (edgesim schedule -o)
    good_map = {"dataflow": "os", "tile_m": 8, "tile_n": 8, "tile_k": 8, "dram_order": "mnk", "double_buffer": True}
    for bad_entry, want in (({"dataflow": "xx"}, "mappings[0]"), ({"tile_m": 0}, "mappings[0]"),
                            ({"dram_order": "abc"}, "mappings[0]"), ({"tile_k": "big"}, "mappings[0]")):
        out.append(("mappings", {"version": 1, "hardware": "x", "hardware_fingerprint": "f", "searcher": "s",
                                 "mappings": [{"name": "g", "signature": "s", "mapping": {**good_map, **bad_entry}}]},
                    (want,)))
    out += [("mappings", {"version": 2, "mappings": []}, ("version 1",)),
            ("mappings", {"version": 1, "mappings": [], "hardware_fingerprint": 3}, ("hardware_fingerprint", "got 3"))]
    # command-line slips: (argv, substrings)
    for argv, want in (
        (["tune", "--model", "tiny", "--seq", "0"], ("--seq", "got 0")),
        (["tune", "--model", "tiny", "--batch", "0"], ("--batch", "got 0")),
        (["tune", "--model", "tiny", "--seq", "1000000000"], ("--seq", "1,000,000,000")),
        (["tune", "--model", "tiny", "--method", "partial", "--partial-layers", "1000"], ("--partial-layers", "1,000")),
        (["tune", "--model", "tiny", "--lora-rank", "-5"], ("--lora-rank", "got -5")),
        (["tune", "--model", "tiny", "--compare", ",,,"], ("--compare", "',,,'")),
        (["tune", "--model", "tiny", "--compare", "lora,foo"], ("--compare", "foo")),
        (["tune", "--model", "tiny", "--compare", "lora", "--base-bits", "3"], ("--base-bits", "3-bit")),
        (["tune", "--model", "tiny", "--compare", "lora", "--base-bits", "64"], ("--base-bits", "64-bit")),
        (["tune", "--model", "tiny", "--latency-tolerance", "2"], ("--latency-tolerance", "got 2")),
        (["tune", "--model", "no_such_model"], ("no_such_model",)),
        (["tune", "--model", "tiny", "--trace", "no_such_trace.json"], ("no_such_trace.json", "cannot read")),
        (["infer", "--model", "tiny", "--prompt", "1000000000"], ("--prompt", "1,000,000,")),
        (["infer", "--model", "tiny", "--generate", "0"], ("--generate", "got 0")),
        (["infer", "--model", "tiny", "--compare", "full"], ("--compare", "'full'")),
        (["simulate", "--gemm", "²,4096,4096"], ("--gemm", "²")),
        (["simulate", "--gemm", ""], ("--gemm",)),
        (["simulate", "--gemm", "1,2"], ("--gemm 1,2",)),
        (["simulate", "--gemm", "0,8,8"], ("--gemm 0,8,8",)),
        (["simulate", "--gemm", "8,8,99999999999999999999"], ("--gemm",)),
        (["simulate", "--layer", "tiny", "--seq", "0"], ("--seq", "got 0")),
        (["simulate", "--layer", "tiny", "--lora-rank", "-1"], ("--lora-rank", "got -1")),
        (["simulate", "--timeline", "x.txt", "--gemm", "8,8,8"], ("--timeline x.txt",)),
        (["simulate", "--set", "pe_array.rows"], ("--set pe_array.rows", "PATH=VALUE")),
        (["simulate", "--set", "pe_array=3"], ("--set pe_array=3", "section")),
        (["simulate", "--set", "nope.x=3"], ("--set nope.x=3", "nope")),
        (["simulate", "--set", "clock_mhz=1e400"], ("clock_mhz",)),
        (["simulate", "--hw", "no_such_hw"], ("no_such_hw",)),
        (["schedule", "--gemm", "8,8,8", "--deterministic-limit", "0"], ("--deterministic-limit", "got 0")),
        (["schedule", "--gemm", "8,8,8", "--searcher", "random", "--budget", "0"], ("--budget", "got 0")),
        (["trace", "--from-mse", "x.csv", "--stride", "0", "-o", "t.json"], ("--stride", "got 0")),
        (["trace", "--from-mse", "x.csv", "--target", "1.5", "-o", "t.json"], ("--target", "got 1.5")),
        (["trace", "--from-mse", "no_such.csv", "-o", "t.json"], ("no_such.csv",)),
        (["tune", "--model", "tiny", "-o", "no_such_dir/out.txt"], ("-o no_such_dir/out.txt", "does not exist")),
        (["simulate", "--gemm", "8,8,8", "-o", "."], ("-o .", "is a directory")),
        (["sweep", "run", str(QUICK_SPEC), "-o", "r.db", "--scheduler", "garbage"], ("--scheduler garbage", "connect")),
        (["sweep", "run", str(QUICK_SPEC), "-o", "r.db", "--workers", "0"], ("--workers", "got 0")),
        (["sweep", "run", "no_such_spec.yaml", "-o", "r.db"], ("no_such_spec.yaml",)),
        (["sweep", "report", "no_such.db", "-o", "r.html"], ("no_such.db",)),
        (["sweep", "pareto", str(QUICK_SPEC)], ("sweep_quick.yaml", "not a database")),
        (["sweep", "export", "no_such.db", "-o", "x.txt"], ("x.txt",)),
    ):
        out.append(("argv", argv, want))
    return out


CASES = cases()


def write_payload(kind: str, payload: Any, d: Path) -> list[str]:
    """Write the payload where its kind is read and return the CLI arguments that load it."""
    if kind == "hw":
        p = d / "hw.yaml"
        p.write_text(yaml.safe_dump(payload), encoding="utf-8")
        return ["simulate", "--hw", str(p), "--gemm", "8,8,8"]
    if kind == "model":
        p = d / "model.yaml"
        p.write_text(yaml.safe_dump(payload), encoding="utf-8")
        return ["tune", "--model", str(p), "--method", "lora", "--no-cache", "--mapper", "heuristic"]
    if kind == "gemms":
        p = d / "gemms.yaml"
        p.write_text(yaml.safe_dump(payload), encoding="utf-8")
        return ["simulate", "--workload", str(p)]
    if kind == "trace":
        p = d / "trace.json"
        p.write_text(json.dumps(payload), encoding="utf-8")
        return ["tune", "--model", "tiny", "--trace", str(p), "--no-cache", "--mapper", "heuristic"]
    if kind == "csv":
        p = d / "gemms.csv"
        p.write_text(payload, encoding="utf-8")
        return ["simulate", "--workload", str(p)]
    if kind == "mse":
        p = d / "mse.csv"
        p.write_text(payload, encoding="utf-8")
        return ["trace", "--from-mse", str(p), "--model", "tiny", "-o", str(d / "t.json")]
    if kind == "mappings":
        p = d / "mappings.json"
        p.write_text(json.dumps(payload), encoding="utf-8")
        return ["simulate", "--gemm", "8,8,8", "--mappings", str(p)]
    return list(payload)


def test_there_are_enough_cases():
    assert len(CASES) >= 150, len(CASES)


@pytest.mark.parametrize(("kind", "payload", "want"), CASES, ids=[f"{k}{i}" for i, (k, _, _) in enumerate(CASES)])
def test_bad_input_exits_2_naming_source_field_and_value(kind, payload, want, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative outputs of the argv cases land in the temporary directory
    argv = write_payload(kind, payload, tmp_path)
    code = main(argv)  # an exception here is a traceback the user would see: the test fails
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("edgesim: error:"), err
    source = {"hw": "hw.yaml", "model": "model.yaml", "gemms": "gemms.yaml", "trace": "trace.json", "csv": "gemms.csv",
              "mappings": "mappings.json", "mse": "mse.csv"}.get(kind)
    for s in ((source,) if source else ()) + want:
        assert s in err, f"{s!r} not in: {err}"


@pytest.mark.parametrize("flag", ["--hw", "--model", "--trace", "--workload", "--mappings", "--from-mse"])
@pytest.mark.parametrize("content", [b"\xff\xfe\x00bad", b"", "directory"])
def test_unreadable_files_exit_2_naming_the_file(flag, content, tmp_path, capsys):
    if content == "directory":
        p = tmp_path / "adir"
        p.mkdir()
    else:
        p = tmp_path / ("f.csv" if flag in ("--workload", "--from-mse") else "f.yaml")
        p.write_bytes(content)
    base = {"--hw": ["simulate", "--gemm", "8,8,8"], "--model": ["tune", "--method", "lora", "--no-cache"],
            "--trace": ["tune", "--model", "tiny", "--no-cache"], "--workload": ["simulate"],
            "--mappings": ["simulate", "--gemm", "8,8,8"], "--from-mse": ["trace", "-o", str(tmp_path / "t.json")]}[flag]
    code = main([*base, flag, str(p)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(p.name) in err, err
