"""Ctrl-C during `edgesim tune`: exit status 130, one line on stderr, no traceback, the schedule cache left whole, and
the next run prints exactly what an uninterrupted run prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO

ARGS = ["tune", "--compare", "lora,edge-llm", "--mapper", "cpsat", "--format", "json"]  # CP-SAT: ~10 s cold


def run(cache: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgesim", *ARGS, "--cache-dir", cache], capture_output=True,
                          text=True, cwd=REPO, timeout=600)


def test_sigint_exits_130_with_one_line_and_the_rerun_is_identical(tmp_path):
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-m", "edgesim", *ARGS, "--cache-dir", str(cache)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and len(list(cache.glob("*.json"))) < 3:
        time.sleep(0.02)  # wait until it is searching: some schedules are in the cache
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert out == ""
    assert err.strip() == "edgesim: interrupted" and "Traceback" not in err
    assert not list(cache.glob("*.tmp*")) and all(os.path.getsize(p) > 0 for p in cache.glob("*.json"))
    resumed = run(str(cache))
    cold = run(str(tmp_path / "cold"))
    assert resumed.returncode == cold.returncode == 0, resumed.stderr + cold.stderr
    assert resumed.stdout == cold.stdout
