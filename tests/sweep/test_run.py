"""Sweeps end to end through the CLI: resume after SIGKILL, worker-count independence, rows equal to `edgesim tune`,
NSGA-II reproducibility, and the HTML report in a real (headless) browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import TINY_SPEC, edgesim

# 3 x 2 x 3 DRAM bandwidths x 3 buffers = 54 points; rows * cols <= 256 rules out 32 x 16 (9 points):
# 45 points x 2 workloads = 90 tasks
SLOW_SPEC = TINY_SPEC.replace("  global_buffer.capacity_kib:", "  dram.bandwidth_gb_per_s: [6.4, 12.8, 25.6]\n"
                                                               "  global_buffer.capacity_kib:")
TASKS = 90


def rows(db: Path) -> list[tuple]:
    """Every column but the wall time, in point-id order."""
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(results)") if r[1] != "wall_s"]
    out = con.execute(f"SELECT {', '.join(repr(c).replace(chr(39), chr(34)) for c in cols)} FROM results ORDER BY point_id").fetchall()
    con.close()
    return out


def count(db: Path) -> int:
    try:
        con = sqlite3.connect(db)
        n = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        con.close()
        return int(n)
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """An uninterrupted run with the default cluster (a LocalCluster sized to the machine's cores)."""
    d = tmp_path_factory.mktemp("sweep_ref")
    spec = d / "slow.yaml"
    spec.write_text(SLOW_SPEC, encoding="utf-8")
    edgesim("sweep", "run", str(spec), "-o", str(d / "ref.db"), "--no-cache", "--no-progress")
    return spec, d / "ref.db"


def test_sigkill_partway_then_rerun_gives_every_point_once_identical(reference, tmp_path):
    spec, ref = reference
    db = tmp_path / "killed.db"
    cmd = [sys.executable, "-m", "edgesim", "sweep", "run", str(spec), "-o", str(db), "--workers", "1", "--no-cache",
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while count(db) < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its cluster's processes, mid-sweep
    proc.wait()
    partial = count(db)
    assert 10 <= partial < TASKS, f"the kill came at {partial} of {TASKS} rows: not partway"
    edgesim("sweep", "run", str(spec), "-o", str(db), "--workers", "1", "--no-cache", "--no-progress")
    assert count(db) == TASKS
    assert rows(db) == rows(ref)
    again = edgesim("sweep", "run", str(spec), "-o", str(db), "--no-cache", "--no-progress")
    assert "ran 0 task(s)" in again.stdout and f"{TASKS} already in" in again.stdout


def test_two_worker_cluster_gives_the_default_runs_results(reference, tmp_path):
    spec, ref = reference
    edgesim("sweep", "run", str(spec), "-o", str(tmp_path / "two.db"), "--workers", "2", "--no-cache", "--no-progress")
    one = tmp_path / "one.db"
    edgesim("sweep", "run", str(spec), "-o", str(one), "--workers", "1", "--no-cache", "--no-progress")
    assert rows(tmp_path / "two.db") == rows(ref) == rows(one)


def test_an_existing_cluster_by_address_gives_the_default_runs_results(reference, tmp_path):
    """`--scheduler tcp://HOST:PORT`: the tasks run on a cluster the CLI did not start (and does not stop)."""
    from dask.distributed import Client, LocalCluster

    spec, ref = reference
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        edgesim("sweep", "run", str(spec), "-o", str(tmp_path / "remote.db"), "--scheduler", cluster.scheduler_address,
                "--no-cache", "--no-progress")
        assert client.run(lambda: "alive")  # the cluster outlives the sweep
        ran = client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.executed_count)
    assert rows(tmp_path / "remote.db") == rows(ref)
    assert sum(ran.values()) >= TASKS  # its worker, not a cluster of the CLI's own, ran the tasks


def test_rows_equal_edgesim_tune_for_the_same_settings(reference):
    _, ref = reference
    con = sqlite3.connect(ref)
    con.row_factory = sqlite3.Row
    picked = con.execute("SELECT * FROM results WHERE workload LIKE 'tune tiny %' ORDER BY point_id LIMIT 4").fetchall()
    con.close()
    for r in picked:
        method = r["workload"].split()[-1]
        sets = [f"--set={p}={r[p]}" for p in ("pe_array.rows", "pe_array.cols", "dram.bandwidth_gb_per_s",
                                                "global_buffer.capacity_kib")]
        out = json.loads(edgesim("tune", "--model", "tiny", "--method", method, "--mapper", "heuristic", "--no-cache",
                                 *sets, "--format", "json").stdout)["methods"][0]
        assert (r["latency_s"], r["energy_pj"], r["peak_memory_bytes"], r["dram_bytes"], bool(r["fits"])) == \
               (out["seconds"], out["energy_pj"], out["peak_memory_bytes"], out["dram_bytes"], out["fits_dram"])


def test_nsga2_is_reproducible_and_evaluates_at_most_its_trials(tmp_path):
    spec = tmp_path / "nsga.yaml"
    spec.write_text(SLOW_SPEC.replace("mapper: heuristic", "mapper: heuristic\nsampler: {kind: nsga2, trials: 12, "
                                      "population: 4, seed: 1}").replace("  - {kind: tune, model: tiny, method: lora}\n", ""),
                    encoding="utf-8")
    for name in ("a.db", "b.db"):
        edgesim("sweep", "run", str(spec), "-o", str(tmp_path / name), "--workers", "2", "--no-cache", "--no-progress")
    a = rows(tmp_path / "a.db")
    assert a == rows(tmp_path / "b.db")
    assert 4 <= len(a) <= 12  # repeated proposals are evaluated once
    again = edgesim("sweep", "run", str(spec), "-o", str(tmp_path / "a.db"), "--no-cache", "--no-progress")
    assert "ran 0 task(s)" in again.stdout


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not _chromium() and not os.environ.get("CI"), reason="needs Debian's chromium (.ci/run installs it)")
def test_report_in_a_headless_browser(reference, tmp_path):
    import matplotlib.image as mpimg

    _, ref = reference
    html = tmp_path / "report.html"
    edgesim("sweep", "report", str(ref), "-o", str(html), "--plots", str(tmp_path / "plots"))
    assert len(list((tmp_path / "plots").glob("*.png"))) == 2 * (3 + 1)  # per workload: 3 objective pairs + breakdown
    browser = _chromium()
    assert browser, "chromium is not installed"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, "--window-size=1280,2000", f"--screenshot={shot}", html.as_uri()],
                   check=True, capture_output=True, timeout=120)
    img = mpimg.imread(shot)[..., :3]
    ink = (img.mean(axis=2) < 0.9).mean()  # share of pixels that are not (near) white
    assert img.shape[0] >= 1000 and ink > 0.02, f"blank-looking screenshot: {ink:.4f} of pixels drawn"
    dom = subprocess.run([browser, *flags, "--dump-dom", html.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    printed = json.loads(edgesim("sweep", "pareto", str(ref), "--format", "json").stdout)
    table_rows = 0
    for chunk in dom.split('<table class="pareto"')[1:]:
        body = chunk.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        table_rows += body.count("<tr")
    assert table_rows == sum(len(f["points"]) for f in printed) > 0


def test_a_moved_spec_and_base_still_resume_but_an_edited_base_does_not(tmp_path):
    """The database keys the base accelerator by name and fingerprint, not by its path."""
    import shutil as sh

    from edgesim.config.builtin import HW_CONFIG_DIR

    for where in ("a", "b"):
        (tmp_path / where).mkdir()
        sh.copy(HW_CONFIG_DIR / "edge_npu_16x16.yaml", tmp_path / where / "npu.yaml")
        (tmp_path / where / "s.yaml").write_text(TINY_SPEC.replace("hardware: edge_npu_16x16", "hardware: npu.yaml")
                                                 .replace("[8, 16, 32]", "[8]").replace("[8, 16]\n", "[8]\n"), encoding="utf-8")
    db = tmp_path / "r.db"
    edgesim("sweep", "run", str(tmp_path / "a" / "s.yaml"), "-o", str(db), "--workers", "1", "--no-cache", "--no-progress")
    moved = edgesim("sweep", "run", str(tmp_path / "b" / "s.yaml"), "-o", str(db), "--no-cache", "--no-progress")
    assert "ran 0 task(s)" in moved.stdout
    edited = tmp_path / "b" / "npu.yaml"
    edited.write_text(edited.read_text().replace("clock_mhz: 800", "clock_mhz: 900"), encoding="utf-8")
    res = edgesim("sweep", "run", str(tmp_path / "b" / "s.yaml"), "-o", str(db), "--no-cache", "--no-progress", check=False)
    assert res.returncode == 2 and "holds the results of a different sweep" in res.stderr


def test_ctrl_c_exits_130_with_one_line_and_the_rerun_completes_identically(reference, tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it: one line, status 130, no traceback from
    the CLI or its cluster's processes; the rerun resumes to the uninterrupted run's rows."""
    spec, ref = reference
    db = tmp_path / "int.db"
    cmd = [sys.executable, "-m", "edgesim", "sweep", "run", str(spec), "-o", str(db), "--workers", "1", "--no-cache",
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while count(db) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err == "edgesim: interrupted (finished sweep rows are saved; rerun to resume)\n"
    assert 5 <= count(db) < TASKS
    edgesim("sweep", "run", str(spec), "-o", str(db), "--workers", "1", "--no-cache", "--no-progress")
    assert rows(db) == rows(ref)


@pytest.mark.parametrize("made_by", ["edgesim 0.1.0, cost model version 2", None])
def test_a_database_another_model_made_is_refused(tmp_path, made_by):
    """Rows of an older cost model (or of an edgesim that recorded none) must not sit beside new ones: the run stops
    with exit 2, names the database and both models, and leaves its rows as they were."""
    spec = tmp_path / "s.yaml"
    spec.write_text(TINY_SPEC.replace("[8, 16, 32]", "[8]").replace("[8, 16]\n", "[8]\n"), encoding="utf-8")
    db = tmp_path / "r.db"
    edgesim("sweep", "run", str(spec), "-o", str(db), "--workers", "1", "--no-cache", "--no-progress")
    before = rows(db)
    con = sqlite3.connect(db)
    with con:
        if made_by is None:
            con.execute("DELETE FROM meta WHERE key = 'model'")
        else:
            con.execute("UPDATE meta SET value = ? WHERE key = 'model'", (made_by,))
    con.close()
    res = edgesim("sweep", "run", str(spec), "-o", str(db), "--no-cache", "--no-progress", check=False)
    assert res.returncode == 2 and str(db) in res.stderr and "cost model version" in res.stderr
    assert (made_by or "no model version recorded") in res.stderr
    assert "Traceback" not in res.stderr
    assert rows(db) == before
