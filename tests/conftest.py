"""Shared fixtures: paths resolve relative to this file, never the working directory.

The tests write only to temporary directories: before anything imports edgesim, HOME (and XDG_CACHE_HOME) point
to a fresh temporary directory, removed at exit, so the default schedule cache (~/.cache/edgesim) of the user
running the tests is never read or written, by this process or by the CLI subprocesses that inherit the
environment. Hypothesis keeps no example database in the repository.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="edgesim-tests-home-")
os.environ["HOME"] = _HOME
os.environ["XDG_CACHE_HOME"] = os.path.join(_HOME, ".cache")
os.environ["MPLCONFIGDIR"] = os.path.join(_HOME, ".config", "matplotlib")
atexit.register(shutil.rmtree, _HOME, True)

import pytest  # noqa: E402

from edgesim.config.hardware import load_arch  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def default_arch():
    return load_arch()


@pytest.fixture()
def write(tmp_path):
    """write(name, text) -> path of a file in a fresh temporary directory."""

    def _write(name: str, text: str) -> Path:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return p

    return _write


_REPORT: list[str] = []


def report_line(text: str) -> None:
    """Queue a figure to print in pytest's terminal summary (e.g. a measured maximum error)."""
    _REPORT.append(text)


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest hook signature
    if _REPORT:
        terminalreporter.section("edgesim figures")
        for line in _REPORT:
            terminalreporter.write_line(line)


# CI runs the property tests with a fixed seed so a red run is reproducible; locally they explore freely.
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("local", database=None)
_hyp_settings.register_profile("ci", derandomize=True, print_blob=True, database=None)
_hyp_settings.load_profile("ci" if os.environ.get("CI") else "local")
