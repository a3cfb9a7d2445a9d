"""Pre-training of the small model on the stdlib corpus, with checkpoints reused by later runs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from edgesim.frontend.torch.data import Corpus
from edgesim.frontend.torch.model import SmallConfig, SmallLlama, lm_loss


@torch.no_grad()
def evaluate(model: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
    """Mean next-token loss and accuracy of the final head over fixed batches."""
    model.eval()
    loss = acc = 0.0
    for x, y in batches:
        logits = model(x)
        loss += float(lm_loss(logits, y))
        acc += float((logits.argmax(-1) == y).float().mean())
    return loss / len(batches), acc / len(batches)


def pretrain(cfg: SmallConfig, corpus: Corpus, *, steps: int, batch: int = 16, seq: int = 128, lr: float = 3e-3,
             seed: int = 0, progress: bool = True) -> SmallLlama:
    torch.manual_seed(seed)
    model = SmallLlama(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, cosine decay to 10%
        opt, lambda i: min(1.0, (i + 1) / warm) * (0.1 + 0.45 * (1 + math.cos(math.pi * i / steps))))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    bar = tqdm(range(steps), desc="pre-train", disable=not progress)
    for _ in bar:
        x, y = corpus.batch(gen, batch, seq)
        loss = lm_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return model


def save_checkpoint(model: SmallLlama, path: Path, meta: dict[str, float | int | str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.cfg.as_dict(), "state": model.state_dict(), "meta": meta}, path)


def load_checkpoint(path: Path) -> SmallLlama:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = SmallLlama(SmallConfig(**blob["config"]))
    model.load_state_dict(blob["state"])
    model.eval()
    return model


def pretrained(cfg: SmallConfig, corpus: Corpus, path: Path, *, steps: int, progress: bool = True, **kw: float) -> SmallLlama:
    """Load the checkpoint at `path` if it was made with the same config and steps; otherwise train and save it."""
    if path.exists():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob["config"] == cfg.as_dict() and blob["meta"].get("steps") == steps:
            return load_checkpoint(path)
    model = pretrain(cfg, corpus, steps=steps, progress=progress, **kw)  # type: ignore[arg-type]
    save_checkpoint(model, path, {"steps": steps, "corpus": corpus.name})
    return model
