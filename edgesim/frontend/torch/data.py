"""Offline text corpora and a byte-level tokenizer for the frontend's small model.

Pre-training corpus: the Python standard library's own source files (code, comments and docstrings), read from this
interpreter's stdlib directory in sorted order. Adaptation corpus (standing in for private user data, a distinct domain):
the English prose of the language reference help topics in `pydoc_data.topics`. Bytes are the tokens (vocab 256).
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch

VOCAB = 256


def encode(text: str) -> torch.Tensor:
    return torch.tensor(list(text.encode("utf-8", errors="replace")), dtype=torch.long)


def decode(ids: torch.Tensor) -> str:
    return bytes(int(i) for i in ids.tolist()).decode("utf-8", errors="replace")


def stdlib_source(max_bytes: int) -> str:
    """Up to `max_bytes` of stdlib .py source (top-level modules, sorted by name, so the corpus is reproducible)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    total = 0
    for f in sorted(root.glob("*.py")):
        text = f.read_text(encoding="utf-8", errors="replace")
        parts.append(text)
        total += len(text)
        if total >= max_bytes:
            break
    return "\n".join(parts)[:max_bytes]


def pydoc_topics() -> str:
    """The help-topic prose of `pydoc_data.topics`, in sorted topic order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


@dataclass(frozen=True, slots=True)
class Corpus:
    """Token stream split 90/10 into train and validation (validation is the tail, never seen in training)."""

    name: str
    train: torch.Tensor
    val: torch.Tensor

    @classmethod
    def from_text(cls, name: str, text: str, val_fraction: float = 0.1) -> Corpus:
        ids = encode(text)
        cut = int(len(ids) * (1 - val_fraction))
        return cls(name=name, train=ids[:cut], val=ids[cut:])

    def batch(self, gen: torch.Generator, batch: int, seq: int, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        """Random windows: inputs and next-byte targets, each (batch, seq)."""
        data = self.train if split == "train" else self.val
        starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=gen)
        x = torch.stack([data[s : s + seq] for s in starts.tolist()])
        y = torch.stack([data[s + 1 : s + seq + 1] for s in starts.tolist()])
        return x, y

    def fixed_batches(self, n: int, batch: int, seq: int, split: str = "val", seed: int = 1234) -> list[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(seed)
        return [self.batch(gen, batch, seq, split) for _ in range(n)]


def pretrain_corpus(max_bytes: int = 3_000_000) -> Corpus:
    return Corpus.from_text("stdlib-source", stdlib_source(max_bytes))


def adaptation_corpus() -> Corpus:
    return Corpus.from_text("pydoc-topics", pydoc_topics())
