"""The `edgesim infer` report: prefill seconds, decode seconds per token, tokens/s, energy per token and memory."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd

from edgesim.arch import ArchSpec
from edgesim.llm.adaptation import BreakEven, Corpus
from edgesim.llm.inference import InferenceSettings
from edgesim.llm.model import ModelShape
from edgesim.llm.rag import RagResult, RagSettings
from edgesim.llm.trace import compression_text
from edgesim.results import InferenceResult, MethodResult

Adaptation = tuple[Corpus, MethodResult, tuple[BreakEven, BreakEven], int]


def adaptation(corpus: Corpus, tuned: MethodResult, lora: InferenceResult, rag: RagResult, generate: int) -> Adaptation:
    """LoRA tuning over the corpus against RAG's index of it, and the break-even in seconds and joules."""
    tq_s = lora.prefill_seconds + generate * lora.decode_seconds_per_token
    tq_e = lora.prefill_energy_pj + generate * lora.energy_pj_per_token
    steps = corpus.steps
    secs = BreakEven(metric="time", tune_once=steps * tuned.seconds, rag_once=rag.index_seconds, tuned_query=tq_s,
                     rag_query=rag.query_seconds(generate))
    joules = BreakEven(metric="energy", tune_once=steps * tuned.energy_pj / 1e12, rag_once=rag.index_energy_pj / 1e12,
                       tuned_query=tq_e / 1e12, rag_query=rag.query_energy_pj(generate) / 1e12)
    return corpus, tuned, (secs, joules), generate


def _adapt_json(a: Adaptation) -> dict[str, object]:
    corpus, tuned, (secs, joules), generate = a
    return {"corpus": dataclasses.asdict(corpus), "tuning_steps": corpus.steps, "step_seconds": tuned.seconds,
            "step_energy_pj": tuned.energy_pj, "tuning_fits": tuned.fits, "generate": generate,
            "break_even": {b.metric: {**dataclasses.asdict(b), "queries": b.queries, "until": b.until}
                           for b in (secs, joules)}}


def _adapt_lines(a: Adaptation) -> str:
    corpus, tuned, (secs, joules), generate = a
    fits = "" if tuned.fits else " (its peak memory exceeds the device's DRAM)"
    return (f"\n\nadaptation to {corpus.samples:,} samples of {corpus.sample_tokens} tokens: LoRA tuning "
            f"{corpus.steps:,} steps ({corpus.epochs} epoch(s), batch {corpus.batch}) x {tuned.seconds:,.2f} s = "
            f"{secs.tune_once:,.1f} s and {joules.tune_once:,.2f} J{fits}; RAG indexing {secs.rag_once:,.1f} s and "
            f"{joules.rag_once:,.2f} J. Per query ({generate} generated tokens): tuned model {secs.tuned_query:,.2f} s "
            f"and {joules.tuned_query:,.3f} J, RAG {secs.rag_query:,.2f} s and {joules.rag_query:,.3f} J.\n"
            f"break-even: {secs.describe()}; {joules.describe()}.")


def _row(r: InferenceResult) -> dict[str, object]:
    out = dataclasses.asdict(r)
    out["infeasible_ops"] = [{"name": o.name, "reason": o.reason} for o in r.infeasible_ops]
    out["complete"] = not r.infeasible_ops
    return out


def _rag_fields(rag: RagResult, rs: RagSettings, encoder: ModelShape, generate: int) -> dict[str, object]:
    return {"settings": {**dataclasses.asdict(rs), "index": str(rs.index), "encoder": encoder.name,
                         "scanned_per_query": rs.scanned},
            "index_seconds": rag.index_seconds, "index_energy_pj": rag.index_energy_pj,
            "retrieve_seconds": rag.retrieve_seconds, "retrieve_energy_pj": rag.retrieve_energy_pj,
            "prompt_tokens": rag.prompt_tokens, "query_seconds": rag.query_seconds(generate),
            "query_energy_pj": rag.query_energy_pj(generate), "index_bytes": rag.index_bytes,
            "encoder_bytes": rag.encoder_bytes, "peak_bytes": rag.peak_bytes}


