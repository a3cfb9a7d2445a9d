"""Adapting to a personal corpus: what tuning and RAG cost for a given amount of data, and when tuning pays off.

A corpus of `samples` samples of `sample_tokens` tokens each:
- tuning runs `epochs` passes over it at `batch` samples per optimizer step: ceil(samples / batch) x epochs steps of
  the tuning step costed by `edgesim.llm.tune` (sequence length = sample_tokens);
- RAG embeds it once as ceil(samples x sample_tokens / chunk_tokens) chunks (`edgesim.llm.rag`).

Break-even. With one-time costs T (tuning) and R (indexing) and per-query costs t (the tuned model) and r (RAG's
retrieval plus its longer prefill), after Q queries tuning has cost T + Q t and RAG R + Q r. When r > t tuning is
the cheaper choice from Q* = (T - R) / (r - t) queries on (from the first if T <= R). When r < t and T < R tuning is
cheaper only up to (R - T) / (t - r) queries; when r <= t and T >= R, never. Computed separately for time and
for energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Corpus:
    samples: int
    sample_tokens: int = 256
    epochs: int = 1
    batch: int = 1

    def __post_init__(self) -> None:
        for name in ("samples", "sample_tokens", "epochs", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"corpus {name} must be >= 1, got {getattr(self, name)}")

    @property
    def steps(self) -> int:
        """Optimizer steps of tuning: ceil(samples / batch) per epoch."""
        return math.ceil(self.samples / self.batch) * self.epochs

    def chunks(self, chunk_tokens: int) -> int:
        """RAG chunks the corpus is split into."""
        return math.ceil(self.samples * self.sample_tokens / chunk_tokens)


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakEven:
    """One metric (seconds or joules): the one-time and per-query costs and the break-even number of queries."""

    metric: str
    tune_once: float
    rag_once: float
    tuned_query: float
    rag_query: float

    @property
    def queries(self) -> float | None:
        """Queries after which tuning's total is below RAG's for good: 0 from the first query, None if never (then
        see `until`)."""
        if self.rag_query > self.tuned_query:
            return max(0.0, (self.tune_once - self.rag_once) / (self.rag_query - self.tuned_query))
        if self.rag_query == self.tuned_query and self.tune_once < self.rag_once:
            return 0.0
        return None

    @property
    def until(self) -> float | None:
        """When RAG's queries are the cheaper ones but its one-time cost is higher: the queries up to which tuning
        is still cheaper in total (None otherwise)."""
        if self.rag_query < self.tuned_query and self.tune_once < self.rag_once:
            return (self.rag_once - self.tune_once) / (self.tuned_query - self.rag_query)
        return None

    def describe(self) -> str:
        q, u = self.queries, self.until
        if q == 0:
            return f"{self.metric}: tuning is cheaper from the first query"
        if q is not None:
            return f"{self.metric}: tuning is cheaper after {math.ceil(q):,} queries"
        if u is not None:
            return f"{self.metric}: tuning is cheaper only up to {math.floor(u):,} queries, RAG after"
        return f"{self.metric}: RAG is never dearer (no more one-time cost and no dearer queries)"
