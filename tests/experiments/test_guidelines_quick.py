"""experiments/05 --quick: the deployment-guidelines study end to end on the tiny model, three devices. The tables
it writes must agree with the sweep rows they were drawn from: every recommended choice fits and is the fastest
(or most frugal) per sample among those that fit, the budgeted sample counts follow from its rate, the fit map
agrees with each device's DRAM, and each break-even is where the two cumulative costs meet."""

from __future__ import annotations

import math
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import REPO

SCRIPT = REPO / "experiments" / "05_deployment_guidelines" / "run.py"
BUDGET_S = {"1 min": 60, "10 min": 600, "1 h": 3600, "overnight (8 h)": 8 * 3600}
CAPACITY_GIB = {"iot_npu_8x8": 2, "edge_npu_16x16": 8, "mobile_npu_32x32": 16}  # from the three YAMLs


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    d = tmp_path_factory.mktemp("guidelines")
    r = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(d)], capture_output=True, text=True,
                       timeout=600, cwd=d)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "battery assumed: 4,000 mAh at 3.85 V = 55,440 J" in r.stdout
    return d


def test_every_output_is_written(out):
    for name in ("guidelines.md", "study.csv", "fit_map.csv", "breakeven.csv", "battery.csv"):
        assert (out / name).stat().st_size > 100, name
    for name in ("fit_map.png", "breakeven.png", "battery.png"):
        assert (out / name).stat().st_size > 20_000, name
    for device in CAPACITY_GIB:
        html = (out / device / "report.html").read_text()
        assert 'id="workloads"' in html and "tune tiny lora w4 seq32 n100" in html


def test_recommendations_are_the_best_that_fit(out):
    study, gl = pd.read_csv(out / "study.csv"), pd.read_csv(out / "guidelines.csv")
    assert set(gl.device) == set(CAPACITY_GIB) and set(gl.budget) == set(BUDGET_S)
    for r in gl.itertuples():
        rows = study[(study.device == r.device) & (study.model == r.model) & (study.kind == "tune")
                     & (study.method != "rag") & (study.samples == study.samples.min())]
        ok = rows[rows.status == "done"]
        per_s, per_j = ok.latency_s / ok.samples, ok.energy_j / ok.samples
        assert ok.loc[per_s.idxmin(), "choice"] == r.fastest and per_s.min() == pytest.approx(r.fastest_s_per)
        assert ok.loc[per_j.idxmin(), "choice"] == r.frugal and per_j.min() == pytest.approx(r.frugal_j_per)
        assert r.runner_up_s_per >= r.fastest_s_per and r.runner_up_j_per >= r.frugal_j_per
        assert r.runner_up_time != r.fastest and r.runner_up_energy != r.frugal
        assert r.samples == math.floor(BUDGET_S[r.budget] / r.fastest_s_per)


def test_fit_map_agrees_with_each_devices_dram(out):
    fm = pd.read_csv(out / "fit_map.csv")
    assert len(fm) > 0
    for r in fm.itertuples():
        assert r.capacity_gib == CAPACITY_GIB[r.device]
        if r.status != "failed":
            assert r.fits == (r.peak_gib <= r.capacity_gib), r


def test_break_even_is_where_the_cumulative_costs_meet(out):
    be = pd.read_csv(out / "breakeven.csv")
    assert len(be) > 0
    for r in be.itertuples():
        for unit, q in (("s", r.time_queries), ("j", r.energy_queries)):
            tune, tq = getattr(r, f"tune_{unit}"), getattr(r, f"tuned_query_{unit}")
            rag, rq = getattr(r, f"rag_index_{unit}"), getattr(r, f"rag_query_{unit}")
            if isinstance(q, float) and not math.isnan(q) and q > 0:
                assert tune + q * tq == pytest.approx(rag + q * rq, rel=1e-9)
                assert tune + 2 * q * tq < rag + 2 * q * rq  # and tuning stays the cheaper one after


def test_battery_share_is_energy_over_the_stated_capacity(out):
    bat = pd.read_csv(out / "battery.csv")
    assert list(bat.battery_share * 4.0 * 3.85 * 3600) == pytest.approx(list(bat.energy_j))
