"""Make an Edge-LLM trace (format v1, docs/trace-format.md) from a per-layer policy, and write it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgesim.config.models import load_model
from edgesim.config.traces import SCHEMA_VERSION, parse_trace
from edgesim.errors import ConfigError, Problem
from edgesim.frontend.luc import LucResult, load_sensitivity, luc_sparsity
from edgesim.llm.model import ModelShape
from edgesim.llm.trace import Trace


def edge_llm_trace(model: ModelShape, sparsity: list[float] | tuple[float, ...], *, low_bit_layers: tuple[int, ...] = (),
                   high_bits: int = 8, low_bits: int = 4, stride: int = 8, steps_per_phase: int = 100,
                   lora_rank: int = 8, seq: int | None = None, batch: int = 1, optimizer: str = "adam",
                   provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-layer sparsity and bits, phases of `stride` layers with an exit after each window, voting exits.
    `seq` defaults to 512, or the model's max_seq if smaller."""
    L = model.layers
    seq = seq if seq is not None else min(512, model.max_seq)
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


def _check_layers(model: ModelShape, low_bit_layers: tuple[int, ...]) -> None:
    outside = [i for i in low_bit_layers if not 0 <= i < model.layers]
    if outside:
        raise ConfigError(Problem(source="--low-bit-layers", path="", message=(
            f"layer(s) {', '.join(map(str, outside))} are not layers of {model.name} (0 to {model.layers - 1})")))


def luc_trace(model_name: str, mse_csv: str, *, target: float = 0.5, unmeasured: str = "refuse",
              low_bit_layers: tuple[int, ...] = (), stride: int = 8, seq: int | None = None,
              source: str = "<trace>") -> tuple[dict[str, Any], Trace, LucResult]:
    """Edge-LLM's LUC formula on measured sensitivities (layer,pruning_ratio,sample,output_mse) as a trace: the JSON
    data, the trace it parses to (what is written must load; `source` names it in errors) and the policy."""
    model = load_model(model_name)
    _check_layers(model, low_bit_layers)
    df = load_sensitivity(mse_csv)
    measured = sorted({int(x) for x in df["layer"]})
    if measured and (measured[0] < 0 or measured[-1] >= model.layers):
        raise ConfigError(Problem(source=mse_csv, path="layer", message=(
            f"measures layers {measured[0]} to {measured[-1]} but {model.name} has {model.layers} (0 to "
            f"{model.layers - 1}); is it for another model? (--model)")))
    luc = luc_sparsity(df, target=target, unmeasured=unmeasured, source=mse_csv)
    if len(luc.sparsity) != model.layers:
        raise ConfigError(Problem(source=mse_csv, path="layer",
                                  message=f"{len(luc.sparsity)} layers measured but {model.name} has {model.layers}"))
    prov = {"tool": "edgesim trace", "policy": "Edge-LLM LUC formula (DESIGN.md 2(a))", "data": Path(mse_csv).name,
            "target_sparsity": target, "unmeasured_layers": ",".join(map(str, luc.unmeasured)) or "none",
            "unmeasured_choice": luc.choice, "low_bit_layers": ",".join(map(str, low_bit_layers)) or "none"}
    data = edge_llm_trace(model, luc.sparsity, low_bit_layers=low_bit_layers, stride=stride, seq=seq, provenance=prov)
    return data, parse_trace(data, source, model), luc


def uniform_trace(model_name: str, *, target: float = 0.5, low_bit_layers: tuple[int, ...] = (), stride: int = 8,
                  seq: int | None = None, source: str = "<trace>") -> tuple[dict[str, Any], Trace]:
    """An Edge-LLM trace for a model without measured sensitivities: every layer at the same `target` unstructured
    sparsity (LUC needs per-layer measurements to differ), the given layers at 4 bits, the others at 8; the same
    windows and exits as `luc_trace`. Its provenance says that nothing was measured."""
    model = load_model(model_name)
    _check_layers(model, low_bit_layers)
    prov = {"tool": "edgesim trace --uniform", "measured": "nothing: a uniform policy",
            "policy": f"uniform, not measured: {target:.0%} unstructured sparsity on every layer",
            "target_sparsity": target, "low_bit_layers": ",".join(map(str, low_bit_layers)) or "none"}
    data = edge_llm_trace(model, [target] * model.layers, low_bit_layers=low_bit_layers, stride=stride, seq=seq,
                          provenance=prov)
    return data, parse_trace(data, source, model)
