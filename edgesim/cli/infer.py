"""`edgesim infer`: prefill and per-token decode with a tuned model, vanilla LoRA beside Edge-LLM's voting exits, and
retrieval-augmented generation (`rag`: the untuned model with retrieved chunks in its prompt) beside them."""

from __future__ import annotations

import argparse
from typing import Any

from edgesim import api
from edgesim.cli.args import (
    add_compression_args,
    add_engine_arg,
    add_hw_args,
    add_infeasible_arg,
    bad,
    compression,
    refuse_infeasible,
    require_positive,
    require_range,
    split_list,
)
from edgesim.config.hardware import base_bits, load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import default_trace_path, load_trace
from edgesim.llm.adaptation import Corpus
from edgesim.llm.inference import InferenceSettings
from edgesim.llm.model import ModelShape
from edgesim.llm.rag import IndexKind, RagSettings
from edgesim.llm.step import TuningSettings
from edgesim.llm.trace import Trace
from edgesim.methods import Method
from edgesim.report import inference
from edgesim.results import Engine
from edgesim.search.heuristic import HeuristicSearcher


def add_parser(sub: Any) -> None:
    inf = sub.add_parser("infer", help="cost inference with a tuned model: prefill, per-token decode, voting exits")
    add_hw_args(inf)
    inf.add_argument("--model", default="llama7b")
    inf.add_argument("--trace", metavar="FILE", help="Edge-LLM trace (default workloads/traces/<model>_edge_llm.json)")
    methods = inf.add_mutually_exclusive_group()
    methods.add_argument("--compare", default="lora,edge-llm", metavar="M1,M2",
                         help="lora, edge-llm and/or rag (default lora,edge-llm)")
    methods.add_argument("--method", metavar="M", help="one method: lora, edge-llm or rag (same as --compare M)")
    inf.add_argument("--prompt", type=int, help="prompt tokens (default 512, or half the model's max_seq if smaller)")
    inf.add_argument("--generate", type=int, help="generated tokens (default 128, or a quarter of the model's max_seq "
                                                   "if smaller)")
    inf.add_argument("--base-bits", type=int, help="bits of vanilla LoRA's merged weights and activations (default: the "
                                                   "MAC's native width)")
    add_compression_args(inf, "lora and rag")
    inf.add_argument("--voting-streams", type=int, choices=[1, 2], default=1,
                     help="edge-llm: 1 runs the adapted stream only (the paper); 2 also runs the frozen backbone "
                          "beside it in every layer, with its own KV cache (the authors' released code)")
    rag = inf.add_argument_group("rag (retrieval-augmented generation with the untuned model; edgesim.llm.rag)")
    rag.add_argument("--encoder", default="minilm_l6", help="the embedding model (default minilm_l6)")
    rag.add_argument("--chunks", type=int, help="stored chunks of the personal corpus (default 10,000, or the --samples "
                                                 "corpus split into --chunk-tokens chunks)")
    rag.add_argument("--chunk-tokens", type=int, default=128, help="tokens per chunk (default 128)")
    rag.add_argument("--top-k", type=int, default=4, help="chunks retrieved into the prompt per query (default 4)")
    rag.add_argument("--query-tokens", type=int, default=32, help="tokens of the query the encoder embeds (default 32)")
    rag.add_argument("--index", choices=[str(k) for k in IndexKind], default="flat",
                     help="flat: score every chunk; ivf: score the centroids, then the --ivf-probe nearest lists")
    rag.add_argument("--ivf-lists", type=int, default=0, help="ivf: clusters (default round(sqrt(chunks)))")
    rag.add_argument("--ivf-probe", type=int, default=8, help="ivf: clusters scanned per query (default 8)")
    data = inf.add_argument_group("adaptation to a corpus (with lora and rag: the break-even number of queries; "
                                  "edgesim.llm.adaptation)")
    data.add_argument("--samples", type=int, help="samples in the personal corpus; tuning runs over them, RAG embeds them")
    data.add_argument("--sample-tokens", type=int, default=256, help="tokens per sample (default 256)")
    data.add_argument("--epochs", type=int, default=1, help="tuning passes over the corpus (default 1)")
    data.add_argument("--tune-batch", type=int, default=1, help="samples per tuning step (default 1)")
    add_engine_arg(inf)
    add_infeasible_arg(inf)
    inf.add_argument("--format", choices=["table", "json"], default="table")
    inf.add_argument("-o", "--output", metavar="FILE")


