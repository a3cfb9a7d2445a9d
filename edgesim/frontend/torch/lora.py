"""LoRA adapters (Hu et al.): y = W x + (alpha / r) * B A x, with W frozen, A Gaussian-initialised and B zero."""

from __future__ import annotations

import math

import torch
from torch import nn

TARGETS = ("q_proj", "v_proj")


class LoraLinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int = 8, alpha: float = 16.0) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    @property
    def weight(self) -> torch.Tensor:
        w: torch.Tensor = self.base.weight
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale
        return out


def add_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0, targets: tuple[str, ...] = TARGETS) -> list[LoraLinear]:
    """Freeze every parameter of `model` and wrap each Linear named in `targets` with a LoRA adapter (in place)."""
    for p in model.parameters():
        p.requires_grad_(False)
    added = []
    for mod in list(model.modules()):
        for child_name, child in list(mod.named_children()):
            if child_name in targets and isinstance(child, nn.Linear):
                lora = LoraLinear(child, rank, alpha)
                setattr(mod, child_name, lora)
                added.append(lora)
    if not added:
        raise ValueError(f"no Linear named {', '.join(targets)} found")
    return added
