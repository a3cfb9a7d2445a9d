"""The `edgesim` command: parse arguments, call the API, write the report. No modelling here."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from edgesim import cli_schedule, report, report_tune
from edgesim.api import Engine, Op, SimulationResult, simulate_ops
from edgesim.config import display_path, load_arch
from edgesim.errors import ConfigError, Problem
from edgesim.frontend import torch_cli
from edgesim.frontend.export import edge_llm_trace, write_trace
from edgesim.frontend.luc import UNMEASURED_CHOICES, load_sensitivity, luc_sparsity
from edgesim.inference import InferenceSettings, run_inference
from edgesim.layers import LayerSettings, decoder_layer_forward
from edgesim.mapping import Dataflow
from edgesim.models import load_model
from edgesim.search.auto import AutoSearcher
from edgesim.search.base import Searcher
from edgesim.search.cache import DEFAULT_CACHE_DIR, CachedSearcher, ScheduleCache
from edgesim.search.cpsat import CpSatSearcher
from edgesim.search.exhaustive import ExhaustiveSearcher
from edgesim.search.fixed import FixedSearcher
from edgesim.sim import timeline
from edgesim.trace import TRACE_DIR, check_against, load_trace, parse_trace
from edgesim.tune import run_method
from edgesim.tuning import Method, TuningSettings
from edgesim.workload_io import DEFAULT_WORKLOAD, load_gemm_workload, parse_gemm_arg


def _add_hw_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hw", metavar="FILE", help="hardware YAML, or a name in hw_configs/ (default: edge_npu_16x16)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a hardware field, e.g. --set pe_array.rows=8 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgesim", description="Dataflow simulator for edge LLM-adaptation accelerators.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command")
    sim = sub.add_parser("simulate", help="run a GEMM workload on an accelerator and report cycles, energy, traffic")
    _add_hw_args(sim)
    src = sim.add_mutually_exclusive_group()
    src.add_argument("--workload", metavar="FILE", help="GEMM list (.yaml or .csv); default: a LLaMA-7B LUC layer")
    src.add_argument("--gemm", metavar="M,N,K", help="a single (MxK)·(KxN) GEMM")
    src.add_argument("--layer", metavar="MODEL", help="one decoder layer's forward ops of a model in workloads/models/ "
                                                      "(e.g. llama7b) or a model YAML")
    sim.add_argument("--seq", type=int, default=512, help="sequence length for --layer (default 512)")
    sim.add_argument("--batch", type=int, default=1, help="batch for --layer (default 1)")
    sim.add_argument("--lora-rank", type=int, default=0, help="LoRA rank on q_proj and v_proj for --layer (default 0)")
    sim.add_argument("--dataflow", choices=[d.value for d in Dataflow], help="fix the dataflow (default: best of all)")
    sim.add_argument("--mappings", metavar="FILE", help="use the mappings `edgesim schedule -o FILE` wrote (by op name or "
                                                        "signature); ops not in it get the heuristic mapping")
    sim.add_argument("--engine", choices=[e.value for e in Engine], default=None,
                     help="analytic cost model (default) or the tile-level simulator (stalls by cause)")
    sim.add_argument("--timeline", metavar="FILE", help="write the op/layer timeline (.png picture or .csv); implies --engine sim")
    sim.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sim.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")

    tune = sub.add_parser("tune", help="cost one tuning step of an LLM per method: time, energy, peak memory")
    _add_hw_args(tune)
    tune.add_argument("--model", default="llama7b", help="a model in workloads/models/ or a model YAML (default llama7b)")
    tune.add_argument("--method", choices=[m.value for m in Method], default="edge-llm")
    tune.add_argument("--compare", metavar="M1,M2,...", help="several methods side by side, e.g. full,lora,qlora,partial,edge-llm")
    tune.add_argument("--trace", metavar="FILE", help="Edge-LLM trace (JSON, docs/trace-format.md); "
                                                      "default workloads/traces/<model>_edge_llm.json")
    tune.add_argument("--seq", type=int, help="sequence length (default: the trace's, else 512)")
    tune.add_argument("--batch", type=int, help="batch (default: the trace's, else 1)")
    tune.add_argument("--lora-rank", type=int, default=8)
    tune.add_argument("--partial-layers", type=int, default=8, help="layers trained by 'partial' (default 8)")
    tune.add_argument("--base-bits", type=int, default=16, help="weight/activation bits of the vanilla methods (default 16)")
    tune.add_argument("--engine", choices=[e.value for e in Engine], default="analytic")
    tune.add_argument("--mapper", choices=MAPPERS, default="auto",
                      help="how GEMMs are mapped: the scheduler (auto = exhaustive where the mapspace has <= 2M points, "
                           "else CP-SAT; or a named searcher), or heuristic (the coarse grid)")
    tune.add_argument("--latency-tolerance", type=float, default=0.02, metavar="FRACTION",
                      help="scheduler: among mappings within this fraction of the fastest (and never slower than the "
                           "best fixed dataflow), take the least energy (default 0.02; 0 = fastest only)")
    tune.add_argument("--cache-dir", metavar="DIR", default=str(DEFAULT_CACHE_DIR),
                      help=f"schedule cache (default {DEFAULT_CACHE_DIR})")
    tune.add_argument("--no-cache", action="store_true", help="neither read nor write the schedule cache")
    tune.add_argument("--per-layer", action="store_true", help="add a table of seconds per layer")
    tune.add_argument("--format", choices=["table", "csv", "json"], default="table")
    tune.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")

    inf = sub.add_parser("infer", help="cost inference with a tuned model: prefill, per-token decode, voting exits")
    _add_hw_args(inf)
    inf.add_argument("--model", default="llama7b")
    inf.add_argument("--trace", metavar="FILE", help="Edge-LLM trace (default workloads/traces/<model>_edge_llm.json)")
    inf.add_argument("--compare", default="lora,edge-llm", metavar="M1,M2", help="lora and/or edge-llm (default both)")
    inf.add_argument("--prompt", type=int, default=512, help="prompt tokens (default 512)")
    inf.add_argument("--generate", type=int, default=128, help="generated tokens (default 128)")
    inf.add_argument("--base-bits", type=int, default=16)
    inf.add_argument("--engine", choices=[e.value for e in Engine], default="analytic")
    inf.add_argument("--format", choices=["table", "json"], default="table")
    inf.add_argument("-o", "--output", metavar="FILE")

    cli_schedule.add_parser(sub)

    tr = sub.add_parser("trace", help="make an Edge-LLM trace: from measured sensitivities (--from-mse) or by "
                                      "measuring a PyTorch model (--measure; needs the 'frontend' extra)")
    tr.add_argument("--from-mse", metavar="CSV", help="layer,pruning_ratio,sample,output_mse measurements")
    tr.add_argument("--model", default="llama7b")
    tr.add_argument("--target", type=float, default=0.5, help="mean sparsity (default 0.5)")
    tr.add_argument("--unmeasured", choices=list(UNMEASURED_CHOICES), default="refuse",
                    help="what to do with layers whose measurements are all zero (default: refuse)")
    tr.add_argument("--low-bit-layers", default="", metavar="I,J,...", help="layers at 4 bits (others 8)")
    tr.add_argument("--stride", type=int, default=8, help="layers per tuning window / exit spacing (default 8)")
    tr.add_argument("--seq", type=int, default=512)
    tr.add_argument("-o", "--output", metavar="FILE", required=True)
    torch_cli.add_arguments(tr)  # --measure and its options; torch is imported only when measuring
    return parser


def _workload(args: argparse.Namespace) -> tuple[list[Op], str]:
    if args.gemm:
        op = parse_gemm_arg(args.gemm)
        return [op], op.name
    if args.layer:
        for flag in ("seq", "batch"):
            if getattr(args, flag) < 1:
                raise ConfigError(Problem(source=f"--{flag}", path="", message=f"expected a positive integer, got {getattr(args, flag)}"))
        if args.lora_rank < 0:
            raise ConfigError(Problem(source="--lora-rank", path="", message=f"expected >= 0, got {args.lora_rank}"))
        model = load_model(args.layer)
        st = LayerSettings(seq=args.seq, batch=args.batch, lora_rank=args.lora_rank)
        return decoder_layer_forward(model, st), f"{model.name} decoder layer forward (seq {args.seq}, batch {args.batch})"
    wl = load_gemm_workload(args.workload or DEFAULT_WORKLOAD)
    return list(wl.ops), wl.name


def _simulate(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    ops, name = _workload(args)
    engine = Engine(args.engine) if args.engine else (Engine.SIM if args.timeline else Engine.ANALYTIC)
    if args.timeline and engine != Engine.SIM:
        raise ConfigError(Problem(source="--timeline", path="", message="needs --engine sim (the analytic model has no timeline)"))
    res = simulate_ops(arch, ops, workload_name=name, engine=engine,
                       dataflow=Dataflow(args.dataflow) if args.dataflow else None,
                       max_events=300 if len(ops) > 1 else 3000,
                       mappings=cli_schedule.load_mappings(args.mappings) if args.mappings else None)
    if args.timeline:
        _write_timeline(res, args.timeline)
    return {"table": report.to_table, "csv": report.to_csv, "json": report.to_json}[args.format](res)


def _write_timeline(res: SimulationResult, path: str) -> None:
    if path.lower().endswith(".csv"):
        rows, _ = timeline.timeline_rows(res)
        Path(path).write_text(timeline.to_csv(rows), encoding="utf-8")
    elif path.lower().endswith(".png"):
        timeline.plot(res, path)
    else:
        raise ConfigError(Problem(source=f"--timeline {path}", path="", message="expected a file name ending in .png or .csv"))
    print(f"wrote {path}", file=sys.stderr)


MAPPERS = ("auto", "exhaustive", "cpsat", "fixed-ws", "fixed-os", "fixed-is", "heuristic")


def make_mapper(name: str, cache_dir: Path | None, tolerance: float = 0.0) -> Searcher | None:
    """A searcher for tuning steps (None: the heuristic mapper), behind the schedule cache when given."""
    inner: Searcher
    if not 0 <= tolerance < 1:
        raise ConfigError(Problem(source="--latency-tolerance", path="", message=f"expected a fraction in [0, 1), got {tolerance}"))
    if name == "heuristic":
        return None
    if name == "auto":
        inner = AutoSearcher(tolerance=tolerance)
    elif name == "exhaustive":
        inner = ExhaustiveSearcher(tolerance=tolerance)
    elif name == "cpsat":
        inner = CpSatSearcher(time_limit_s=3.0, workers=2, tolerance=tolerance)
    else:
        inner = FixedSearcher(Dataflow(name.removeprefix("fixed-")))
    return inner if cache_dir is None else CachedSearcher(inner, ScheduleCache(directory=cache_dir))


def _tune(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    model = load_model(args.model)
    methods = [args.method] if not args.compare else [m.strip() for m in args.compare.split(",") if m.strip()]
    bad = [m for m in methods if m not in {x.value for x in Method}]
    if bad:
        raise ConfigError(Problem(source="--compare", path="", message=f"unknown method(s) {', '.join(bad)}; "
                                  f"expected some of {', '.join(m.value for m in Method)}"))
    trace = None
    trace_desc = "none (no edge-llm)"
    if Method.EDGE_LLM in methods:
        path = args.trace or str(TRACE_DIR / f"{Path(args.model).stem}_edge_llm.json")
        trace = load_trace(path, model)
        trace_desc = f"{display_path(Path(path))} ({trace.provenance.get('policy', 'no provenance')}; unmeasured layers: " \
                     f"{trace.provenance.get('unmeasured_layers', '?')}, {trace.provenance.get('unmeasured_choice', '?')})"
    seq = args.seq or (trace.sequence_length if trace else 512)
    batch = args.batch or (trace.batch if trace else 1)
    for flag, v in (("--seq", seq), ("--batch", batch), ("--base-bits", args.base_bits)):
        if v < 1:
            raise ConfigError(Problem(source=flag, path="", message=f"expected a positive integer, got {v}"))
    st = TuningSettings(seq=seq, batch=batch, lora_rank=args.lora_rank, partial_layers=args.partial_layers,
                        base_bits=args.base_bits, optimizer=trace.optimizer if trace else "adam")
    engine = Engine(args.engine)
    searcher = make_mapper(args.mapper, None if args.no_cache else Path(args.cache_dir), args.latency_tolerance)
    results = [run_method(arch, model, Method(m), st, trace, engine, searcher) for m in methods]
    header = {"model": model.name, "seq": seq, "batch": batch, "engine": str(engine), "trace": trace_desc,
              "base_bits": st.base_bits, "grad_bits": st.grad_bits, "mapper": args.mapper}
    if args.format == "json":
        return report_tune.to_json(arch, header, results)
    if args.format == "csv":
        return report_tune.to_csv(arch, results)
    return report_tune.to_table(arch, header, results, per_layer=args.per_layer)


def _infer(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    model = load_model(args.model)
    methods = [m.strip() for m in args.compare.split(",") if m.strip()]
    if not methods or any(m not in ("lora", "edge-llm") for m in methods):
        raise ConfigError(Problem(source="--compare", path="", message=f"expected lora and/or edge-llm, got {args.compare!r}"))
    for flag, v in (("--prompt", args.prompt), ("--generate", args.generate), ("--base-bits", args.base_bits)):
        if v < 1:
            raise ConfigError(Problem(source=flag, path="", message=f"expected a positive integer, got {v}"))
    st = InferenceSettings(prompt=args.prompt, generate=args.generate, base_bits=args.base_bits)
    results = []
    for m in methods:
        trace = None
        if m == "edge-llm":
            trace = load_trace(args.trace or str(TRACE_DIR / f"{Path(args.model).stem}_edge_llm.json"), model)
            check_against(trace, arch)
        results.append(run_inference(arch, model, st, trace, Engine(args.engine)))
    if args.format == "json":
        return json.dumps({"model": model.name, "hardware": arch.name, "prompt": st.prompt, "generate": st.generate,
                           "methods": [dataclasses.asdict(r) for r in results]}, indent=2)
    rows = [{"method": r.label, "prefill s": f"{r.prefill_seconds:,.2f}", "decode s/token": f"{r.decode_seconds_per_token:,.3f}",
             "tokens/s": f"{r.tokens_per_second:,.2f}", "energy mJ/token": f"{r.energy_pj_per_token / 1e9:,.1f}",
             "weights GiB": f"{r.weight_bytes / 2**30:,.2f}", "KV cache GiB": f"{r.kv_cache_bytes / 2**30:,.3f}",
             "peak GiB": f"{r.peak_bytes / 2**30:,.2f}", "fits": "yes" if r.peak_bytes <= arch.dram.capacity_bytes else "NO"}
            for r in results]
    import pandas as pd

    return (f"edgesim infer: {model.name}, prompt {st.prompt}, {st.generate} generated tokens, on {arch.name}\n\n"
            + pd.DataFrame(rows).to_string(index=False)
            + "\n\ndecode: mean over the generated tokens; edge-llm keeps weights compressed, runs the LoRA stream "
              "and every exit head, and votes (DESIGN.md 2(b)).")


def _trace(args: argparse.Namespace) -> str:
    if args.measure and args.from_mse:
        raise ConfigError(Problem(source="edgesim trace", path="", message="give --from-mse CSV or --measure, not both"))
    if args.measure:
        return torch_cli.run(args)
    if not args.from_mse:
        raise ConfigError(Problem(source="edgesim trace", path="", message="give --from-mse CSV (measurements) or "
                                  "--measure small|module|hf-llama (measure a PyTorch model)"))
    model = load_model(args.model)
    df = load_sensitivity(args.from_mse)
    luc = luc_sparsity(df, target=args.target, unmeasured=args.unmeasured, source=args.from_mse)
    if len(luc.sparsity) != model.layers:
        raise ConfigError(Problem(source=args.from_mse, path="layer",
                                  message=f"{len(luc.sparsity)} layers measured but {model.name} has {model.layers}"))
    try:
        low = tuple(int(x) for x in args.low_bit_layers.split(",") if x.strip())
    except ValueError:
        raise ConfigError(Problem(source="--low-bit-layers", path="", message=f"expected comma-separated layer indices, "
                                  f"got {args.low_bit_layers!r}")) from None
    prov = {"tool": "edgesim trace", "policy": "Edge-LLM LUC formula (DESIGN.md 2(a))", "data": Path(args.from_mse).name,
            "target_sparsity": args.target, "unmeasured_layers": ",".join(map(str, luc.unmeasured)) or "none",
            "unmeasured_choice": luc.choice, "low_bit_layers": args.low_bit_layers or "none"}
    data = edge_llm_trace(model, luc.sparsity, low_bit_layers=low, stride=args.stride, seq=args.seq, provenance=prov)
    load_check = parse_trace(data, args.output, model)  # what we write must load
    write_trace(data, args.output)
    return (f"wrote {args.output}: {model.name}, {len(load_check.policies)} layers, mean sparsity "
            f"{sum(luc.sparsity) / len(luc.sparsity):.3f}, unmeasured layers: {prov['unmeasured_layers']} "
            f"({luc.choice}), {len(load_check.phases)} phases")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        # the main job: an Edge-LLM tuning step of LLaMA-7B on the default accelerator, vanilla LoRA beside it
        argv = ["tune", "--compare", "lora,edge-llm"]
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        if args.command == "simulate":
            text = _simulate(args)
        elif args.command == "tune":
            text = _tune(args)
        elif args.command == "infer":
            text = _infer(args)
        elif args.command == "schedule":
            text = cli_schedule.run(args)
        elif args.command == "trace":
            print(_trace(args))
            return 0
        else:
            build_parser().print_help()
            return 2
    except ConfigError as exc:
        print(f"edgesim: error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "output", None):
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    try:
        print(text)
    except BrokenPipeError:  # e.g. `edgesim tune | head`: the reader left, nothing is wrong
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
