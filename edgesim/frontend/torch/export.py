"""Measure a PyTorch model and write an Edge-LLM trace (format v1) that `edgesim tune` runs.

Works on the project's small model and on any user `nn.Module` whose decoder layers hold `nn.Linear` layers under
numbered module paths (found by `sensitivity.decoder_layers`); optionally on a `transformers` LlamaForCausalLM built
from a config (no hub download). The simulator needs a model shape: pass the `ModelShape` whose `name` is a YAML in
workloads/models/ (for the small model, `frontend_small`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from edgesim.config.traces import parse_trace
from edgesim.frontend.export import edge_llm_trace
from edgesim.frontend.policy import SparsityPolicy, low_bit_layers, luc_policy, min_mse_policy, nm_formats
from edgesim.frontend.torch.sensitivity import BITS, PRUNING_RATIOS, capture, decoder_layers, pruning_mse, quant_mse
from edgesim.llm.model import ModelShape

POLICIES = ("luc", "min-mse", "nm")


@dataclass(frozen=True, slots=True)
class Measurements:
    pruning: pd.DataFrame  # layer, pruning_ratio, sample, output_mse
    quant: pd.DataFrame  # layer, bits, sample, output_mse


def measure(model: nn.Module, batches: Sequence[Any], *, run: Any = None, ratios: Sequence[float] = PRUNING_RATIOS,
            bits: Sequence[int] = BITS, progress: bool = True) -> Measurements:
    """Layer-wise pruning and quantization sensitivity on calibration batches (one sample per batch)."""
    layers = decoder_layers(model)
    was_training = model.training
    model.eval()
    try:
        caps = capture(model, layers, batches, run)
        return Measurements(pruning_mse(layers, caps, ratios, progress), quant_mse(layers, caps, bits, progress))
    finally:
        model.train(was_training)


def choose_sparsity(m: Measurements, policy: str, target: float, unmeasured: str = "refuse") -> SparsityPolicy:
    if policy == "luc":
        return luc_policy(m.pruning, target, unmeasured)
    if policy == "min-mse":
        return min_mse_policy(m.pruning, target)
    raise ValueError(f"unknown sparsity policy {policy!r}; expected luc or min-mse")


def build_trace(m: Measurements, shape: ModelShape, *, policy: str = "luc", target: float = 0.5, stride: int = 8,
                low_bits: int = 4, high_bits: int = 8, seq: int | None = None, unmeasured: str = "refuse", steps_per_phase: int = 100,
                provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """A trace dict from measurements: sparsity by `policy` (luc, min-mse, or nm for 2:4/1:4), bits by quant sensitivity."""
    low = low_bit_layers(m.quant, low_bits)
    prov: dict[str, Any] = {"tool": "edgesim.frontend.torch.export", "policy": policy, "target_sparsity": target,
                            "low_bits": low_bits, "high_bits": high_bits,
                            "bit_rule": f"{low_bits}-bit unless the layer's {low_bits}-bit quantization MSE is above the mean",
                            "pruner": "magnitude", "unmeasured_layers": "none", "unmeasured_choice": unmeasured}
    if policy == "nm":
        formats = nm_formats(m.pruning)
        sparsity: tuple[float, ...] = tuple(1 - int(f.split(":")[0]) / int(f.split(":")[1]) for f in formats)
    else:
        pol = choose_sparsity(m, policy, target, unmeasured)
        sparsity, formats = pol.sparsity, ("unstructured",) * len(pol.sparsity)
        prov["policy"] = pol.name
        prov["predicted_sum_layer_mse"] = pol.predicted_mse
    prov.update(provenance or {})
    trace = edge_llm_trace(shape, sparsity, low_bit_layers=low, high_bits=high_bits, low_bits=low_bits, stride=stride,
                           steps_per_phase=steps_per_phase, seq=seq, provenance=prov)
    for entry, fmt in zip(trace["layers"], formats, strict=True):
        entry["sparsity_format"] = fmt
    parse_trace(trace, "<exported>", shape)  # what we return must load
    return trace


def random_batches(vocab: int, n: int, batch: int, seq: int, seed: int = 0) -> list[torch.Tensor]:
    """Calibration token batches for a model without a corpus (a user's module): uniform random token ids."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (batch, seq), generator=gen) for _ in range(n)]


def hf_llama_from_config(shape: ModelShape) -> nn.Module:
    """A randomly initialised transformers LlamaForCausalLM with the shape's numbers (needs `transformers`; no download)."""
    from transformers import LlamaConfig, LlamaForCausalLM  # type: ignore[import-not-found,unused-ignore]

    cfg = LlamaConfig(vocab_size=shape.vocab, hidden_size=shape.hidden, intermediate_size=shape.intermediate,
                      num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
                      max_position_embeddings=shape.max_seq)
    model: nn.Module = LlamaForCausalLM(cfg)
    return model
