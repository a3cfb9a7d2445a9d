"""The experiment's --quick mode runs end to end (pre-train, measure, policies, export, compress, tune over seeds) into a
temporary directory."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

RUN = Path(__file__).resolve().parents[2] / "experiments" / "01_frontend" / "run.py"


def test_quick_experiment_writes_results_and_a_trace(tmp_path):
    spec = importlib.util.spec_from_file_location("frontend_run", RUN)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--quick", "--no-progress", "--workdir", str(tmp_path)])
    out = tmp_path / "results" / "quick"
    res = json.loads((out / "results.json").read_text())
    tun = res["tuning"]
    assert set(tun) == {"lora", "lora-compressed", "edge-llm-uncompressed", "edge-llm"}
    assert len(res["seeds"]) >= 3 and len(set(res["seeds"])) == len(res["seeds"])
    for run in tun.values():
        assert [r["seed"] for r in run["per_seed"]] == res["seeds"]
        for metric in ("val_loss", "val_accuracy", "saved_activation_MB", "median_seconds_per_step", "seconds_per_step"):
            s = run["summary"][metric]
            assert s["n"] == len(res["seeds"]) and s["std"] >= 0
            assert min(r[metric] for r in run["per_seed"]) <= s["mean"] <= max(r[metric] for r in run["per_seed"])
    lora, edge = tun["lora"], tun["edge-llm"]
    assert edge["compressed"] and edge["windowed_voting"] and not lora["compressed"] and not lora["windowed_voting"]
    assert edge["summary"]["saved_activation_MB"]["mean"] < 0.5 * lora["summary"]["saved_activation_MB"]["mean"]
    for key in ("edge-llm", "edge-llm-uncompressed"):
        assert [e["layer"] for e in tun[key]["per_exit"]] == [1, 3, 5]
        for row in tun[key]["per_seed"]:  # voting against the deepest exit alone, this seed
            assert row["voting_minus_deepest"]["loss"] == pytest.approx(row["val_loss"] - row["per_exit"][-1][1])
    # the compressed model is the exported trace's policy, applied for real
    trace = json.loads((out / "frontend_small_edge_llm.json").read_text())
    for layer, measured in zip(trace["layers"], res["compressed"]["measured"], strict=True):
        # pruning rounds each matrix to whole weights; quantization rounds a few small survivors to 0 as well
        assert layer["weight_sparsity"] - 1e-3 <= measured["zero_fraction"] <= layer["weight_sparsity"] + 0.05
        assert measured["max_levels_per_channel"] <= 2 ** layer["weight_bits"] - 1
    assert set(res["policies"]) >= {"min-mse", "nm", "uniform-0.5"}
    assert res["simulated"]["edge-llm"]["peak_bytes"] < res["simulated"]["lora"]["peak_bytes"]
    assert "voting − deepest exit" in (out / "results.md").read_text()
    assert (tmp_path / "checkpoints" / "pretrained_quick.pt").exists()
