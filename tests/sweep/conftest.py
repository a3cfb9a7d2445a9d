from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TINY_SPEC = """\
name: tiny-sweep
hardware: edge_npu_16x16
parameters:
  pe_array.rows: [8, 16, 32]
  pe_array.cols: [8, 16]
  global_buffer.capacity_kib: {log_range: [64, 256], num: 3}
constraints:
  - "pe_array.rows * pe_array.cols <= 256"
workloads:
  - {kind: tune, model: tiny, method: edge-llm}
  - {kind: tune, model: tiny, method: lora}
objectives: [latency_s, energy_j, area_mm2]
mapper: heuristic
"""


@pytest.fixture
def tiny_spec(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY_SPEC, encoding="utf-8")
    return p


def edgesim(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess (as a user would), with the schedule cache off where the command has one."""
    res = subprocess.run([sys.executable, "-m", "edgesim", *args], capture_output=True, text=True, cwd=cwd)
    if check and res.returncode != 0:
        raise AssertionError(f"edgesim {' '.join(args)} exited {res.returncode}:\n{res.stderr[-3000:]}")
    return res
