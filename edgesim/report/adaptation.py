"""`edgesim tune` with a corpus (`--samples`) or `--method rag`: what adapting costs in all, how much data fits a time
budget, and RAG's indexing beside the tuning methods. Seconds, joules, bytes (GiB and MiB in the text)."""

from __future__ import annotations

import math
from typing import Any

from edgesim.llm.adaptation import Corpus
from edgesim.llm.rag import RagIndexing, RagSettings
from edgesim.results import MethodResult
from edgesim.units import GIB, MIB


def fits_budget(step_seconds: float, budget: float, corpus: Corpus | None, batch: int) -> dict[str, float | int]:
    """Within `budget` seconds: tuning steps, the samples they cover, and (with a corpus) the epochs over it."""
    steps = math.floor(budget / step_seconds) if step_seconds > 0 else 0
    out: dict[str, float | int] = {"steps": steps, "samples": steps * batch}
    if corpus is not None:
        out["epochs_over_corpus"] = steps / math.ceil(corpus.samples / corpus.batch)
    return out


def rows(results: list[MethodResult], corpus: Corpus | None, budget: float | None, batch: int) -> list[dict[str, Any]]:
    out = []
    for r in results:
        row: dict[str, Any] = {"method": str(r.method), "step_seconds": r.seconds, "step_energy_pj": r.energy_pj}
        if corpus is not None:
            row.update(steps=corpus.steps, adapt_seconds=corpus.steps * r.seconds,
                       adapt_energy_pj=corpus.steps * r.energy_pj)
        if budget is not None:
            row["within_budget"] = fits_budget(r.seconds, budget, corpus, batch)
        out.append(row)
    return out


def rag_row(ix: RagIndexing, rs: RagSettings, encoder: str, budget: float | None,
            corpus: Corpus | None) -> dict[str, Any]:
    out: dict[str, Any] = {"method": "rag", "encoder": encoder, "chunks": rs.chunks, "chunk_tokens": rs.chunk_tokens,
                           "index": str(rs.index), "adapt_seconds": ix.seconds, "adapt_energy_pj": ix.energy_pj,
                           "index_bytes": ix.index_bytes, "encoder_bytes": ix.encoder_bytes,
                           "peak_bytes": ix.peak_bytes, "complete": not ix.infeasible_ops}
    if budget is not None and ix.seconds > 0:
        per_chunk = ix.seconds / rs.chunks
        out["within_budget"] = {"chunks": math.floor(budget / per_chunk)}
        if corpus is not None:
            out["within_budget"]["samples"] = math.floor(budget / per_chunk * rs.chunk_tokens / corpus.sample_tokens)
    return out


def text(tuning: list[dict[str, Any]], rag: dict[str, Any] | None, corpus: Corpus | None, budget: float | None) -> str:
    lines = []
    if corpus is not None:
        steps = f" ({corpus.epochs} epoch(s), batch {corpus.batch}: {corpus.steps:,} tuning steps)" if tuning else ""
        lines.append(f"Adapting to {corpus.samples:,} samples of {corpus.sample_tokens} tokens{steps}:")
        for r in tuning:
            lines.append(f"  {r['method']:9s} {r['adapt_seconds']:14,.1f} s {r['adapt_energy_pj'] / 1e12:12,.2f} J")
    if rag is not None:
        bad = "" if rag["complete"] else " INCOMPLETE (some encoder ops cannot run on this hardware)"
        lines.append(f"  {'rag':9s} {rag['adapt_seconds']:14,.1f} s {rag['adapt_energy_pj'] / 1e12:12,.2f} J   "
                     f"no tuning: {rag['chunks']:,} chunks of {rag['chunk_tokens']} tokens embedded once by "
                     f"{rag['encoder']} ({rag['index']} index {rag['index_bytes'] / MIB:,.2f} MiB, encoder "
                     f"{rag['encoder_bytes'] / MIB:,.1f} MiB, peak {rag['peak_bytes'] / GIB:,.3f} GiB){bad}")
    if budget is not None:
        lines.append(f"Within a time budget of {budget:,.0f} s:")
        for r in tuning:
            b = r["within_budget"]
            epochs = f", {b['epochs_over_corpus']:,.2f} epoch(s) of the corpus" if "epochs_over_corpus" in b else ""
            lines.append(f"  {r['method']:9s} {b['steps']:,} steps = {b['samples']:,} samples{epochs}")
        if rag is not None and "within_budget" in rag:
            b = rag["within_budget"]
            extra = f" = {b['samples']:,} samples" if "samples" in b else ""
            lines.append(f"  {'rag':9s} {b['chunks']:,} chunks indexed{extra}")
    return "\n".join(lines)
