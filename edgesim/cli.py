"""The `edgesim` command: parse arguments, call the API, write the report. No modelling here."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edgesim import report
from edgesim.api import Engine, Op, SimulationResult, simulate_ops
from edgesim.config import load_arch
from edgesim.errors import ConfigError, Problem
from edgesim.layers import LayerSettings, decoder_layer_forward
from edgesim.mapping import Dataflow
from edgesim.models import load_model
from edgesim.sim import timeline
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
    sim.add_argument("--engine", choices=[e.value for e in Engine], default=None,
                     help="analytic cost model (default) or the tile-level simulator (stalls by cause)")
    sim.add_argument("--timeline", metavar="FILE", help="write the op/layer timeline (.png picture or .csv); implies --engine sim")
    sim.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sim.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
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
                       max_events=300 if len(ops) > 1 else 3000)
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["simulate"]  # with no arguments, run the built-in default
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        if args.command == "simulate":
            text = _simulate(args)
        else:
            build_parser().print_help()
            return 2
    except ConfigError as exc:
        print(f"edgesim: error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "output", None):
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
