"""Work the hardware cannot run is never a smaller number: by default it is an error naming the ops and the reason;
with --allow-infeasible the totals are marked INCOMPLETE and no ratio between methods is given.

Registers of 7 B per PE cannot hold a 16-bit MAC's operands and 32-bit partial sum (2 + 2 + 4 = 8 B, the rule of
`cost.model.registers_shortfall`), so every 16-bit GEMM is infeasible while the vector ops still run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

SMALL_REGS = "--set=registers.capacity_bytes_per_pe=7"
FP16 = "--base-bits=16"  # the vanilla methods at 16 bits (the default is the MAC's native 8)
REASON = "each PE needs 8 B of registers but registers.capacity_bytes_per_pe is 7"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgesim", *args], capture_output=True, text=True, cwd=REPO, timeout=300)


# a GEMM given by --gemm is int8 (1 + 1 + 4 = 6 B of registers): 5 B per PE cannot hold it
GEMM_REGS = "--set=registers.capacity_bytes_per_pe=5"
GEMM_REASON = "each PE needs 6 B of registers but registers.capacity_bytes_per_pe is 5"


@pytest.mark.parametrize(("cmd", "regs", "reason"), [
    (("tune", "--model", "tiny", "--compare", "lora,edge-llm", "--no-cache", FP16), SMALL_REGS, REASON),
    (("infer", "--model", "tiny", FP16), SMALL_REGS, REASON),
    (("simulate", "--gemm", "64,64,64"), GEMM_REGS, GEMM_REASON),
])
def test_infeasible_ops_are_an_error_that_names_them(cmd, regs, reason):
    out = run(*cmd, regs)
    assert out.returncode == 2
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    assert "cannot run on edge-npu-16x16" in out.stderr and reason in out.stderr
    assert "--allow-infeasible" in out.stderr
    first = "gemm_64x64x64" if cmd[0] == "simulate" else "L0.q_proj"
    assert first in out.stderr


def test_allowed_infeasible_tuning_is_marked_incomplete_without_ratios():
    out = run("tune", "--model", "tiny", "--compare", "lora,edge-llm", "--no-cache", FP16, SMALL_REGS, "--allow-infeasible",
              "--format", "json")
    assert out.returncode == 0, out.stderr
    methods = {m["method"]: m for m in json.loads(out.stdout)["methods"]}
    lora = methods["lora"]
    assert lora["complete"] is False
    assert lora["infeasible_ops"][0] == {"name": "L0.q_proj", "reason": REASON}
    for m in methods.values():
        assert m["speedup_vs_lora"] is None and m["energy_reduction_vs_lora"] is None
        assert m["memory_reduction_vs_lora"] is None
    table = run("tune", "--model", "tiny", "--compare", "lora,edge-llm", "--no-cache", FP16, SMALL_REGS,
                "--allow-infeasible")
    assert table.returncode == 0
    assert "lora INCOMPLETE" in table.stdout and "INCOMPLETE lora:" in table.stdout
    assert "1.00x" not in table.stdout  # LoRA's own ratio is not printed either


def test_allowed_infeasible_simulation_total_says_incomplete():
    out = run("simulate", "--gemm", "64,64,64", GEMM_REGS, "--allow-infeasible")
    assert out.returncode == 0, out.stderr
    assert "TOTAL INCOMPLETE (1 infeasible op(s) left out)" in out.stdout
    data = json.loads(run("simulate", "--gemm", "64,64,64", GEMM_REGS, "--allow-infeasible", "--format", "json").stdout)
    assert data["complete"] is False and data["infeasible_ops"] == 1


def test_allowed_infeasible_inference_is_marked_incomplete():
    out = run("infer", "--model", "tiny", FP16, SMALL_REGS, "--allow-infeasible", "--format", "json")
    assert out.returncode == 0, out.stderr
    methods = json.loads(out.stdout)["methods"]
    assert all(m["complete"] is False for m in methods)
    assert all(m["infeasible_ops"] and m["infeasible_ops"][0]["reason"] == REASON for m in methods)


def test_feasible_work_is_complete():
    out = run("tune", "--model", "tiny", "--compare", "lora,edge-llm", "--no-cache", "--format", "json")
    assert out.returncode == 0, out.stderr
    methods = json.loads(out.stdout)["methods"]
    assert all(m["complete"] and m["infeasible_ops"] == [] for m in methods)
    assert methods[0]["speedup_vs_lora"] == 1.0
