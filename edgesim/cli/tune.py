"""`edgesim tune` (and plain `edgesim`): one tuning step per method, time, energy, traffic and peak memory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edgesim import api
from edgesim.cli.args import (
    add_engine_arg,
    add_hw_args,
    add_infeasible_arg,
    add_output_args,
    bad,
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
from edgesim.llm.layers import ALL_PROJECTIONS
from edgesim.llm.step import RECOMPUTE_CHOICES, TuningSettings, default_seq
from edgesim.methods import Method
from edgesim.report import tuning
from edgesim.results import Engine
from edgesim.search.cache import DEFAULT_CACHE_DIR
from edgesim.search.factory import MAPPERS, make_mapper


def add_parser(sub: Any) -> None:
    tune = sub.add_parser("tune", help="cost one tuning step of an LLM per method: time, energy, peak memory")
    add_hw_args(tune)
    tune.add_argument("--model", default="llama7b", help="a model in workloads/models/ or a model YAML (default llama7b)")
    tune.add_argument("--method", choices=[m.value for m in Method], default="edge-llm")
    tune.add_argument("--compare", metavar="M1,M2,...", help="several methods side by side, e.g. full,lora,qlora,partial,edge-llm")
    tune.add_argument("--trace", metavar="FILE", help="Edge-LLM trace (JSON, docs/trace-format.md); "
                                                      "default workloads/traces/<model>_edge_llm.json")
    tune.add_argument("--seq", type=int, help="sequence length (default: the trace's, else 512 or the model's max_seq if smaller)")
    tune.add_argument("--batch", type=int, help="batch (default: the trace's, else 1)")
    tune.add_argument("--lora-rank", type=int, default=8,
                      help="LoRA rank of the vanilla methods (default 8; edge-llm uses each layer's rank from its trace)")
    tune.add_argument("--lora-targets", choices=["q,v", "all"], default="q,v",
                      help="projections with LoRA adapters: q and v (the paper's and LoRA's default) or all of "
                           "every layer (attention and MLP, as many later recipes do)")
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
    tune.add_argument("--per-layer", action="store_true", help="add a table of seconds per layer")
    add_infeasible_arg(tune)
    tune.add_argument("--allow-unfit", action="store_true",
                      help="give ratios against methods whose peak memory exceeds the device's DRAM (default: such a "
                           "method says 'does not fit' instead of a ratio)")
    add_output_args(tune)


def run(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    model = load_model(args.model)
    names = [args.method] if args.compare is None else split_list("--compare", args.compare)
    if not names:
        raise bad("--compare", f"expected comma-separated methods, e.g. lora,edge-llm, got {args.compare!r}")
    wrong = [m for m in names if m not in {x.value for x in Method}]
    if wrong:
        raise bad("--compare", f"unknown method(s) {', '.join(wrong)}; expected some of {', '.join(m.value for m in Method)}")
    methods = [Method(m) for m in names]
    trace = None
    trace_desc = "none (no edge-llm)"
    if Method.EDGE_LLM in methods:
        path = args.trace or str(default_trace_path(args.model))
        trace = load_trace(path, model)
        trace_desc = f"{display_path(Path(path))} ({trace.provenance.get('policy', 'no provenance')}; unmeasured layers: " \
                     f"{trace.provenance.get('unmeasured_layers', '?')}, {trace.provenance.get('unmeasured_choice', '?')})"
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
    targets = ("q_proj", "v_proj") if args.lora_targets == "q,v" else (ALL_PROJECTIONS,)
    st = TuningSettings(seq=seq, batch=batch, lora_rank=args.lora_rank, lora_targets=targets,
                        train_exit_heads=args.exit_heads == "trainable", full_forward=args.forward == "full",
                        recompute=args.recompute,
                        partial_layers=args.partial_layers,
                        base_bits=bits, optimizer=trace.optimizer if trace else "adam")
    engine = Engine(args.engine)
    searcher = make_mapper(args.mapper, None if args.no_cache else Path(args.cache_dir), args.latency_tolerance)
    results = api.tune(arch, model, methods, st, trace, engine=engine, searcher=searcher)
    refuse_infeasible(args, arch.name, [(str(r.method), max(c.ops for c, _ in r.steps), r.infeasible_ops)
                                        for r in results])
    header = {"model": model.name, "seq": seq, "batch": batch, "engine": str(engine), "trace": trace_desc,
              "base_bits": st.base_bits, "grad_bits": st.grad_bits, "mapper": args.mapper, "lora_targets": args.lora_targets,
              "exit_heads": args.exit_heads, "forward": args.forward,
              "recompute": args.recompute}
    unfit = args.allow_unfit
    if args.format == "json":
        return tuning.to_json(arch, header, results, allow_unfit=unfit)
    if args.format == "csv":
        return tuning.to_csv(arch, results, allow_unfit=unfit)
    return tuning.to_table(arch, header, results, per_layer=args.per_layer, allow_unfit=unfit)
