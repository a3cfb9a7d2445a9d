"""`edgesim infer`: prefill and per-token decode with a tuned model, vanilla LoRA beside Edge-LLM's voting exits."""

from __future__ import annotations

import argparse
from typing import Any

from edgesim import api
from edgesim.cli.args import (
    add_engine_arg,
    add_hw_args,
    add_infeasible_arg,
    bad,
    refuse_infeasible,
    require_positive,
    require_range,
    split_list,
)
from edgesim.config.hardware import base_bits, load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import default_trace_path, load_trace
from edgesim.llm.inference import InferenceSettings
from edgesim.llm.trace import Trace
from edgesim.report import inference
from edgesim.results import Engine


def add_parser(sub: Any) -> None:
    inf = sub.add_parser("infer", help="cost inference with a tuned model: prefill, per-token decode, voting exits")
    add_hw_args(inf)
    inf.add_argument("--model", default="llama7b")
    inf.add_argument("--trace", metavar="FILE", help="Edge-LLM trace (default workloads/traces/<model>_edge_llm.json)")
    inf.add_argument("--compare", default="lora,edge-llm", metavar="M1,M2", help="lora and/or edge-llm (default both)")
    inf.add_argument("--prompt", type=int, help="prompt tokens (default 512, or half the model's max_seq if smaller)")
    inf.add_argument("--generate", type=int, help="generated tokens (default 128, or a quarter of the model's max_seq "
                                                   "if smaller)")
    inf.add_argument("--base-bits", type=int, help="bits of vanilla LoRA's merged weights and activations (default: the "
                                                   "MAC's native width)")
    inf.add_argument("--voting-streams", type=int, choices=[1, 2], default=1,
                     help="edge-llm: 1 runs the adapted stream only (the paper); 2 also runs the frozen backbone "
                          "beside it in every layer, with its own KV cache (the authors' released code)")
    add_engine_arg(inf)
    add_infeasible_arg(inf)
    inf.add_argument("--format", choices=["table", "json"], default="table")
    inf.add_argument("-o", "--output", metavar="FILE")


def run(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    model = load_model(args.model)
    methods = split_list("--compare", args.compare)
    if not methods or any(m not in ("lora", "edge-llm") for m in methods):
        raise bad("--compare", f"expected lora and/or edge-llm, got {args.compare!r}")
    if args.prompt is None:
        args.prompt = min(512, model.max_seq // 2)
    if args.generate is None:
        args.generate = min(128, model.max_seq // 4)
    for flag, v in (("--prompt", args.prompt), ("--generate", args.generate)):
        require_positive(flag, v)
    if args.base_bits is not None:
        require_positive("--base-bits", args.base_bits)
    require_range("--prompt plus --generate", args.prompt + args.generate, 2, model.max_seq, f"{model.name}'s max_seq")
    bits = base_bits(arch, args.base_bits, used="lora" in methods, source="--base-bits")
    st = InferenceSettings(prompt=args.prompt, generate=args.generate, base_bits=bits,
                           voting_streams=args.voting_streams)
    traces: list[Trace | None] = [load_trace(args.trace or str(default_trace_path(args.model)), model)
                                  if m == "edge-llm" else None for m in methods]
    results = api.infer(arch, model, st, traces, engine=Engine(args.engine))
    refuse_infeasible(args, arch.name, [(r.label, r.ops, r.infeasible_ops) for r in results])
    if args.format == "json":
        return inference.to_json(arch, model, st, results)
    return inference.to_table(arch, model, st, results)
