"""experiments/05_deployment_guidelines/small_model.py: --quick runs end to end into a temporary folder, and its summary
helpers classify curves as they should."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from tests.conftest import REPO  # noqa: E402

SCRIPT = REPO / "experiments" / "05_deployment_guidelines" / "small_model.py"


@functools.cache
def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("small_model", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("small_model")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out)], capture_output=True, text=True,
                          timeout=600, cwd=out)  # paths must resolve relative to the script, not the working directory
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc.stdout


def test_quick_writes_every_curve(quick_run: tuple[Path, str]) -> None:
    out, stdout = quick_run
    df = pd.read_csv(out / "small_model.csv")
    meta = json.loads((out / "small_model.json").read_text())
    st = meta["settings"]
    assert {"seed", "amount", "compressed", "step", "val_loss", "val_acc", "train_loss"} <= set(df.columns)
    assert len(st["seeds"]) >= 3 and len(st["amounts"]) >= 2
    combos = set(zip(df["seed"], df["amount"], df["compressed"], strict=True))
    assert combos == set(itertools.product(st["seeds"], st["amounts"], (False, True)))
    for _, g in df.groupby(["seed", "amount", "compressed"]):  # every curve measured at the same steps, from 0 to the end
        assert list(g["step"]) == st["eval_steps"] and g["step"].iloc[0] == 0 and g["step"].iloc[-1] == st["steps"]
        assert g["train_loss"].iloc[1:].map(math.isfinite).all() and g["train_loss"].iloc[1:].gt(0).all()
    assert df["val_loss"].map(math.isfinite).all() and (df["val_loss"] > 0).all()
    assert df["val_acc"].between(0, 1).all()
    assert (out / "small_model.md").read_text().count("## ") >= 4
    for png in ("val_loss_vs_steps.png", "compressed_vs_uncompressed.png"):
        assert (out / png).stat().st_size > 10_000
    assert "compressed vs uncompressed at N=" in stdout and f"N={st['amounts'][0]} (uncompressed)" in stdout


def test_quick_compression_applied_and_tuning_helps(quick_run: tuple[Path, str]) -> None:
    out, _ = quick_run
    df = pd.read_csv(out / "small_model.csv")
    meta = json.loads((out / "small_model.json").read_text())
    start = df[df["step"] == 0].groupby("compressed")["val_loss"]
    assert (start.nunique() == 1).all()  # before tuning, a model's loss does not depend on seed or amount
    before = start.first()
    assert abs(before[True] - before[False]) > 1e-3  # the compressed model is a different model
    if meta["base"].startswith("experiments/01_frontend"):  # a well pre-trained base: compression costs loss
        assert before[True] > before[False] + 0.01
    zeros = [float(x) for x in meta["zero_fraction"].split(",")]
    assert all(0.49 <= z <= 0.55 for z in zeros) and 1 < meta["max_levels"] <= 15
    for _, g in df[~df["compressed"]].groupby(["seed", "amount"]):  # LoRA tuning lowers the held-out loss
        assert g.loc[g["step"] > 0, "val_loss"].min() < g.loc[g["step"] == 0, "val_loss"].iloc[0]


def test_quick_summary_matches_the_csv(quick_run: tuple[Path, str]) -> None:
    out, _ = quick_run
    mod = _module()
    df = pd.read_csv(out / "small_model.csv")
    runs = mod.per_run(df)
    assert len(runs) == len(df.groupby(["seed", "amount", "compressed"]))
    row = runs.iloc[0]
    g = df[(df["seed"] == row["seed"]) & (df["amount"] == row["amount"]) & (df["compressed"] == row["compressed"])]
    assert row["best"] == pytest.approx(g["val_loss"].min()) and row["final"] == pytest.approx(g["val_loss"].iloc[-1])
    assert row["gap"] >= 0 and row["gain_best"] == pytest.approx(g["val_loss"].iloc[0] - g["val_loss"].min())


def _curves(losses: list[float], seeds: int = 3) -> pd.DataFrame:
    return pd.DataFrame([{"seed": s, "amount": 8, "compressed": False, "step": 10 * i, "val_loss": v + 0.001 * s, "train_loss": 1.0}
                         for s in range(seeds) for i, v in enumerate(losses)])


@pytest.mark.parametrize(("losses", "expected"), [
    ([2.0, 1.9, 1.8, 2.2, 2.6], "overfits"),
    ([2.0, 1.9, 1.8, 1.75, 1.7], "still improving"),
    ([2.0, 1.9, 1.8, 1.803, 1.801], "plateaus"),
])
def test_verdict(losses: list[float], expected: str) -> None:
    mod = _module()
    runs = mod.per_run(_curves(losses))
    assert mod.verdict(runs).startswith(expected)
    assert list(runs["best_step"]) == [10 * losses.index(min(losses))] * 3


def test_batch_order_is_epochwise_and_seeded() -> None:
    mod = _module()
    order = mod.batch_order(32, 9, seed=0)
    assert len(order) == 9 and all(len(b) == mod.BATCH for b in order)
    per_epoch = 32 // mod.BATCH
    for e in range(2):  # every epoch shows each sequence exactly once
        epoch = torch.cat(order[e * per_epoch : (e + 1) * per_epoch])
        assert sorted(epoch.tolist()) == list(range(32))
    assert all(torch.equal(a, b) for a, b in zip(order, mod.batch_order(32, 9, seed=0), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(order, mod.batch_order(32, 9, seed=1), strict=True))
    assert mod.eval_schedule(200, 20, 5, 20)[:6] == (0, 5, 10, 15, 20, 40) and mod.eval_schedule(200, 20, 5, 20)[-1] == 200
