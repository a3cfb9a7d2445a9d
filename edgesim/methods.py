"""The names every stage shares about tuning: the methods that generate a step's ops and the phases of a step."""

from __future__ import annotations

from enum import StrEnum


class Method(StrEnum):
    FULL = "full"
    LORA = "lora"
    QLORA = "qlora"
    PARTIAL = "partial"
    EDGE_LLM = "edge-llm"


class Phase(StrEnum):
    FORWARD = "forward"
    BACKWARD_DATA = "backward_data"
    BACKWARD_WEIGHT = "backward_weight"
    RECOMPUTE = "recompute"  # forward ops re-run during the backward pass (activation recomputation)
    OPTIMIZER = "optimizer"
