"""An LLM's shape: the numbers that determine every op's shape (hidden size, layers, heads, vocabulary, ...).

Beyond the dense decoder of LLaMA: a head size other than hidden / heads (`head_size`, e.g. Gemma 2), sliding-window
attention (`sliding_window`: each query attends to at most that many positions, so attention work and the KV cache
stop growing there; with `sliding_window_pattern` 2 only every other layer, as Gemma 2), a gated MLP with a GELU
(`mlp: geglu`, Gemma) beside SwiGLU, input and output embeddings that share one table (`tied_embeddings`), and a mixture-of-experts
MLP (`experts` feed-forward experts of `expert_intermediate` each, `experts_per_token` routed per token, optionally a
dense shared expert of `shared_expert_intermediate`, as in Qwen-MoE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelShape:
    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    max_seq: int
    mlp: str
    norm: str
    head_size: int = 0  # 0: hidden // heads
    sliding_window: int = 0  # 0: full attention
    sliding_window_pattern: int = 1  # the layers i with i % pattern == 0 use the window, the others attend fully
    tied_embeddings: bool = False
    experts: int = 0  # 0: a dense MLP of `intermediate`
    experts_per_token: int = 0
    expert_intermediate: int = 0
    shared_expert_intermediate: int = 0  # 0: no shared expert

    @property
    def head_dim(self) -> int:
        return self.head_size or self.hidden // self.heads

    @property
    def q_dim(self) -> int:
        """Width of the query (and attention output): heads x head_dim, not always hidden."""
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def moe(self) -> bool:
        return self.experts > 0

    def window(self, layer: int) -> int:
        """Layer `layer`'s attention window (0: none): Gemma 2 alternates windowed and full layers (pattern 2)."""
        return self.sliding_window if self.sliding_window and layer % self.sliding_window_pattern == 0 else 0

    def attended(self, positions: int, layer: int = 0) -> int:
        """Positions a query of layer `layer` attends to (and its KV cache holds) when `positions` precede it: capped
        at the layer's window."""
        w = self.window(layer)
        return min(positions, w) if w else positions

    def experts_touched(self, tokens: int) -> float:
        """Expected number of distinct experts a batch of `tokens` tokens routes to, each token picking
        `experts_per_token` of the `experts` without repetition and uniformly at random: a given expert is missed by
        one token with probability 1 - k/E, by all T tokens with (1 - k/E)^T, so E·(1 - (1 - k/E)^T) are touched."""
        e, k = self.experts, self.experts_per_token
        return e * (1.0 - (1.0 - k / e) ** tokens) if e else 0.0

    def experts_loaded(self, tokens: int) -> int:
        """`experts_touched`, rounded up to whole experts (each one's weights are read in full)."""
        return max(1, math.ceil(self.experts_touched(tokens) - 1e-9)) if self.experts else 0
