"""`edgesim schedule` through edgesim.cli.schedule.run on parsed arguments, and the mappings file it writes."""

from __future__ import annotations

import argparse
import json

import pytest

from edgesim.api import simulate_gemms
from edgesim.cli import schedule as cli_schedule
from edgesim.config.hardware import load_arch
from edgesim.config.mappings import load_mappings
from edgesim.errors import ConfigError, Infeasible
from edgesim.ops import Gemm
from edgesim.report.simulation import to_json
from edgesim.search.cache import signature_key
from edgesim.search.exhaustive import ExhaustiveSearcher


def parse(*argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    cli_schedule.add_parser(sub)
    return p.parse_args(["schedule", *argv])


def test_gemm_json_totals_and_mappings_file(tmp_path):
    out = tmp_path / "maps.json"
    text = cli_schedule.run(parse("--gemm", "40,24,64", "--searcher", "exhaustive", "--format", "json",
                                  "--cache-dir", str(tmp_path / "c"), "-o", str(out), "--set", "pe_array.rows=8"))
    data = json.loads(text)
    arch = load_arch(None, ["pe_array.rows=8"])
    op = Gemm(name="gemm_40x24x64", m=40, n=24, k=64)
    ex = ExhaustiveSearcher().best(arch, op)
    assert not isinstance(ex, Infeasible)
    assert data["total_cycles"] == ex.cost.total_cycles
    assert data["energy_pj"] == pytest.approx(ex.cost.energy_pj)
    # the same top-level totals as `edgesim simulate --format json`, and never slower than its heuristic mapping
    sim = json.loads(to_json(simulate_gemms(arch, [op])))
    assert {"total_cycles", "energy_pj", "dram_bytes"} <= set(sim) & set(data)
    assert data["total_cycles"] <= sim["total_cycles"]
    row = data["per_op"][0]
    assert row["total_cycles"] <= min(row[f"fixed_{d}_cycles"] for d in ("os", "ws", "is"))
    maps = load_mappings(out)
    assert maps["gemm_40x24x64"] == maps[signature_key(op)] == ex.mapping


def test_workload_table_and_second_run_cached(tmp_path, write):
    wl = write("w.yaml", "name: t\ngemms:\n  - {name: a, m: 64, n: 8, k: 256}\n  - {name: b, m: 64, n: 8, k: 256}\n"
                         "  - {name: c, m: 33, n: 17, k: 9, b_bits: 4}\n")
    args = ("--workload", str(wl), "--deterministic-limit", "1", "--cache-dir", str(tmp_path / "c"))
    first = cli_schedule.run(parse(*args))
    assert "TOTAL" in first and "os cycles" in first
    second = json.loads(cli_schedule.run(parse(*args, "--format", "json")))
    assert all(r["cached"] for r in second["per_op"])
    csv = cli_schedule.run(parse(*args, "--format", "csv"))
    assert csv.splitlines()[0].startswith("op,") and len(csv.splitlines()) == 4


def test_layer_gemms_only(tmp_path):
    data = json.loads(cli_schedule.run(parse("--layer", "llama7b", "--seq", "16", "--searcher", "fixed-ws",
                                             "--format", "json", "--no-cache")))
    assert data["ops"] >= 7 and data["searcher"] == "fixed-ws"
    assert data["total_cycles"] == pytest.approx(data["fixed_ws_total_cycles"])


@pytest.mark.parametrize("argv", [("--gemm", "8,8,8", "--deterministic-limit", "0"),
                                  ("--gemm", "8,x,8",), ()])
def test_errors_are_config_errors(argv):
    with pytest.raises(ConfigError):
        cli_schedule.run(parse(*argv, "--no-cache"))


def test_load_mappings_rejects_bad_files(write):
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_mappings(write("a.json", "{"))
    with pytest.raises(ConfigError, match="mappings"):
        load_mappings(write("b.json", json.dumps({"version": 1})))
    bad = {"version": 1, "mappings": [{"name": "x", "signature": "s", "mapping": {"dataflow": "os", "tile_m": 0}}]}
    with pytest.raises(ConfigError, match=r"mappings\[0\]"):
        load_mappings(write("c.json", json.dumps(bad)))
