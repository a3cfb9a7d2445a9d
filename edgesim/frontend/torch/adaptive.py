"""Edge-LLM adaptive layer tuning and voting (DESIGN.md 2(b)) on the small model, with vanilla LoRA as the baseline.

- Exit heads every `stride` layers (after layers stride-1, 2*stride-1, ..., and the last), each a copy of the final
  norm and LM head.
- Phase k trains only window k: the LoRA adapters of its layers and its exit head. The layers before the window run
  without autograd (nothing is saved for backward), the loss is taken at the window's exit, and the forward pass stops
  there. Vanilla LoRA trains every layer's adapters with the loss at the final head.
- Saved-activation memory is measured with `torch.autograd.graph.saved_tensors_hooks`: the bytes of every tensor autograd
  saves for backward during one training step, parameters excluded, each storage counted once.
- Voting at inference: softmax of each exit's logits, element-wise max across exits, renormalise, argmax.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from edgesim.frontend.torch.data import Corpus
from edgesim.frontend.torch.lora import LoraLinear, add_lora
from edgesim.frontend.torch.model import SmallLlama, lm_loss
from edgesim.frontend.torch.train import evaluate


def exit_layers(num_layers: int, stride: int) -> list[int]:
    exits = list(range(stride - 1, num_layers, stride))
    if not exits or exits[-1] != num_layers - 1:
        exits.append(num_layers - 1)
    return exits


def windows(num_layers: int, stride: int) -> list[tuple[int, int]]:
    """[first, last] trainable layers of each phase; each window ends at its exit."""
    out, first = [], 0
    for e in exit_layers(num_layers, stride):
        out.append((first, e))
        first = e + 1
    return out


class ExitModel(nn.Module):
    """The backbone with LoRA adapters and one exit head (norm + LM head, copied from the final ones) per exit."""

    def __init__(self, base: SmallLlama, stride: int, rank: int = 8, alpha: float = 16.0) -> None:
        super().__init__()
        self.base = copy.deepcopy(base)
        self.adapters = add_lora(self.base, rank, alpha)
        self.exits = exit_layers(len(self.base.layers), stride)
        self.windows = windows(len(self.base.layers), stride)
        self.exit_norms = nn.ModuleList(copy.deepcopy(self.base.norm) for _ in self.exits)
        self.exit_heads = nn.ModuleList(copy.deepcopy(self.base.lm_head) for _ in self.exits)
        for p in list(self.exit_norms.parameters()) + list(self.exit_heads.parameters()):
            p.requires_grad_(False)

    def layer_lora(self, first: int, last: int) -> list[nn.Parameter]:
        return [p for i in range(first, last + 1) for m in self.base.layers[i].modules() if isinstance(m, LoraLinear)
                for p in (m.lora_a, m.lora_b)]

    def set_phase(self, k: int) -> list[nn.Parameter]:
        """Make only window k's adapters and exit head trainable; return those parameters."""
        for p in self.parameters():
            p.requires_grad_(False)
        first, last = self.windows[k]
        params = self.layer_lora(first, last) + list(self.exit_norms[k].parameters()) + list(self.exit_heads[k].parameters())
        for p in params:
            p.requires_grad_(True)
        return params

    def phase_logits(self, ids: torch.Tensor, k: int) -> torch.Tensor:
        """Forward for phase k: layers before the window without autograd, stop at the window's exit."""
        first, last = self.windows[k]
        with torch.no_grad():
            x = self.base.embed_tokens(ids)
            for layer in self.base.layers[:first]:
                x = layer(x)
        for layer in self.base.layers[first : last + 1]:
            x = layer(x)
        y: torch.Tensor = self.exit_heads[k](self.exit_norms[k](x))
        return y

    def all_exit_logits(self, ids: torch.Tensor) -> list[torch.Tensor]:
        x = self.base.embed_tokens(ids)
        out = []
        for i, layer in enumerate(self.base.layers):
            x = layer(x)
            if i in self.exits:
                k = self.exits.index(i)
                out.append(self.exit_heads[k](self.exit_norms[k](x)))
        return out


