"""Every experiment's --quick mode runs (as CI's smoke test of the studies)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

# studies with a dedicated quick-mode test elsewhere (01_frontend: tests/frontend/test_experiment_quick.py, with torch)
COVERED_ELSEWHERE = {"01_frontend"}
STUDIES = sorted(p for p in (REPO / "experiments").glob("*/run.py") if p.parent.name not in COVERED_ELSEWHERE)


@pytest.mark.parametrize("script", STUDIES, ids=lambda p: p.parent.name)
def test_quick_mode(script, tmp_path):
    out = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=900,
                         cwd=tmp_path)  # paths must resolve relative to the script, not the working directory
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip()


def test_ablation_quick_ratios(tmp_path):
    script = REPO / "experiments" / "02_edge_llm_ablation" / "run.py"
    out = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    rows = {ln[:26].strip(): ln.split() for ln in out.stdout.splitlines() if "LoRA" in ln or "Edge-LLM" in ln or "only" in ln}
    assert rows["vanilla LoRA"][-2:] == ["1.00", "1.00"]
    # the full method beats each of its parts on the tiny model
    full = float(rows["Edge-LLM (LUC + adaptive)"][-2])
    assert full > float(rows["+ LUC only"][-2]) and full > float(rows["+ adaptive tuning only"][-2])
