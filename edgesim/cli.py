"""The `edgesim` command: parse arguments, call the API, write the report. No modelling here."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edgesim import report
from edgesim.api import simulate_gemms
from edgesim.config import load_arch
from edgesim.errors import ConfigError
from edgesim.mapping import Dataflow
from edgesim.ops import Gemm
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
    sim.add_argument("--dataflow", choices=[d.value for d in Dataflow], help="fix the dataflow (default: best of all)")
    sim.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sim.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    return parser


def _simulate(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    ops: tuple[Gemm, ...]
    if args.gemm:
        op = parse_gemm_arg(args.gemm)
        ops, name = (op,), op.name
    else:
        wl = load_gemm_workload(args.workload or DEFAULT_WORKLOAD)
        ops, name = wl.ops, wl.name
    res = simulate_gemms(arch, ops, workload_name=name, dataflow=Dataflow(args.dataflow) if args.dataflow else None)
    return {"table": report.to_table, "csv": report.to_csv, "json": report.to_json}[args.format](res)


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
