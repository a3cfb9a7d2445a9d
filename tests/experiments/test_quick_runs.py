"""Every experiment's --quick mode runs (as CI's smoke test of the studies)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import REPO

# studies with a dedicated quick-mode test elsewhere (01_frontend: tests/frontend/test_experiment_quick.py, with torch;
# 05_deployment_guidelines: tests/experiments/test_guidelines_quick.py)
COVERED_ELSEWHERE = {"01_frontend", "05_deployment_guidelines"}
STUDIES = sorted(p for p in (REPO / "experiments").glob("*/run.py") if p.parent.name not in COVERED_ELSEWHERE)


@pytest.mark.parametrize("script", STUDIES, ids=lambda p: p.parent.name)
def test_quick_mode(script, tmp_path):
    out = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=900,
                         cwd=tmp_path)  # paths must resolve relative to the script, not the working directory
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip()


def test_ablation_quick_factors(tmp_path):
    """experiments/02 --quick: every chain has its seven cumulative rows and the two reference rows, and the factors
    obey the hardware: sparsity the device cannot skip buys nothing, the scheduler is never slower than the best fixed
    dataflow, step-level scheduling never slower than serial, and narrower LUC bits speed up the fp16 NPU (its lanes
    split)."""
    script = REPO / "experiments" / "02_edge_llm_ablation" / "run.py"
    out = subprocess.run([sys.executable, str(script), "--quick", "--out", str(tmp_path)], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    df = pd.read_csv(tmp_path / "ablation.csv")
    assert (tmp_path / "ablation.png").stat().st_size > 10_000 and (tmp_path / "ablation.md").exists()
    chains = df.groupby(["device", "seq", "baseline"])
    assert len(chains) == 5 * 2 + 2  # five devices at two lengths, plus fp16 LoRA on the fp16 NPU
    for (device, _, _), g in chains:
        rows = dict(zip(g["row"], g.itertuples(), strict=True))
        assert list(rows) == ["LoRA", "+ window", "+ exit truncation", "+ LUC sparsity", "+ LUC bits",
                              "+ per-layer scheduling", "+ step-level scheduling", "LoRA, scheduled",
                              "LoRA, scheduled and overlapped"]
        assert rows["+ per-layer scheduling"].step_s <= rows["+ LUC bits"].step_s * (1 + 1e-9)
        # step-level scheduling never ends later than serial, up to CP-SAT's rounding of tasks to whole quanta
        assert rows["+ step-level scheduling"].step_s <= rows["+ per-layer scheduling"].step_s * 1.01
        assert rows["LoRA, scheduled and overlapped"].step_s <= rows["LoRA, scheduled"].step_s * 1.01
        assert rows["LoRA, scheduled"].step_s <= rows["LoRA"].step_s * (1 + 1e-9)
        if device in ("no-sparsity NPU", "Bit Fusion", "2:4-only NPU"):  # unstructured zeros are multiplied and stored
            assert rows["+ LUC sparsity"].factor_speed == pytest.approx(1.0)
            assert rows["+ LUC sparsity"].factor_memory == pytest.approx(1.0)
    fp16 = df[(df["device"] == "fp16 NPU") & (df["baseline"] == "fp16 LoRA")]
    assert (fp16.loc[fp16["row"] == "+ LUC bits", "factor_speed"] > 1.05).all()  # int8 at 2x, int4 at 4x: faster
    assert set(df.loc[df["baseline"] == "fp16 LoRA", "device"]) == {"fp16 NPU"}
