"""Apply a trace's per-layer compression to a PyTorch model for real: the frozen base that Edge-LLM tunes on.

For decoder layer i (found by `sensitivity.decoder_layers`) and the trace's `LayerPolicy` i, every `nn.Linear` of the
layer is replaced by a frozen `CompressedLinear` whose

- weight is magnitude-pruned at 1 - weight_density (per weight matrix, as in the sensitivity measurement), or pruned to
  N:M along the input dimension if the policy is N:M; then fake-quantized at w_bits, symmetric min-max, one scale per
  output channel (a pruned zero stays zero). It is stored as float values on that grid and never trained;
- input (the activation) is fake-quantized per token at a_bits, and for the k/v projections the output (the KV cache)
  per token at kv_bits: the quantizers of the sensitivity measurement. Their gradient is the identity (straight-through
  estimator), so adapters before a quantized layer still get gradients through it.

Widths of 16 bits or more mean no quantization. Embeddings, the final norm and the LM head are not in the trace and stay
as they are. Compress before adding LoRA adapters: an adapter then wraps the compressed Linear, and its own path
(x @ A^T @ B^T) sees the unquantized input, as the adapters of QLoRA-style tuning run in higher precision.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from edgesim.frontend.torch.lora import LoraLinear
from edgesim.frontend.torch.sensitivity import KV_NAMES, decoder_layers, fake_quant, magnitude_prune, nm_prune
from edgesim.llm.trace import LayerPolicy

FULL_BITS = 16  # this width or more: not quantized
M = TypeVar("M", bound=nn.Module)


def ste_fake_quant(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-token (last dimension) fake quantization in the forward pass, identity in the backward pass.

    The quantizer runs without autograd, so nothing it computes is saved for backward; the addition saves nothing either."""
    with torch.no_grad():
        delta = fake_quant(x, bits) - x
    return x + delta


def compressed_weight(w: torch.Tensor, policy: LayerPolicy) -> torch.Tensor:
    """The pruned (magnitude or N:M) and fake-quantized (per output channel) weight of one Linear."""
    out = nm_prune(w, *policy.nm) if policy.nm is not None else magnitude_prune(w, 1.0 - policy.weight_density)
    if policy.w_bits < FULL_BITS:
        out = fake_quant(out, policy.w_bits, dim=1)
    return out


class CompressedLinear(nn.Linear):
    """A frozen Linear with a compressed weight that fake-quantizes its input (a_bits) and optionally its output."""

    def __init__(self, src: nn.Linear, policy: LayerPolicy, *, quantize_output: bool, activations: bool = True) -> None:
        super().__init__(src.in_features, src.out_features, bias=src.bias is not None, device=src.weight.device,
                         dtype=src.weight.dtype)
        with torch.no_grad():
            self.weight.copy_(compressed_weight(src.weight.detach(), policy))
            if src.bias is not None and self.bias is not None:
                self.bias.copy_(src.bias)
        self.requires_grad_(False)
        self.policy = policy
        self.a_bits = policy.a_bits if activations and policy.a_bits < FULL_BITS else None
        self.out_bits = policy.kv_bits if activations and quantize_output and policy.kv_bits < FULL_BITS else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.a_bits is not None:
            x = ste_fake_quant(x, self.a_bits)
        y = F.linear(x, self.weight, self.bias)
        if self.out_bits is not None:
            y = ste_fake_quant(y, self.out_bits)
        return y

    def extra_repr(self) -> str:
        p = self.policy
        fmt = f"{p.nm[0]}:{p.nm[1]}" if p.nm else f"sparsity {1 - p.weight_density:.3f}"
        return f"{super().extra_repr()}, {fmt}, w{p.w_bits} a{self.a_bits or 'float'} out{self.out_bits or 'float'}"


def compress(model: M, policies: Sequence[LayerPolicy], *, activations: bool = True) -> M:
    """A frozen copy of `model` with decoder layer i compressed as `policies[i]` says (`model` itself is not changed).

    `activations=False` compresses the weights only."""
    if any(isinstance(m, LoraLinear) for m in model.modules()):
        raise ValueError("the model already has LoRA adapters; compress the base model first, then add adapters")
    out = copy.deepcopy(model)
    layers = decoder_layers(out)
    if len(layers) != len(policies):
        raise ValueError(f"{len(policies)} layer policies for a model with {len(layers)} decoder layers")
    for ref, pol in zip(layers, policies, strict=True):
        for name, lin in ref.linears:
            parent, _, attr = name.rpartition(".")
            holder = ref.module.get_submodule(parent) if parent else ref.module
            setattr(holder, attr, CompressedLinear(lin, pol, quantize_output=attr in KV_NAMES, activations=activations))
    out.requires_grad_(False)
    return out


@dataclass(frozen=True, slots=True)
class LayerCompressionStats:
    layer: int
    zero_fraction: float  # zero weights / all weights over the layer's Linear layers
    max_levels: int  # most distinct weight values in any output channel (row) of any of its Linear layers


@torch.no_grad()
def compression_stats(model: nn.Module) -> list[LayerCompressionStats]:
    """What the weights of each decoder layer actually are: fraction of zeros and distinct levels per output channel."""
    stats = []
    for ref in decoder_layers(model):
        zeros = total = levels = 0
        for _, lin in ref.linears:
            w = lin.weight
            zeros += int((w == 0).sum())
            total += w.numel()
            levels = max(levels, max(int(torch.unique(row).numel()) for row in w))
        stats.append(LayerCompressionStats(ref.index, zeros / total, levels))
    return stats
