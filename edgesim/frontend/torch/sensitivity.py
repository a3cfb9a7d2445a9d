"""Layer-wise sensitivity of any `nn.Module`: output MSE of each decoder layer under pruning and fake quantization.

Decoder layers are found through their `nn.Linear` layers: a Linear at `model.layers.3.self_attn.q_proj` belongs to the
decoder layer `model.layers.3` (the module path up to its first numeric component). Forward hooks capture each decoder
layer's inputs (positional and keyword) and output on calibration batches; each measurement then re-runs only that layer
with modified weights and compares its output with the captured one.

- Pruning: magnitude pruning of every Linear in the layer at a ratio (per weight matrix, the smallest |w| set to 0).
- Quantization: symmetric min-max fake quantization at b bits, per output channel for weights, per token for the
  Linear inputs (activations) and for the k/v projection outputs (the KV cache).
Results are in the CSV columns of the shared LLaMA-7B data (layer, pruning_ratio, sample, output_mse), one sample per
calibration batch, so `edgesim.frontend.luc` consumes them directly.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

PRUNING_RATIOS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
BITS = (2, 3, 4, 5, 6, 7, 8)
KV_NAMES = ("k_proj", "v_proj")


@dataclass(frozen=True, slots=True)
class DecoderLayerRef:
    index: int
    path: str
    module: nn.Module
    linears: tuple[tuple[str, nn.Linear], ...]  # (name relative to the layer, module)


def decoder_layers(model: nn.Module) -> list[DecoderLayerRef]:
    """Group the model's Linear layers into decoder layers by module path (the prefix up to the first numeric part)."""
    groups: dict[str, list[tuple[str, nn.Linear]]] = {}
    for name, mod in model.named_modules():
        if not isinstance(mod, nn.Linear):
            continue
        m = re.match(r"^(.*?(?:^|\.)\d+)\.(.+)$", name)
        if m is None:
            continue  # e.g. lm_head: not inside a numbered block
        groups.setdefault(m.group(1), []).append((m.group(2), mod))
    if not groups:
        raise ValueError("no nn.Linear layers inside numbered blocks (e.g. layers.0.*) were found")
    paths = sorted(groups, key=lambda p: [int(x) if x.isdigit() else x for x in p.split(".")])
    return [DecoderLayerRef(i, p, model.get_submodule(p), tuple(groups[p])) for i, p in enumerate(paths)]


@dataclass(slots=True)
class Captured:
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    output: torch.Tensor


def _first_tensor(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(f"cannot find the hidden-state tensor in a decoder layer output of type {type(out).__name__}")


def _detach(v: Any) -> Any:
    return v.detach() if isinstance(v, torch.Tensor) else v


@torch.no_grad()
def capture(model: nn.Module, layers: Sequence[DecoderLayerRef], batches: Sequence[Any],
            run: Any = None) -> list[list[Captured]]:
    """Per layer, per batch: the layer's inputs and output. `run(model, batch)` does one forward (default model(batch))."""
    store: list[list[Captured]] = [[] for _ in layers]
    handles = []
    for ref in layers:
        def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any, i: int = ref.index) -> None:
            store[i].append(Captured(tuple(_detach(a) for a in args), {k: _detach(v) for k, v in kwargs.items()},
                                     _first_tensor(out).detach()))
        handles.append(ref.module.register_forward_hook(hook, with_kwargs=True))
    try:
        for b in batches:
            if run is None:
                model(b)
            else:
                run(model, b)
    finally:
        for h in handles:
            h.remove()
    return store


@contextlib.contextmanager
def modified_weights(linears: Sequence[nn.Linear], fn: Any) -> Iterator[None]:
    """Temporarily replace each Linear's weight by fn(weight)."""
    saved = [lin.weight.data.clone() for lin in linears]
    try:
        for lin in linears:
            lin.weight.data = fn(lin.weight.data)
        yield
    finally:
        for lin, w in zip(linears, saved, strict=True):
            lin.weight.data = w


def magnitude_prune(w: torch.Tensor, ratio: float) -> torch.Tensor:
    """Zero the `ratio` fraction of entries with the smallest magnitude."""
    k = int(round(ratio * w.numel()))
    if k <= 0:
        return w.clone()
    thresh = w.abs().flatten().kthvalue(k).values
    return torch.where(w.abs() <= thresh, torch.zeros_like(w), w)


def nm_prune(w: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep the n largest-magnitude weights in every group of m along the input dimension."""
    rows, cols = w.shape
    if cols % m:
        raise ValueError(f"input dimension {cols} is not a multiple of {m}")
    g = w.reshape(rows, cols // m, m)
    idx = g.abs().topk(n, dim=-1).indices
    mask = torch.zeros_like(g, dtype=torch.bool).scatter_(-1, idx, True)
    return (g * mask).reshape(rows, cols)


def fake_quant(x: torch.Tensor, bits: int, dim: int = -1) -> torch.Tensor:
    """Symmetric min-max fake quantization with one scale per slice along `dim` (per output channel: dim=1 of a weight)."""
    qmax = 2 ** (bits - 1) - 1
    scale = x.abs().amax(dim=dim, keepdim=True).clamp(min=1e-8) / qmax
    out: torch.Tensor = (x / scale).round().clamp(-qmax - 1, qmax) * scale
    return out


@contextlib.contextmanager
def quantized_activations(ref: DecoderLayerRef, bits: int) -> Iterator[None]:
    """Per-token fake quantization of every Linear's input, and of the k/v projection outputs (the KV cache)."""
    handles = []
    for name, lin in ref.linears:
        handles.append(lin.register_forward_pre_hook(lambda _m, args: (fake_quant(args[0], bits),) + tuple(args[1:])))
        if name.split(".")[-1] in KV_NAMES:
            handles.append(lin.register_forward_hook(lambda _m, _a, out: fake_quant(out, bits)))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def _mse(ref: DecoderLayerRef, caps: Sequence[Captured]) -> list[float]:
    return [float(((_first_tensor(ref.module(*c.args, **c.kwargs)) - c.output) ** 2).mean()) for c in caps]


def pruning_mse(layers: Sequence[DecoderLayerRef], captured: Sequence[Sequence[Captured]],
                ratios: Sequence[float] = PRUNING_RATIOS, progress: bool = True) -> pd.DataFrame:
    rows = []
    for ref in tqdm(layers, desc="pruning sensitivity", disable=not progress):
        lins = [lin for _, lin in ref.linears]
        for r in ratios:
            with modified_weights(lins, lambda w, r=r: magnitude_prune(w, r)):
                for s, v in enumerate(_mse(ref, captured[ref.index])):
                    rows.append({"layer": ref.index, "pruning_ratio": r, "sample": s, "output_mse": v})
    return pd.DataFrame(rows, columns=["layer", "pruning_ratio", "sample", "output_mse"])


def quant_mse(layers: Sequence[DecoderLayerRef], captured: Sequence[Sequence[Captured]], bits: Sequence[int] = BITS,
              progress: bool = True) -> pd.DataFrame:
    """Columns layer, bits, sample, output_mse (weights, activations and KV all at `bits`)."""
    rows = []
    for ref in tqdm(layers, desc="quantization sensitivity", disable=not progress):
        lins = [lin for _, lin in ref.linears]
        for b in bits:
            with modified_weights(lins, lambda w, b=b: fake_quant(w, b, dim=1)), quantized_activations(ref, b):
                for s, v in enumerate(_mse(ref, captured[ref.index])):
                    rows.append({"layer": ref.index, "bits": b, "sample": s, "output_mse": v})
    return pd.DataFrame(rows, columns=["layer", "bits", "sample", "output_mse"])
