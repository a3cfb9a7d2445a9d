"""Shared accelerators for the scheduler tests (built from hw_configs with --set style overrides)."""

from __future__ import annotations

import pytest

from edgesim.config.hardware import load_arch


@pytest.fixture(scope="session")
def small_arch():
    """A 4x4 array with a 2 KiB buffer, so capacity and imperfect tiles matter on tiny GEMMs."""
    return load_arch(None, ["pe_array.rows=4", "pe_array.cols=4", "global_buffer.capacity_kib=2"])
