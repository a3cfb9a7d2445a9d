"""What a trace says about a model, as value types: each layer's compression (`LayerPolicy`), Edge-LLM's tuning
phases (`EdgeLlmPhase`) and the whole `Trace`; and the check of its bit widths against an accelerator.

`edgesim.config.traces` reads and validates the file (docs/trace-format.md); this module holds what it builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgesim.arch import ArchSpec
from edgesim.errors import ConfigError, Problem
from edgesim.ops import WeightFormat


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerPolicy:
    """Per-layer compression (from a trace for Edge-LLM; uniform for the other methods)."""

    weight_density: float = 1.0
    weight_format: WeightFormat = WeightFormat.DENSE
    nm: tuple[int, int] | None = None
    w_bits: int = 16
    a_bits: int = 16
    kv_bits: int = 16
    lora_rank: int | None = None  # the layer's LoRA rank (from a trace); None: the tuning settings' rank


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeLlmPhase:
    """The active phase of Edge-LLM's adaptive layer tuning: trainable window [first, last] and exit layer."""

    first: int
    last: int
    exit_layer: int
    steps: int = 1



@dataclass(frozen=True, slots=True)
class Trace:
    model: str
    num_layers: int
    sequence_length: int
    batch: int
    optimizer: str
    policies: tuple[LayerPolicy, ...]
    phases: tuple[EdgeLlmPhase, ...]
    exit_layers: tuple[int, ...]
    provenance: dict[str, Any]
    source: str



def check_against(trace: Trace, arch: ArchSpec) -> None:
    """Bit widths the hardware cannot run are errors naming the layer and field, and the widths it can run."""
    problems = []
    for i, pol in enumerate(trace.policies):
        for field, bits in (("weight_bits", pol.w_bits), ("activation_bits", pol.a_bits), ("kv_bits", pol.kv_bits)):
            if bits not in arch.mac.widths():
                problems.append(Problem(source=trace.source, path=f"layers[{i}].{field}", message=(
                    f"{arch.name} cannot run {bits}-bit operands; its {arch.mac.native_bits}-bit "
                    f"{arch.mac.precision_mode} MAC runs {arch.mac.widths_text()}")))
    if problems:
        raise ConfigError(problems)


def uniform_policy(base_bits: int, weight_bits: int | None, weight_sparsity: float) -> LayerPolicy:
    """Every frozen layer alike: weights at `weight_bits` (default base_bits) with unstructured `weight_sparsity`;
    activations and the KV cache at base_bits."""
    fmt = WeightFormat.UNSTRUCTURED if weight_sparsity > 0 else WeightFormat.DENSE
    return LayerPolicy(w_bits=weight_bits or base_bits, a_bits=base_bits, kv_bits=base_bits,
                       weight_density=1.0 - weight_sparsity, weight_format=fmt)


def compression_text(weight_bits: int | None, weight_sparsity: float) -> str:
    """A uniform compression in words, e.g. "4-bit and 50% sparse"; "" when there is none."""
    parts = [f"{weight_bits}-bit" if weight_bits else "", f"{weight_sparsity:.0%} sparse" if weight_sparsity else ""]
    return " and ".join(x for x in parts if x)
