"""Fixtures for the PyTorch frontend tests: a tiny model with the `tiny` workload shape (fast on 2 cores).

torch is imported inside the fixture, so collecting this directory without torch skips the test modules (each starts with
`pytest.importorskip("torch")`) instead of failing here.
"""

from __future__ import annotations

from typing import Any

import pytest

# = workloads/models/tiny.yaml
TINY_SHAPE = {"hidden": 64, "intermediate": 172, "layers": 4, "heads": 4, "kv_heads": 2, "max_seq": 128}


@pytest.fixture()
def tiny_model() -> Any:
    torch = pytest.importorskip("torch")
    from edgesim.frontend.torch.model import SmallConfig, SmallLlama

    torch.manual_seed(0)
    model = SmallLlama(SmallConfig(**TINY_SHAPE))  # type: ignore[arg-type]
    model.eval()
    return model