def run(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    model = load_model(args.model)
    flag = "--method" if args.method is not None else "--compare"
    methods = [args.method] if args.method is not None else split_list("--compare", args.compare)
    if not methods or any(m not in ("lora", "edge-llm", "rag") for m in methods):
        raise bad(flag, f"expected lora, edge-llm and/or rag, got {args.method or args.compare!r}")
    if args.prompt is None:
        args.prompt = min(512, model.max_seq // 2)
    if args.generate is None:
        args.generate = min(128, model.max_seq // 4)
    for flag, v in (("--prompt", args.prompt), ("--generate", args.generate)):
        require_positive(flag, v)
    if args.base_bits is not None:
        require_positive("--base-bits", args.base_bits)
    require_range("--prompt plus --generate", args.prompt + args.generate, 2, model.max_seq, f"{model.name}'s max_seq")
    bits = base_bits(arch, args.base_bits, used="lora" in methods or "rag" in methods, source="--base-bits")
    weight_bits, weight_sparsity = compression(args, arch, methods)
    st = InferenceSettings(prompt=args.prompt, generate=args.generate, base_bits=bits,
                           voting_streams=args.voting_streams, weight_bits=weight_bits, weight_sparsity=weight_sparsity)
    traces: list[Trace | None] = [load_trace(args.trace or str(default_trace_path(args.model)), model)
                                  if m == "edge-llm" else None for m in methods if m != "rag"]
    results = api.infer(arch, model, st, traces, engine=Engine(args.engine))
    corpus = _corpus(args, model, methods)
    rag = None
    if "rag" in methods:
        encoder = load_model(args.encoder)
        rs = _rag_settings(args, encoder, model, st, corpus)
        out = api.infer_rag(arch, model, encoder, st, rs, engine=Engine(args.engine))
        rag = (out, rs, encoder)
        results.insert(methods.index("rag"), inference.with_rag_peak(out))
    refuse_infeasible(args, arch.name, [(r.label, r.ops, r.infeasible_ops) for r in results])
    adapt = None
    if corpus is not None and rag is not None:
        tuned = api.tune(arch, model, [Method.LORA], TuningSettings(seq=corpus.sample_tokens, batch=corpus.batch,
                                                                    base_bits=bits, weight_bits=weight_bits,
                                                                    weight_sparsity=weight_sparsity), None,
                         engine=Engine(args.engine), searcher=HeuristicSearcher())[0]
        refuse_infeasible(args, arch.name, [("lora tuning step", max(c.ops for c, _ in tuned.steps),
                                             tuned.infeasible_ops)])
        lora = results[methods.index("lora")]
        adapt = inference.adaptation(corpus, tuned, lora, rag[0], st.generate)
    if args.format == "json":
        return inference.to_json(arch, model, st, results, rag, adapt)
    return inference.to_table(arch, model, st, results, rag, adapt)


def _corpus(args: argparse.Namespace, model: ModelShape, methods: list[str]) -> Corpus | None:
    if args.samples is None:
        return None
    if not {"lora", "rag"} <= set(methods):
        raise bad("--samples", "compares tuning with RAG on a corpus: give --compare with both lora and rag, e.g. "
                               "--compare lora,rag")
    for flag, v in (("--samples", args.samples), ("--epochs", args.epochs), ("--tune-batch", args.tune_batch)):
        require_positive(flag, v)
    require_range("--sample-tokens", args.sample_tokens, 1, model.max_seq, f"{model.name}'s max_seq")
    if args.chunks is not None:
        raise bad("--chunks", "with --samples the chunks are the corpus split into --chunk-tokens chunks; give one of "
                              "the two")
    return Corpus(samples=args.samples, sample_tokens=args.sample_tokens, epochs=args.epochs, batch=args.tune_batch)


def _rag_settings(args: argparse.Namespace, encoder: ModelShape, model: ModelShape, st: InferenceSettings,
                  corpus: Corpus | None) -> RagSettings:
    if corpus is not None:
        require_positive("--chunk-tokens", args.chunk_tokens)
        args.chunks = corpus.chunks(args.chunk_tokens)
    elif args.chunks is None:
        args.chunks = 10_000
    for flag, v in (("--chunks", args.chunks), ("--chunk-tokens", args.chunk_tokens), ("--top-k", args.top_k),
                    ("--query-tokens", args.query_tokens), ("--ivf-probe", args.ivf_probe)):
        require_positive(flag, v)
    if args.ivf_lists < 0:
        raise bad("--ivf-lists", f"expected 0 (round(sqrt(chunks))) or a positive number of lists, got {args.ivf_lists}")
    require_range("--top-k", args.top_k, 1, args.chunks, "the stored --chunks")
    require_range("--chunk-tokens", args.chunk_tokens, 1, encoder.max_seq, f"{encoder.name}'s max_seq")
    require_range("--query-tokens", args.query_tokens, 1, encoder.max_seq, f"{encoder.name}'s max_seq")
    longest = st.prompt + args.top_k * args.chunk_tokens + st.generate
    require_range("the rag context (--prompt + --top-k x --chunk-tokens + --generate)", longest, 2, model.max_seq,
                  f"{model.name}'s max_seq")
    return RagSettings(chunks=args.chunks, chunk_tokens=args.chunk_tokens, top_k=args.top_k,
                       query_tokens=args.query_tokens, index=IndexKind(args.index), ivf_lists=args.ivf_lists,
                       ivf_probe=args.ivf_probe)
