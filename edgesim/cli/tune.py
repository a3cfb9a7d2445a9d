"""`edgesim tune` (and plain `edgesim`): one tuning step per method, time, energy, traffic and peak memory; with a corpus
(`--samples`, `--epochs`) the cost of adapting to all of it, with `--time-budget` how much fits, and `rag` (no tuning:
the corpus indexed for retrieval) beside the tuning methods."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from edgesim import api
from edgesim.cli.args import (
    add_compression_args,
    add_engine_arg,
    add_hw_args,
    add_infeasible_arg,
    add_output_args,
    bad,
    compression,
    refuse_infeasible,
    require_positive,
    require_range,
    split_list,
)
from edgesim.config.builtin import display_path
from edgesim.config.hardware import base_bits, load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import default_trace_path, load_trace
from edgesim.config.workloads import MAX_BATCH
from edgesim.llm.adaptation import Corpus
from edgesim.llm.layers import ALL_PROJECTIONS
from edgesim.llm.rag import IndexKind, RagSettings
from edgesim.llm.step import RECOMPUTE_CHOICES, TuningSettings, default_seq
from edgesim.methods import Method
from edgesim.overlap.run import OVERLAPS, OverlapSettings
from edgesim.report import adaptation, gantt, tuning
from edgesim.results import Engine
from edgesim.search.cache import DEFAULT_CACHE_DIR
from edgesim.search.factory import MAPPERS, make_mapper


def add_parser(sub: Any) -> None:
    tune = sub.add_parser("tune", help="cost one tuning step of an LLM per method: time, energy, peak memory")
    add_hw_args(tune)
    tune.add_argument("--model", default="llama7b", help="a model in workloads/models/ or a model YAML (default llama7b)")
    tune.add_argument("--method", choices=[*(m.value for m in Method), "rag"], default="edge-llm",
                      help="a tuning method, or rag: no tuning, the corpus indexed for retrieval instead (its "
                           "adaptation cost; edgesim infer --method rag costs its queries)")
    tune.add_argument("--compare", metavar="M1,M2,...", help="several methods side by side, e.g. full,lora,qlora,partial,edge-llm,rag")
    tune.add_argument("--trace", metavar="FILE", help="Edge-LLM trace (JSON, docs/trace-format.md); "
                                                      "default workloads/traces/<model>_edge_llm.json")
    tune.add_argument("--seq", type=int, help="sequence length (default: the trace's, else 512 or the model's max_seq if smaller)")
    tune.add_argument("--batch", type=int, help="batch (default: the trace's, else 1)")
    tune.add_argument("--lora-rank", type=int, default=8,
                      help="LoRA rank of the vanilla methods (default 8; edge-llm uses each layer's rank from its trace)")
    tune.add_argument("--lora-targets", choices=["q,v", "attention", "all"], default="q,v",
                      help="projections with LoRA adapters: q and v (the paper's and LoRA's default), the four "
                           "attention projections, or all of every layer (attention and MLP, as many later recipes "
                           "do; in a mixture-of-experts layer one adapter per expert, and the router's)")
    tune.add_argument("--forward", choices=["to-exit", "full"], default="to-exit",
                      help="edge-llm: the training forward stops at the active exit (the paper, default) or runs every "
                           "layer (the authors' released code; the layers after the exit feed nothing back)")
    tune.add_argument("--recompute", choices=RECOMPUTE_CHOICES, default="none",
                      help="activation recomputation, every method: none (keep what each backward op reads, default), "
                           "attention (re-run scores and softmax in the backward instead of keeping the probabilities) "
                           "or full (keep only each layer's input and re-run the layer before its backward)")
    tune.add_argument("--exit-heads", choices=["frozen", "trainable"], default="frozen",
                      help="edge-llm: the exit head of each phase frozen (the paper's description, default) or trained "
                           "with the adapters (the authors' released code)")
    tune.add_argument("--partial-layers", type=int, default=8, help="layers trained by 'partial' (default 8)")
    tune.add_argument("--base-bits", type=int, help="weight/activation bits of the vanilla methods (default: the MAC's "
                                                    "native width, e.g. int8 LoRA on an int8 NPU)")
    add_compression_args(tune, "lora and partial's frozen layers")
    add_engine_arg(tune)
    tune.add_argument("--mapper", choices=MAPPERS, default="auto",
                      help="how GEMMs are mapped: the scheduler (auto = exhaustive where the mapspace has <= 300M points, "
                           "else CP-SAT; or a named searcher), or heuristic (the coarse grid)")
    tune.add_argument("--latency-tolerance", type=float, default=0.02, metavar="FRACTION",
                      help="scheduler: among mappings within this fraction of the fastest (and never slower than the "
                           "best fixed dataflow), take the least energy (default 0.02; 0 = fastest only)")
    tune.add_argument("--cache-dir", metavar="DIR", default=str(DEFAULT_CACHE_DIR),
                      help=f"schedule cache (default {DEFAULT_CACHE_DIR})")
    tune.add_argument("--no-cache", action="store_true", help="neither read nor write the schedule cache")
    tune.add_argument("--overlap", choices=OVERLAPS, default="none",
                      help="step-level scheduling (edgesim.overlap): none (one op after another, default), greedy (list "
                           "scheduling, critical path first) or cpsat (OR-Tools CP-SAT over windows of ops, tensors "
                           "may stay on chip); adds busy shares per engine and phase and the lower bound")
    tune.add_argument("--overlap-budget", type=float, default=0.2, metavar="SECONDS",
                      help="cpsat: the solver's deterministic time per window of ops (default 0.2; CP-SAT's "
                           "deterministic seconds are roughly seconds of one core)")
    tune.add_argument("--gantt", metavar="FILE.png", help="with --overlap greedy or cpsat: draw one decoder layer's "
                                                          "forward and backward as scheduled, over the same ops serial")
    tune.add_argument("--gantt-layer", type=int, metavar="N",
                      help="the layer --gantt draws (default: the highest layer every method trains or runs backward "
                           "through, in its largest step)")
    tune.add_argument("--per-layer", action="store_true", help="add a table of seconds per layer")
    add_infeasible_arg(tune)
    tune.add_argument("--allow-unfit", action="store_true",
                      help="give ratios against methods whose peak memory exceeds the device's DRAM (default: such a "
                           "method says 'does not fit' instead of a ratio)")
    data = tune.add_argument_group("adapting to a corpus (edgesim.llm.adaptation)")
    data.add_argument("--samples", type=int, help="samples in the personal corpus: adds the cost of tuning over all of "
                                                  "them (and, for rag, the chunks to index)")
    data.add_argument("--epochs", type=int, default=1, help="passes over the corpus (default 1)")
    data.add_argument("--time-budget", type=float, metavar="SECONDS",
                      help="how many steps, samples (and epochs of the corpus) each method fits in this many seconds")
    rag = tune.add_argument_group("rag indexing (edgesim.llm.rag)")
    rag.add_argument("--encoder", default="minilm_l6", help="the embedding model (default minilm_l6)")
    rag.add_argument("--chunk-tokens", type=int, default=128, help="tokens per chunk (default 128)")
    rag.add_argument("--chunks", type=int, help="chunks to index without --samples (default 10,000)")
    rag.add_argument("--index", choices=[str(k) for k in IndexKind], default="flat", help="flat or ivf (default flat)")
    rag.add_argument("--ivf-lists", type=int, default=0, help="ivf: clusters (default round(sqrt(chunks)))")
    add_output_args(tune)


def run(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    model = load_model(args.model)
    names = [args.method] if args.compare is None else split_list("--compare", args.compare)
    if not names:
        raise bad("--compare", f"expected comma-separated methods, e.g. lora,edge-llm, got {args.compare!r}")
    wrong = [m for m in names if m not in {x.value for x in Method} | {"rag"}]
    if wrong:
        raise bad("--compare", f"unknown method(s) {', '.join(wrong)}; expected some of "
                               f"{', '.join([*(m.value for m in Method), 'rag'])}")
    with_rag = "rag" in names
    methods = [Method(m) for m in names if m != "rag"]
    trace = None
    trace_desc = "none (no edge-llm)"
    if Method.EDGE_LLM in methods:
        path = args.trace or str(default_trace_path(args.model))
        trace = load_trace(path, model)
        prov = trace.provenance
        how = (f"; unmeasured layers: {prov['unmeasured_layers']}, {prov.get('unmeasured_choice', '?')}"
               if "unmeasured_layers" in prov else f"; measured: {prov['measured']}" if "measured" in prov else "")
        trace_desc = f"{display_path(Path(path))} ({prov.get('policy', 'no provenance')}{how})"
    seq = args.seq if args.seq is not None else default_seq(model, trace.sequence_length if trace else None)
    batch = args.batch if args.batch is not None else (trace.batch if trace else 1)
    require_range("--seq", seq, 1, model.max_seq, f"{model.name}'s max_seq")
    require_range("--batch", batch, 1, MAX_BATCH)
    if args.base_bits is not None:
        require_positive("--base-bits", args.base_bits)
    require_range("--lora-rank", args.lora_rank, 1, model.hidden, f"{model.name}'s hidden size")
    if Method.PARTIAL in methods:
        require_range("--partial-layers", args.partial_layers, 1, model.layers, f"{model.name}'s layers")
    bits = base_bits(arch, args.base_bits, used=any(m != Method.EDGE_LLM for m in methods), source="--base-bits")
    if not 0 <= args.latency_tolerance < 1:
        raise bad("--latency-tolerance", f"expected a fraction in [0, 1), got {args.latency_tolerance}")
    weight_bits, weight_sparsity = compression(args, arch, [str(m) for m in methods])
    targets = {"q,v": ("q_proj", "v_proj"), "attention": ("q_proj", "k_proj", "v_proj", "o_proj"),
               "all": (ALL_PROJECTIONS,)}[args.lora_targets]
    st = TuningSettings(seq=seq, batch=batch, lora_rank=args.lora_rank, lora_targets=targets,
                        train_exit_heads=args.exit_heads == "trainable", full_forward=args.forward == "full",
                        recompute=args.recompute,
                        partial_layers=args.partial_layers,
                        base_bits=bits, optimizer=trace.optimizer if trace else "adam", weight_bits=weight_bits,
                        weight_sparsity=weight_sparsity)
    engine = Engine(args.engine)
    searcher = make_mapper(args.mapper, None if args.no_cache else Path(args.cache_dir), args.latency_tolerance)
    if args.overlap != "none" and engine != Engine.ANALYTIC:
        raise bad("--overlap", f"schedules the analytic cost model's tasks; use --engine analytic with --overlap "
                               f"{args.overlap}")
    if not args.overlap_budget > 0:
        raise bad("--overlap-budget", f"expected a positive number of seconds, got {args.overlap_budget}")
    if args.gantt is not None:
        if args.overlap == "none":
            raise bad("--gantt", "draws a step-level schedule: give --overlap greedy or --overlap cpsat")
        if not args.gantt.endswith(".png"):
            raise bad("--gantt", f"writes a PNG picture: expected a path ending in .png, got {args.gantt!r}")
        if not methods:
            raise bad("--gantt", "draws tuning steps; rag has none")
    elif args.gantt_layer is not None:
        raise bad("--gantt-layer", "chooses the layer --gantt draws: give --gantt FILE.png too")
    if args.gantt_layer is not None:
        require_range("--gantt-layer", args.gantt_layer, 0, model.layers - 1, f"{model.name}'s layers")
    overlap = OverlapSettings(scheduler=args.overlap, deterministic_seconds=args.overlap_budget)
    results = api.tune(arch, model, methods, st, trace, engine=engine, searcher=searcher,
                       overlap=overlap) if methods else []
    refuse_infeasible(args, arch.name, [(str(r.method), max(c.ops for c, _ in r.steps), r.infeasible_ops)
                                        for r in results])
    if args.gantt is not None:
        layer = gantt.default_layer(results) if args.gantt_layer is None else args.gantt_layer
        missing = [str(r.method) for r in results if layer not in gantt.layers_of(r)]
        if missing:
            raise bad("--gantt-layer", f"layer {layer} runs in no step of {', '.join(missing)}")
        gantt.write_gantt(Path(args.gantt), arch, results, layer)
    corpus, budget = _corpus(args, seq, batch)
    adapt_rows = adaptation.rows(results, corpus, budget, batch)
    rag_row = None
    if with_rag:
        encoder = load_model(args.encoder)
        require_range("--chunk-tokens", args.chunk_tokens, 1, encoder.max_seq, f"{encoder.name}'s max_seq")
        if corpus is not None and args.chunks is not None:
            raise bad("--chunks", "with --samples the chunks are the corpus split into --chunk-tokens chunks; give one "
                                  "of the two")
        chunks = corpus.chunks(args.chunk_tokens) if corpus is not None else (args.chunks or 10_000)
        require_positive("--chunks", chunks)
        if args.ivf_lists < 0:
            raise bad("--ivf-lists", f"expected 0 (round(sqrt(chunks))) or a positive number of lists, got {args.ivf_lists}")
        rs = RagSettings(chunks=chunks, chunk_tokens=args.chunk_tokens, top_k=1, index=IndexKind(args.index),
                         ivf_lists=args.ivf_lists)
        ix = api.index_rag(arch, encoder, rs, engine=engine)
        refuse_infeasible(args, arch.name, [("rag indexing", len(ix.infeasible_ops), ix.infeasible_ops)])
        rag_row = adaptation.rag_row(ix, rs, encoder.name, budget, corpus)
    header = {"model": model.name, "seq": seq, "batch": batch, "engine": str(engine), "trace": trace_desc,
              "base_bits": st.base_bits, "grad_bits": st.grad_bits, "mapper": args.mapper, "lora_targets": args.lora_targets,
              "exit_heads": args.exit_heads, "forward": args.forward,
              "recompute": args.recompute, "weight_bits": weight_bits, "weight_sparsity": weight_sparsity,
              "overlap": args.overlap}
    unfit = args.allow_unfit
    extra = corpus is not None or budget is not None or rag_row is not None
    if args.format == "json":
        out = tuning.to_json(arch, header, results, allow_unfit=unfit)
        if not extra:
            return out
        data = json.loads(out)
        data["adaptation"] = {"corpus": None if corpus is None else dataclasses.asdict(corpus), "time_budget": budget,
                              "methods": adapt_rows + ([rag_row] if rag_row is not None else [])}
        return json.dumps(data, indent=2)
    if args.format == "csv":
        if with_rag:
            raise bad("--format csv", "has one row per tuning step; rag has no tuning step (use table or json)")
        return tuning.to_csv(arch, results, allow_unfit=unfit)
    parts = [tuning.to_table(arch, header, results, per_layer=args.per_layer, allow_unfit=unfit)] if results else \
        [f"edgesim tune: {model.name} on {arch.name}: rag only (no tuning step)"]
    if extra:
        parts.append(adaptation.text(adapt_rows, rag_row, corpus, budget))
    return "\n\n".join(parts)


def _corpus(args: argparse.Namespace, seq: int, batch: int) -> tuple[Corpus | None, float | None]:
    budget = args.time_budget
    if budget is not None and not budget > 0:
        raise bad("--time-budget", f"expected a positive number of seconds, got {budget}")
    if args.samples is None:
        if args.epochs != 1:
            raise bad("--epochs", "counts passes over a corpus: give --samples too")
        return None, budget
    require_positive("--samples", args.samples)
    require_positive("--epochs", args.epochs)
    return Corpus(samples=args.samples, sample_tokens=seq, epochs=args.epochs, batch=batch), budget
