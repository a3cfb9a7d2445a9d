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
from edgesim.search.cache import mapping_from_dict, signature_key
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
    mf = load_mappings(out)
    assert mf.entries == (("gemm_40x24x64", signature_key(op), ex.mapping),)
    assert mf.fingerprint == arch.fingerprint()


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


def test_mappings_for_other_hardware_or_changed_ops_are_refused_unless_forced(tmp_path, capsys, caplog):
    """A mappings file carries the hardware fingerprint and each op's signature: applying it elsewhere is an error."""
    from edgesim.cli import main

    out = tmp_path / "m.json"
    assert main(["schedule", "--gemm", "64,64,64", "--searcher", "exhaustive", "--no-cache", "-o", str(out)]) == 0
    capsys.readouterr()
    # same hardware: used silently
    assert main(["simulate", "--gemm", "64,64,64", "--mappings", str(out), "--format", "json"]) == 0
    used = json.loads(capsys.readouterr().out)["per_op"][0]["mapping"]
    assert used == mapping_from_dict(json.loads(out.read_text())["mappings"][0]["mapping"]).describe()
    assert not caplog.records
    # other hardware: refused, naming the file, the field and both fingerprints
    assert main(["simulate", "--gemm", "64,64,64", "--set", "pe_array.rows=8", "--mappings", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}: hardware_fingerprint: scheduled for edge-npu-16x16" in err and "--force" in err
    assert main(["simulate", "--gemm", "64,64,64", "--set", "pe_array.rows=8", "--mappings", str(out), "--force"]) == 0
    capsys.readouterr()
    # an op of the same name with another shape: refused; an op no entry matches: named on stderr
    data = json.loads(out.read_text())
    data["mappings"][0]["name"] = "gemm_64x64x32"
    out.write_text(json.dumps(data))
    assert main(["simulate", "--gemm", "64,64,32", "--mappings", str(out)]) == 2
    assert "mappings[gemm_64x64x32]: was written for another op of that name" in capsys.readouterr().err
    assert main(["simulate", "--gemm", "32,32,32", "--mappings", str(out)]) == 0
    assert "has no entry for 1 GEMM(s) (gemm_32x32x32)" in caplog.text


def test_raw_flag_returns_the_raw_solver_and_refuses_other_searchers(tmp_path):
    text = cli_schedule.run(parse("--gemm", "127,509,1021", "--raw", "--no-cache", "--format", "json"))
    data = json.loads(text)
    assert data["searcher"] == "cpsat-raw"
    ex = ExhaustiveSearcher().best(load_arch(), Gemm(name="g", m=127, n=509, k=1021))
    assert not isinstance(ex, Infeasible) and data["total_cycles"] >= ex.cost.total_cycles
    with pytest.raises(ConfigError, match="--raw"):
        cli_schedule.run(parse("--gemm", "8,8,8", "--raw", "--searcher", "exhaustive", "--no-cache"))