def vote(exit_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Max-prob voting: softmax per exit, element-wise max across exits, renormalise. Returns probabilities."""
    probs = torch.stack([F.softmax(lg, dim=-1) for lg in exit_logits]).amax(dim=0)
    return probs / probs.sum(dim=-1, keepdim=True)


@contextmanager
def saved_activation_meter(params: Sequence[torch.Tensor]) -> Iterator[list[int]]:
    """Sum the bytes autograd saves for backward (parameters excluded, each storage once). Yields a 1-item list."""
    total = [0]
    param_ptrs = {p.untyped_storage().data_ptr() for p in params}
    seen: set[int] = set()

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in param_ptrs and ptr not in seen:
            seen.add(ptr)
            total[0] += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield total


@dataclass(frozen=True, slots=True)
class TuneResult:
    method: str
    steps: int
    trainable_params: int  # largest over phases
    saved_activation_bytes: int  # largest over phases, one training step
    seconds_per_step: float  # mean over steps
    median_seconds_per_step: float  # median over steps (each phase's, weighted by its steps): robust to load spikes
    val_loss: float
    val_accuracy: float
    per_exit: tuple[tuple[int, float, float], ...] = ()  # (exit layer, loss, accuracy) for Edge-LLM


def evaluate_vanilla(model: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
    """Loss and accuracy at the final head (the model has no dropout or batch norm, so mode does not matter)."""
    return evaluate(model, batches)


@torch.no_grad()
def evaluate_voting(model: ExitModel, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]
                    ) -> tuple[float, float, list[tuple[int, float, float]]]:
    """Voted loss (-log of the renormalised voted probability of the target) and accuracy, and each exit's own."""
    loss = acc = 0.0
    per = [[0.0, 0.0] for _ in model.exits]
    for x, y in batches:
        logits = model.all_exit_logits(x)
        probs = vote(logits)
        loss += float(-probs.gather(-1, y.unsqueeze(-1)).clamp_min(1e-12).log().mean())
        acc += float((probs.argmax(-1) == y).float().mean())
        for k, lg in enumerate(logits):
            per[k][0] += float(lm_loss(lg, y))
            per[k][1] += float((lg.argmax(-1) == y).float().mean())
    n = len(batches)
    return loss / n, acc / n, [(e, p[0] / n, p[1] / n) for e, p in zip(model.exits, per, strict=True)]


def _step(loss_fn: Callable[[], torch.Tensor], opt: torch.optim.Optimizer, all_params: Sequence[torch.Tensor]) -> tuple[int, float]:
    """One optimizer step; returns the saved-activation bytes of its forward and its wall time."""
    t0 = time.perf_counter()
    with saved_activation_meter(all_params) as saved:
        loss = loss_fn()
    opt.zero_grad(set_to_none=True)
    torch.autograd.backward(loss)
    opt.step()
    return saved[0], time.perf_counter() - t0


def _final_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return lm_loss(model(x), y)


def _exit_loss(model: ExitModel, k: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return lm_loss(model.phase_logits(x, k), y)


def tune_vanilla_lora(base: SmallLlama, corpus: Corpus, val: Sequence[tuple[torch.Tensor, torch.Tensor]], *, steps: int,
                      batch: int = 8, seq: int = 128, lr: float = 2e-3, rank: int = 8, alpha: float = 16.0, seed: int = 0,
                      progress: bool = True) -> tuple[nn.Module, TuneResult]:
    torch.manual_seed(seed)
    model = copy.deepcopy(base)
    add_lora(model, rank, alpha)
    params = [p for p in model.parameters() if p.requires_grad]
    all_params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    saved = 0
    secs: list[float] = []
    for _ in tqdm(range(steps), desc="vanilla LoRA", disable=not progress):
        x, y = corpus.batch(gen, batch, seq)
        b, s = _step(partial(_final_loss, model, x, y), opt, all_params)
        saved = max(saved, b)
        secs.append(s)
    loss, acc = evaluate_vanilla(model, val)
    return model, TuneResult("lora", steps, sum(p.numel() for p in params), saved, statistics.fmean(secs), statistics.median(secs),
                             loss, acc)


def tune_edge_llm(base: SmallLlama, corpus: Corpus, val: Sequence[tuple[torch.Tensor, torch.Tensor]], *, steps: int,
                  stride: int, batch: int = 8, seq: int = 128, lr: float = 2e-3, rank: int = 8, alpha: float = 16.0,
                  seed: int = 0, progress: bool = True) -> tuple[ExitModel, TuneResult]:
    """`steps` in total, split evenly over the phases (the same number of optimizer steps as vanilla LoRA)."""
    torch.manual_seed(seed)
    model = ExitModel(base, stride, rank, alpha)
    all_params = list(model.parameters())
    gen = torch.Generator().manual_seed(seed)
    n_phases = len(model.windows)
    per_phase = [steps // n_phases + (1 if k < steps % n_phases else 0) for k in range(n_phases)]
    saved, trainable = 0, 0
    secs: list[float] = []
    medians = 0.0  # sum over phases of (the phase's median step time) x (its steps)
    bar = tqdm(total=steps, desc="Edge-LLM tuning", disable=not progress)
    for k, n in enumerate(per_phase):
        params = model.set_phase(k)
        trainable = max(trainable, sum(p.numel() for p in params))
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        for _ in range(n):
            x, y = corpus.batch(gen, batch, seq)
            b, s = _step(partial(_exit_loss, model, k, x, y), opt, all_params)
            saved = max(saved, b)
            secs.append(s)
            bar.update(1)
        medians += statistics.median(secs[-n:]) * n if n else 0.0
    bar.close()
    for p in model.parameters():
        p.requires_grad_(False)
    loss, acc, per = evaluate_voting(model, val)
    return model, TuneResult("edge-llm", steps, trainable, saved, statistics.fmean(secs), medians / steps, loss, acc, tuple(per))
