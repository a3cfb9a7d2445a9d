"""`edgesim schedule`: search each GEMM's mapping and report it beside the fixed-dataflow baselines.

`-o FILE` writes the chosen mappings (`edgesim.config.mappings`), which `edgesim simulate --mappings` reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edgesim import api
from edgesim.arch import ArchSpec
from edgesim.cli.args import add_hw_args, bad, layer_model, require_positive
from edgesim.config.hardware import load_arch
from edgesim.config.mappings import write_mappings
from edgesim.config.workloads import check_widths, load_gemm_workload, parse_gemm_arg
from edgesim.llm.layers import LayerSettings, decoder_layer_forward
from edgesim.ops import Gemm
from edgesim.report import schedule
from edgesim.search.base import Searcher, SearchResult
from edgesim.search.cache import DEFAULT_CACHE_DIR, CachedSearcher, ScheduleCache
from edgesim.search.factory import SEARCHERS, make_searcher


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "schedule", help="search each GEMM's loop order, tiling and dataflow (CP-SAT, exhaustive, ...) against fixed baselines")
    add_hw_args(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--gemm", metavar="M,N,K", help="a single (MxK)·(KxN) GEMM")
    src.add_argument("--workload", metavar="FILE", help="a GEMM list (.yaml or .csv)")
    src.add_argument("--layer", metavar="MODEL", help="the GEMMs of one decoder layer's forward pass (e.g. llama7b)")
    p.add_argument("--seq", type=int, help="sequence length for --layer (default 512, or the model's max_seq if smaller)")
    p.add_argument("--searcher", choices=SEARCHERS, default="cpsat")
    p.add_argument("--deterministic-limit", dest="deterministic_limit", type=float, default=3.0,
                   metavar="UNITS",
                   help="CP-SAT budget per op in OR-Tools deterministic time units (work done, about a second each; "
                        "not wall-clock, so the answer does not depend on the machine), split over dataflows (default 3)")
    p.add_argument("--raw", action="store_true",
                   help="cpsat: the solver's own answer only (each dataflow's final solution, best of them by the cost "
                        "model), without the neighbour polish, the fixed-dataflow baselines or the heuristic mapping")
    p.add_argument("--budget", type=int, default=2000,
                   help="random search: mappings drawn per op; genetic: trials per op (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random search / genetic / CP-SAT seed (default 0)")
    p.add_argument("--cache-dir", metavar="DIR", default=str(DEFAULT_CACHE_DIR),
                   help=f"schedule cache directory (default {DEFAULT_CACHE_DIR})")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the schedule cache")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    # dest is not "output": edgesim.cli.main writes the report to args.output when that is set
    p.add_argument("-o", "--mappings-out", dest="mappings_out", metavar="FILE",
                   help="write the chosen mappings as JSON (for edgesim simulate --mappings)")
    return p


def _searcher(args: argparse.Namespace) -> Searcher:
    if not args.deterministic_limit > 0:
        raise bad("--deterministic-limit", f"expected a positive number of deterministic time units, got {args.deterministic_limit}")
    require_positive("--budget", args.budget)
    if args.searcher == "cpsat" and not -2**31 <= args.seed < 2**31:
        raise bad("--seed", f"CP-SAT's seed must fit in 32 bits, got {args.seed}")
    if args.searcher in ("genetic", "random") and not 0 <= args.seed < 2**32:
        raise bad("--seed", f"expected a seed in [0, 2^32) for the {args.searcher} searcher, got {args.seed}")
    if args.raw and args.searcher != "cpsat":
        raise bad("--raw", f"only the cpsat searcher has a raw mode, got --searcher {args.searcher}")
    inner = make_searcher(args.searcher, deterministic_limit=args.deterministic_limit, budget=args.budget, seed=args.seed,
                          raw=args.raw)
    return inner if args.no_cache else CachedSearcher(inner, ScheduleCache(Path(args.cache_dir).expanduser()))


def _workload(args: argparse.Namespace, arch: ArchSpec) -> tuple[list[Gemm], str]:
    if args.gemm is not None:
        op = parse_gemm_arg(args.gemm)
        return [op], op.name
    if args.workload is not None:
        wl = load_gemm_workload(args.workload)
        check_widths(wl, arch)
        return list(wl.ops), wl.name
    if args.layer is not None:
        model = layer_model(args)
        ops = [op for op in decoder_layer_forward(model, LayerSettings(seq=args.seq)) if isinstance(op, Gemm)]
        return ops, f"{model.name} decoder layer forward GEMMs (seq {args.seq})"
    raise bad("edgesim schedule", "give one of --gemm M,N,K, --workload FILE or --layer MODEL")


def run(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    ops, name = _workload(args, arch)
    searcher = _searcher(args)
    schedules = api.schedule(arch, ops, searcher)
    rows = schedule.op_rows(schedules)
    head = schedule.totals(arch, name, searcher, rows)
    if args.mappings_out:
        write_mappings(args.mappings_out, arch, searcher.name,
                       [(s.op, s.result.mapping) for s in schedules if isinstance(s.result, SearchResult)])
    if args.format == "json":
        return schedule.to_json(head, rows)
    if args.format == "csv":
        return schedule.to_csv(rows)
    return schedule.to_table(head, rows)
