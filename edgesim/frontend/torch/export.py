"""Measure a PyTorch model and write an Edge-LLM trace (format v1) that `edgesim tune` runs.

Works on the project's small model and on any user `nn.Module` whose decoder layers hold `nn.Linear` layers under
numbered module paths (found by `sensitivity.decoder_layers`); optionally on a randomly initialised `transformers`
LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM built from its config class and a model shape (no hub
download; `hf_causal_lm`). The simulator needs a model shape: pass the `ModelShape` whose `name` is a YAML in
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


HF_FAMILIES = ("llama", "mistral", "qwen2")


def hf_family_for(shape: ModelShape) -> str:
    """The transformers family a shape most likely is, from its name ("qwen..." is qwen2, "mistral..." mistral), else llama."""
    name = shape.name.lower()
    return "qwen2" if "qwen" in name else "mistral" if "mistral" in name else "llama"


def hf_config(shape: ModelShape, family: str) -> Any:
    """The transformers config (LlamaConfig, MistralConfig or Qwen2Config) with the shape's numbers.

    Refuses what the family's dense decoder cannot be: a non-SwiGLU MLP, LayerNorm, mixture-of-experts, a window on only
    some layers, or (LLaMA) a sliding window. Qwen2's q/k/v biases are the family's own and have no counterpart in the shape.
    """
    if family not in HF_FAMILIES:
        raise ValueError(f"unknown transformers family {family!r}; expected one of {', '.join(HF_FAMILIES)}")
    if shape.mlp != "swiglu" or shape.norm != "rmsnorm":
        raise ValueError(f"{family} is a SwiGLU / RMSNorm decoder; the shape {shape.name} has mlp {shape.mlp}, norm {shape.norm}")
    if shape.experts:
        raise ValueError(f"{shape.name} is mixture-of-experts; hf builds the dense {family} decoder only")
    window = shape.sliding_window
    if window and shape.sliding_window_pattern != 1:
        raise ValueError(f"{shape.name} has its sliding window on one layer in {shape.sliding_window_pattern} only; "
                         f"hf builds {family} with the window on every layer")
    if window and family == "llama":
        raise ValueError(f"{shape.name} has a sliding window ({window}); LLaMA has none: use --hf-family mistral or qwen2")
    common: dict[str, Any] = {
        "vocab_size": shape.vocab, "hidden_size": shape.hidden, "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers, "num_attention_heads": shape.heads, "num_key_value_heads": shape.kv_heads,
        "head_dim": shape.head_dim, "max_position_embeddings": shape.max_seq,
        "tie_word_embeddings": shape.tied_embeddings, "hidden_act": "silu",
    }
    import transformers  # type: ignore[import-not-found,unused-ignore]

    if family == "llama":
        return transformers.LlamaConfig(**common)
    if family == "mistral":  # MistralConfig's default window is 4096: None is full attention, as the shape says
        return transformers.MistralConfig(**common, sliding_window=window or None)
    # Qwen2 applies its window from layer max_window_layers on: 0 puts every layer in the window, as the shape does
    return transformers.Qwen2Config(**common, use_sliding_window=bool(window), sliding_window=window or None, max_window_layers=0)


def hf_causal_lm(shape: ModelShape, family: str = "llama", seed: int = 0) -> nn.Module:
    """A randomly initialised transformers *ForCausalLM of the family with the shape's numbers (needs `transformers`;
    no download). `seed` fixes the weights without touching the caller's torch RNG."""
    cfg = hf_config(shape, family)
    import transformers  # type: ignore[import-not-found,unused-ignore]

    cls = {"llama": transformers.LlamaForCausalLM, "mistral": transformers.MistralForCausalLM,
           "qwen2": transformers.Qwen2ForCausalLM}[family]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: nn.Module = cls(cfg)
    found = len(decoder_layers(model))
    if found != shape.layers:  # what `measure` will see: one entry per decoder layer
        raise ValueError(f"found {found} decoder layers in the {family} model, expected {shape.layers}")
    return model


def hf_llama_from_config(shape: ModelShape) -> nn.Module:
    """A randomly initialised transformers LlamaForCausalLM with the shape's numbers (`hf_causal_lm(shape, "llama")`)."""
    return hf_causal_lm(shape, "llama")
