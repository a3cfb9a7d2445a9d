"""`edgesim schedule`: search each GEMM's mapping and report it beside the fixed-dataflow baselines.

`-o FILE` writes the chosen mappings (`edgesim.config.mappings`), which `edgesim simulate --mappings` reads.

`--nest` searches the loop-nest mapspace instead (`edgesim.nestspace`: a spatial unrolling over every array axis,
the temporal loops' order and each operand's tile at every memory), scored by the loop-nest model
(`edgesim.cost.nest`) on the hardware's hierarchy: the YAML's `array:` and `memories:` when it has them (e.g.
hw_configs/edge_tpu_like.yaml, 8x8x4x4 broadcast), else the three-level view as a 2-axis systolic array. With it:
- `--searcher` is auto (default: random search, then CP-SAT's exact model on the best unrollings of a broadcast
  array), cpsat (broadcast arrays only), random or genetic; the three-level-only searchers (exhaustive, fixed-*)
  are an error, as are the nest-only ones (auto) without --nest;
- `--spatial "D1=n8 D2=k8 D3=m4 D4=m4"` fixes the spatial unrolling (default: every one-dim-per-axis unrolling);
- budgets: `--deterministic-limit` (cpsat, auto's CP-SAT phase), `--budget` (points for random and auto's random
  phase, default 20,000; trials for genetic, default 5,000), `--seed`;
- there is no schedule cache (`--cache-dir`, `--no-cache` are ignored) and no mappings file or raw mode yet (`-o`,
  `--raw` are errors);
- an op the loop-nest model cannot cost (zero skipping, Bit Fusion packing) or with no feasible nest is reported NOT
  MAPPED with the reason and left out of the totals, marked INCOMPLETE (exit status 0, as for an infeasible op of
  the three-level search).
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
from edgesim.cost.hierarchy import of_arch
from edgesim.hierarchy import Hierarchy, Interconnect
from edgesim.llm.layers import LayerSettings, decoder_layer_forward
from edgesim.loopnest import DIMS
from edgesim.nestspace import Spatial
from edgesim.ops import Gemm
from edgesim.report import nest_schedule, schedule
from edgesim.search.base import Searcher, SearchResult
from edgesim.search.cache import DEFAULT_CACHE_DIR, CachedSearcher, ScheduleCache
from edgesim.search.factory import SEARCHERS, make_searcher

THREE_LEVEL_BUDGET = 2000
# every name --searcher takes: the three-level searchers, then the loop-nest ones not among them
SEARCHER_CHOICES = (*SEARCHERS, *(s for s in api.NEST_SEARCHERS if s not in SEARCHERS))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "schedule", help="search each GEMM's loop order, tiling and dataflow (CP-SAT, exhaustive, ...) against fixed baselines")
    add_hw_args(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--gemm", metavar="M,N,K", help="a single (MxK)·(KxN) GEMM")
    src.add_argument("--workload", metavar="FILE", help="a GEMM list (.yaml or .csv)")
    src.add_argument("--layer", metavar="MODEL", help="the GEMMs of one decoder layer's forward pass (e.g. llama7b)")
    p.add_argument("--seq", type=int, help="sequence length for --layer (default 512, or the model's max_seq if smaller)")
    p.add_argument("--nest", action="store_true",
                   help="search the loop-nest mapspace (spatial unrolling over every array axis, loop order, a tile per "
                        "operand and memory) with the loop-nest model, on the hardware's array: and memories: (or its "
                        "three-level view as a 2-axis systolic array); no fixed-dataflow baselines, no schedule cache")
    p.add_argument("--searcher", choices=SEARCHER_CHOICES, default=None, metavar="NAME",
                   help=f"three-level: {', '.join(SEARCHERS)} (default cpsat); with --nest: "
                        f"{', '.join(api.NEST_SEARCHERS)} (default auto: random search, then CP-SAT's exact model on "
                        "the best unrollings; cpsat takes broadcast arrays only)")
    p.add_argument("--spatial", metavar="UNROLLING",
                   help="with --nest: fix the spatial unrolling, space-separated AXIS=UNROLL, one per array axis, UNROLL "
                        "a dim (m, n, k) and a factor or several joined by ',', e.g. \"D1=n8 D2=k8 D3=m4 D4=m4\" or "
                        "D1=k4,n2 (default: every unrolling of one dim per axis)")
    p.add_argument("--deterministic-limit", dest="deterministic_limit", type=float, default=3.0,
                   metavar="UNITS",
                   help="CP-SAT budget per op in OR-Tools deterministic time units (work done, about a second each; "
                        "not wall-clock, so the answer does not depend on the machine), split over dataflows (with "
                        "--nest: over spatial unrollings; cpsat and auto) (default 3)")
    p.add_argument("--raw", action="store_true",
                   help="cpsat: the solver's own answer only (each dataflow's final solution, best of them by the cost "
                        "model), without the neighbour polish, the fixed-dataflow baselines or the heuristic mapping "
                        "(not with --nest)")
    p.add_argument("--budget", type=int, default=None,
                   help="random search: mappings drawn per op; genetic: trials per op (default 2000); with --nest: "
                        f"points for random and auto's random phase (default {api.NEST_BUDGETS['random']:,}), trials "
                        f"for genetic (default {api.NEST_BUDGETS['genetic']:,})")
    p.add_argument("--seed", type=int, default=0, help="random search / genetic / CP-SAT seed (default 0)")
    p.add_argument("--cache-dir", metavar="DIR", default=str(DEFAULT_CACHE_DIR),
                   help=f"schedule cache directory (default {DEFAULT_CACHE_DIR}; ignored with --nest, which has no cache)")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor write the schedule cache (ignored with --nest, which has no cache)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    # dest is not "output": edgesim.cli.main writes the report to args.output when that is set
    p.add_argument("-o", "--mappings-out", dest="mappings_out", metavar="FILE",
                   help="write the chosen mappings as JSON (for edgesim simulate --mappings; not with --nest)")
    return p


def _searcher(args: argparse.Namespace) -> Searcher:
    if args.searcher is None:
        args.searcher = "cpsat"
    if args.searcher not in SEARCHERS:
        raise bad("--searcher", f"{args.searcher} searches the loop-nest mapspace: add --nest, or use a three-level "
                                f"searcher ({', '.join(SEARCHERS)})")
    if args.spatial is not None:
        raise bad("--spatial", "fixes the loop-nest model's spatial unrolling: only with --nest")
    if args.budget is None:
        args.budget = THREE_LEVEL_BUDGET
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


def parse_spatial(text: str, h: Hierarchy) -> Spatial:
    """`--spatial`: space-separated AXIS=UNROLL, one per array axis of `h`, UNROLL = dimFACTOR[,dimFACTOR...]."""
    sizes = {a.name: a.size for a in h.axes}
    expected = (f"expected space-separated AXIS=UNROLL, one per array axis, UNROLL a dim ({', '.join(DIMS)}) and a "
                f"positive factor, or several joined by ',' (e.g. {h.axes[0].name}=k4,n2), the factors of an axis "
                f"multiplying to at most its size; this hardware's axes: "
                + ", ".join(f"{a.name} ({a.size})" for a in h.axes))

    def fail(token: str, what: str) -> Exception:
        return bad("--spatial", f"{token!r}: {what}; {expected}")

    got: dict[str, tuple[tuple[str, int], ...]] = {}
    for token in text.split():
        axis, eq, unroll = token.partition("=")
        if not eq or not unroll:
            raise fail(token, "not AXIS=UNROLL")
        if axis not in sizes:
            raise fail(token, f"unknown array axis {axis!r}")
        if axis in got:
            raise fail(token, f"axis {axis} given twice")
        loops = []
        used = 1
        for item in unroll.split(","):
            dim, digits = item[:1], item[1:]
            if dim not in DIMS:
                raise fail(token, f"{item!r}: the dim must be one of {', '.join(DIMS)}")
            if not digits.isdigit() or int(digits) < 1:
                raise fail(token, f"{item!r}: the factor must be a positive integer")
            used *= int(digits)
            if int(digits) > 1:
                loops.append((dim, int(digits)))
        if used > sizes[axis]:
            raise fail(token, f"unrolls {used} on axis {axis}, which has {sizes[axis]} PEs")
        got[axis] = tuple(loops)
    missing = [a for a in sizes if a not in got]
    if missing:
        raise fail(text, f"missing axis {', '.join(missing)}")
    return tuple(got[a.name] for a in h.axes)


def _run_nest(args: argparse.Namespace, arch: ArchSpec) -> str:
    """`--nest`: check the flags, search each op's loop nest, report."""
    if args.searcher is None:
        args.searcher = "auto"
    if args.searcher not in api.NEST_SEARCHERS:
        raise bad("--searcher", f"{args.searcher} is a three-level searcher; with --nest the searchers are "
                                f"{', '.join(api.NEST_SEARCHERS)} (default auto), or drop --nest")
    if args.raw:
        raise bad("--raw", "the loop-nest searchers have no raw mode; drop --raw or --nest")
    if args.mappings_out:
        raise bad("-o", "the loop-nest search writes no mappings file yet (edgesim simulate --mappings reads "
                        "three-level mappings only); drop -o or --nest")
    h = of_arch(arch)
    if args.searcher == "cpsat" and h.interconnect != Interconnect.BROADCAST:
        raise bad("--searcher", f"cpsat with --nest: the exact loop-nest model covers broadcast arrays, and "
                                f"{arch.name} is a {h.interconnect} array; use --searcher auto (random search there), "
                                "random or genetic, or drop --nest for the three-level cpsat")
    if not args.deterministic_limit > 0:
        raise bad("--deterministic-limit", f"expected a positive number of deterministic time units, got {args.deterministic_limit}")
    if args.budget is not None:
        require_positive("--budget", args.budget)
    lo = -2**31 if args.searcher == "cpsat" else 0
    hi = 2**32 if args.searcher in ("random", "genetic") else 2**31
    if not lo <= args.seed < hi:
        raise bad("--seed", f"expected a seed in [{lo}, {hi}) for the {args.searcher} searcher with --nest "
                            f"(CP-SAT's seed is 32-bit signed), got {args.seed}")
    spatial = parse_spatial(args.spatial, h) if args.spatial is not None else None
    ops, name = _workload(args, arch)
    schedules = api.schedule_nests(arch, ops, searcher=args.searcher, deterministic_limit=args.deterministic_limit,
                                   budget=args.budget, seed=args.seed, spatial=spatial)
    settings: dict[str, Any] = {"seed": args.seed, "spatial": args.spatial or "default (every one-dim-per-axis unrolling)"}
    if args.searcher in ("auto", "cpsat"):
        settings["deterministic_limit"] = args.deterministic_limit
    if args.searcher != "cpsat":
        settings["points" if args.searcher != "genetic" else "trials"] = (
            api.NEST_BUDGETS[args.searcher] if args.budget is None else args.budget)
    rows = nest_schedule.op_rows(h, schedules, args.searcher)
    head = nest_schedule.totals(arch, h, name, args.searcher, settings, rows)
    if args.format == "json":
        return nest_schedule.to_json(head, rows)
    if args.format == "csv":
        return nest_schedule.to_csv(rows)
    return nest_schedule.to_table(head, rows)


def run(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    if args.nest:
        return _run_nest(args, arch)
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
