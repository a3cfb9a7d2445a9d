"""The experiment's --quick mode runs end to end (pre-train, measure, policies, tune, export) into a temporary directory."""

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
    res = json.loads((tmp_path / "results" / "quick" / "results.json").read_text())
    lora, edge = res["tuning"]["lora"], res["tuning"]["edge-llm"]
    assert edge["saved_activation_MB"] < 0.5 * lora["saved_activation_MB"]
    assert [e[0] for e in edge["per_exit"]] == [1, 3, 5]
    assert set(res["policies"]) >= {"min-mse", "nm", "uniform-0.5"}
    assert res["simulated"]["edge-llm"]["peak_bytes"] < res["simulated"]["lora"]["peak_bytes"]
    assert (tmp_path / "checkpoints" / "pretrained_quick.pt").exists()