def with_rag_peak(rag: RagResult) -> InferenceResult:
    """RAG's generation row, its peak memory including the index and the encoder."""
    return dataclasses.replace(rag.generation, peak_bytes=rag.peak_bytes, infeasible_ops=rag.infeasible_ops)


def to_json(arch: ArchSpec, model: ModelShape, st: InferenceSettings, results: list[InferenceResult],
            rag: tuple[RagResult, RagSettings, ModelShape] | None = None, adapt: Adaptation | None = None) -> str:
    out: dict[str, object] = {"model": model.name, "hardware": arch.name, "prompt": st.prompt,
                              "generate": st.generate, "methods": [_row(r) for r in results]}
    if rag is not None:
        out["rag"] = _rag_fields(*rag, st.generate)
    if adapt is not None:
        out["adaptation"] = _adapt_json(adapt)
    return json.dumps(out, indent=2)


def rag_lines(rag: RagResult, rs: RagSettings, encoder: ModelShape, generate: int) -> str:
    return (f"\n\nrag: {rs.chunks:,} chunks of {rs.chunk_tokens} tokens embedded once by {encoder.name} "
            f"({rag.index_seconds:,.2f} s, {rag.index_energy_pj / 1e12:,.3f} J); per query: retrieval "
            f"{rag.retrieve_seconds * 1e3:,.2f} ms ({rs.index}: {rs.scanned:,} embeddings scored, top {rs.top_k}), "
            f"prefill of {rag.prompt_tokens:,} tokens (the prompt plus {rs.top_k} x {rs.chunk_tokens} retrieved), "
            f"{rag.query_seconds(generate):,.2f} s and {rag.query_energy_pj(generate) / 1e12:,.3f} J with {generate} "
            f"generated tokens; index {rag.index_bytes / 2**20:,.2f} MiB, encoder {rag.encoder_bytes / 2**20:,.1f} MiB "
            "(both in the rag row's peak).")


def to_table(arch: ArchSpec, model: ModelShape, st: InferenceSettings, results: list[InferenceResult],
             rag: tuple[RagResult, RagSettings, ModelShape] | None = None, adapt: Adaptation | None = None) -> str:
    rows = [{"method": r.label + (" INCOMPLETE" if r.infeasible_ops else ""),
             "prefill s": f"{r.prefill_seconds:,.2f}", "decode s/token": f"{r.decode_seconds_per_token:,.3f}",
             "tokens/s": f"{r.tokens_per_second:,.2f}", "energy mJ/token": f"{r.energy_pj_per_token / 1e9:,.1f}",
             "weights GiB": f"{r.weight_bytes / 2**30:,.2f}", "KV cache GiB": f"{r.kv_cache_bytes / 2**30:,.3f}",
             "peak GiB": f"{r.peak_bytes / 2**30:,.2f}", "fits": "yes" if r.peak_bytes <= arch.dram.capacity_bytes else "NO"}
            for r in results]
    comp = compression_text(st.weight_bits, st.weight_sparsity)
    base = f"; lora and rag on a {comp} base" if comp else ""
    return (f"edgesim infer: {model.name}, prompt {st.prompt}, {st.generate} generated tokens, on {arch.name}{base}\n\n"
            + pd.DataFrame(rows).to_string(index=False)
            + "\n\ndecode: mean over the generated tokens; edge-llm keeps weights compressed, runs the LoRA stream "
              "and every exit head, and votes (DESIGN.md 2(b))."
            + "".join(f"\nINCOMPLETE {r.label}: {len(r.infeasible_ops):,} op(s) cannot run on this hardware and are "
                      f"left out of its figures (e.g. {r.infeasible_ops[0].name}: {r.infeasible_ops[0].reason})."
                      for r in results if r.infeasible_ops)
            + (rag_lines(*rag, st.generate) if rag is not None else "")
            + (_adapt_lines(adapt) if adapt is not None else ""))
