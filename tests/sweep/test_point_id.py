"""A sweep point's id is a content hash: what changes the numbers changes the id, so a database never serves a
row computed under other settings or an older cost model."""

from __future__ import annotations

from edgesim.config.hardware import load_arch
from edgesim.config.sweep import WorkloadSpec
from edgesim.cost import model as cost_model
from edgesim.sweep.task import point_id

ARCH = load_arch()
WORK = WorkloadSpec(kind="tune", model="tiny")


def test_the_id_changes_with_the_cost_model_version(monkeypatch):
    before = point_id(ARCH, WORK, "auto", 0.02)
    assert point_id(ARCH, WORK, "auto", 0.02) == before  # deterministic
    monkeypatch.setattr(cost_model, "COST_MODEL_VERSION", cost_model.COST_MODEL_VERSION + 1)
    assert point_id(ARCH, WORK, "auto", 0.02) != before


def test_the_id_changes_with_hardware_workload_and_mapper():
    base = point_id(ARCH, WORK, "auto", 0.02)
    others = {point_id(load_arch(None, ["pe_array.rows=8"]), WORK, "auto", 0.02),
              point_id(ARCH, WorkloadSpec(kind="tune", model="tiny", base_bits=16), "auto", 0.02),
              point_id(ARCH, WORK, "heuristic", 0.02), point_id(ARCH, WORK, "auto", 0.05)}
    assert base not in others and len(others) == 4
