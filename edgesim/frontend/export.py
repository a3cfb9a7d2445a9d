"""Write an Edge-LLM trace (format v1, docs/trace-format.md) from a per-layer policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgesim.models import ModelShape
from edgesim.trace import SCHEMA_VERSION


def edge_llm_trace(model: ModelShape, sparsity: list[float] | tuple[float, ...], *, low_bit_layers: tuple[int, ...] = (),
                   high_bits: int = 8, low_bits: int = 4, stride: int = 8, steps_per_phase: int = 100,
                   lora_rank: int = 8, seq: int = 512, batch: int = 1, optimizer: str = "adam",
                   provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-layer sparsity and bits, phases of `stride` layers with an exit after each window, voting exits."""
    L = model.layers
    if len(sparsity) != L:
        raise ValueError(f"{len(sparsity)} sparsities for a {L}-layer model")
    exits = list(range(stride - 1, L, stride))
    if not exits or exits[-1] != L - 1:
        exits.append(L - 1)
    phases, first = [], 0
    for k, e in enumerate(exits):
        phases.append({"name": f"phase{k}", "trainable_window": [first, e], "exit_layer": e, "steps": steps_per_phase})
        first = e + 1
    layers = []
    for i, sp in enumerate(sparsity):
        bits = low_bits if i in low_bit_layers else high_bits
        layers.append({"index": i, "weight_sparsity": round(float(sp), 6), "sparsity_format": "unstructured",
                       "weight_bits": bits, "activation_bits": bits, "kv_bits": bits, "lora_rank": lora_rank,
                       "trainable": True})
    return {"schema_version": SCHEMA_VERSION, "model": model.name, "num_layers": L, "sequence_length": seq,
            "batch": batch, "optimizer": optimizer, "provenance": provenance or {}, "layers": layers,
            "tuning": {"phases": phases}, "inference": {"exit_layers": exits, "voting": "max-prob"}}


def write_trace(trace: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(trace, indent=1) + "\n", encoding="utf-8")
