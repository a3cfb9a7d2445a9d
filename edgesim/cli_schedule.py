"""The `edgesim schedule` subcommand: search each GEMM's mapping and report it beside the fixed baselines.

Units: cycles, pJ and bytes per op and in total (the same totals as `edgesim simulate --format json`);
search time in seconds. `-o FILE` writes the chosen mappings as JSON; `load_mappings` reads them back.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from edgesim.arch import ArchSpec
from edgesim.config import load_arch
from edgesim.errors import ConfigError, Infeasible, Problem
from edgesim.layers import LayerSettings, decoder_layer_forward
from edgesim.mapping import DATAFLOWS, Mapping
from edgesim.models import load_model
from edgesim.ops import Gemm
from edgesim.search.base import Searcher, SearchResult
from edgesim.search.cache import DEFAULT_CACHE_DIR, CachedSearcher, ScheduleCache, mapping_from_dict, mapping_to_dict, signature_key
from edgesim.search.cpsat import CpSatSearcher
from edgesim.search.exhaustive import ExhaustiveSearcher
from edgesim.search.fixed import FixedSearcher
from edgesim.search.random_search import RandomSearcher
from edgesim.units import MIB
from edgesim.workload_io import load_gemm_workload, parse_gemm_arg

SEARCHERS = ("cpsat", "exhaustive", "random", "fixed-ws", "fixed-os", "fixed-is")
MAPPINGS_VERSION = 1


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "schedule", help="search each GEMM's loop order, tiling and dataflow (CP-SAT, exhaustive, ...) against fixed baselines")
    p.add_argument("--hw", metavar="FILE", help="hardware YAML, or a name in hw_configs/ (default: edge_npu_16x16)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a hardware field, e.g. --set pe_array.rows=8 (repeatable)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--gemm", metavar="M,N,K", help="a single (MxK)·(KxN) GEMM")
    src.add_argument("--workload", metavar="FILE", help="a GEMM list (.yaml or .csv)")
    src.add_argument("--layer", metavar="MODEL", help="the GEMMs of one decoder layer's forward pass (e.g. llama7b)")
    p.add_argument("--seq", type=int, default=512, help="sequence length for --layer (default 512)")
    p.add_argument("--searcher", choices=SEARCHERS, default="cpsat")
    p.add_argument("--time-limit", type=float, default=3.0, help="CP-SAT seconds per op, split over dataflows (default 3)")
    p.add_argument("--workers", type=int, default=4, help="CP-SAT worker threads (default 4)")
    p.add_argument("--budget", type=int, default=2000, help="random search: mappings drawn per op (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random search / CP-SAT seed (default 0)")
    p.add_argument("--cache-dir", metavar="DIR", default=str(DEFAULT_CACHE_DIR),
                   help=f"schedule cache directory (default {DEFAULT_CACHE_DIR})")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the schedule cache")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    # dest is not "output": edgesim.cli.main writes the report to args.output when that is set
    p.add_argument("-o", "--mappings-out", dest="mappings_out", metavar="FILE",
                   help="write the chosen mappings as JSON (see load_mappings)")
    return p


def _bad(flag: str, message: str) -> ConfigError:
    return ConfigError(Problem(source=flag, path="", message=message))


def make_searcher(args: argparse.Namespace) -> Searcher:
    if args.time_limit <= 0:
        raise _bad("--time-limit", f"expected a positive number of seconds, got {args.time_limit}")
    if args.workers < 1:
        raise _bad("--workers", f"expected a positive integer, got {args.workers}")
    if args.budget < 1:
        raise _bad("--budget", f"expected a positive integer, got {args.budget}")
    name = args.searcher
    if name == "cpsat":
        return CpSatSearcher(time_limit_s=args.time_limit, workers=args.workers, seed=args.seed)
    if name == "exhaustive":
        return ExhaustiveSearcher()
    if name == "random":
        return RandomSearcher(budget=args.budget, seed=args.seed)
    if name.startswith("fixed-"):
        return FixedSearcher(next(d for d in DATAFLOWS if f"fixed-{d}" == name))
    raise _bad("--searcher", f"expected one of {', '.join(SEARCHERS)}, got {name!r}")


def workload(args: argparse.Namespace) -> tuple[list[Gemm], str]:
    if args.gemm:
        op = parse_gemm_arg(args.gemm)
        return [op], op.name
    if args.workload:
        wl = load_gemm_workload(args.workload)
        return list(wl.ops), wl.name
    if args.layer:
        if args.seq < 1:
            raise _bad("--seq", f"expected a positive integer, got {args.seq}")
        model = load_model(args.layer)
        ops = [op for op in decoder_layer_forward(model, LayerSettings(seq=args.seq)) if isinstance(op, Gemm)]
        return ops, f"{model.name} decoder layer forward GEMMs (seq {args.seq})"
    raise _bad("edgesim schedule", "give one of --gemm M,N,K, --workload FILE or --layer MODEL")


def _cost_fields(res: SearchResult | Infeasible) -> dict[str, Any]:
    if isinstance(res, Infeasible):
        return {"total_cycles": None, "energy_pj": None, "dram_bytes": None, "infeasible": res.reason}
    c = res.cost
    return {"total_cycles": c.total_cycles, "energy_pj": c.energy_pj, "dram_bytes": c.dram_bytes, "infeasible": ""}


def schedule_ops(arch: ArchSpec, ops: list[Gemm], searcher: Searcher) -> list[dict[str, Any]]:
    """One row per op: the searched mapping, its cost, search time, and each fixed baseline's cost."""
    baselines = {str(d): FixedSearcher(d) for d in DATAFLOWS}
    rows = []
    for op in ops:
        res = searcher.best(arch, op)
        row: dict[str, Any] = {"op": op.name, "signature": signature_key(op), "m": op.m, "n": op.n, "k": op.k,
                               "batch": op.batch, "a_bits": op.a_bits, "b_bits": op.b_bits,
                               "weight_density": op.weight_density, "weight_format": str(op.weight_format),
                               **_cost_fields(res)}
        if isinstance(res, SearchResult):
            row.update(mapping=mapping_to_dict(res.mapping), mapping_text=res.mapping.describe(),
                       search_seconds=res.wall_seconds, candidates=res.candidates, cached=res.cached)
        else:
            row.update(mapping=None, mapping_text="", search_seconds=0.0, candidates=0, cached=False)
        for name, b in baselines.items():
            br = b.best(arch, op)
            row[f"fixed_{name}_cycles"] = None if isinstance(br, Infeasible) else br.cost.total_cycles
            row[f"fixed_{name}_energy_pj"] = None if isinstance(br, Infeasible) else br.cost.energy_pj
            row[f"fixed_{name}_dram_bytes"] = None if isinstance(br, Infeasible) else br.cost.dram_bytes
        rows.append(row)
    return rows


def totals(arch: ArchSpec, name: str, searcher: Searcher, rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if not r["infeasible"]]
    out: dict[str, Any] = {"hardware": arch.name, "hardware_fingerprint": arch.fingerprint(), "workload": name,
                           "searcher": searcher.name, "settings": searcher.settings(), "ops": len(rows),
                           "infeasible_ops": len(rows) - len(ok),
                           "total_cycles": sum(r["total_cycles"] for r in ok), "energy_pj": sum(r["energy_pj"] for r in ok),
                           "dram_bytes": sum(r["dram_bytes"] for r in ok),
                           "search_seconds": sum(r["search_seconds"] for r in rows)}
    for d in DATAFLOWS:
        vals = [r[f"fixed_{d}_cycles"] for r in rows]
        out[f"fixed_{d}_total_cycles"] = sum(vals) if all(v is not None for v in vals) else None
    return out


def _table(head: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    def cyc(v: float | None) -> str:
        return "infeasible" if v is None else f"{v:,.0f}"

    lines = []
    for r in rows:
        base = {"op": r["op"], "shape": f"{r['m']}x{r['n']}x{r['k']}" + (f" b{r['batch']}" if r["batch"] > 1 else ""),
                "mapping": r["mapping_text"] or "INFEASIBLE: " + r["infeasible"]}
        if not r["infeasible"]:
            base.update({"cycles": cyc(r["total_cycles"]), "energy uJ": f"{r['energy_pj'] / 1e6:,.2f}",
                         "DRAM MiB": f"{r['dram_bytes'] / MIB:,.2f}"})
        base.update({f"{d} cycles": cyc(r[f"fixed_{d}_cycles"]) for d in DATAFLOWS})
        base["search s"] = f"{r['search_seconds']:.2f}" + (" (cached)" if r["cached"] else "")
        lines.append(base)
    lines.append({"op": "TOTAL", "shape": "", "mapping": "", "cycles": cyc(head["total_cycles"]),
                  "energy uJ": f"{head['energy_pj'] / 1e6:,.2f}", "DRAM MiB": f"{head['dram_bytes'] / MIB:,.2f}",
                  **{f"{d} cycles": cyc(head[f"fixed_{d}_total_cycles"]) for d in DATAFLOWS},
                  "search s": f"{head['search_seconds']:.2f}"})
    title = (f"edgesim schedule: {head['workload']} on {head['hardware']}, searcher {head['searcher']}; "
             f"os/ws/is cycles: the fixed-dataflow baselines (no scheduling)")
    foot = "mapping: dataflow, global-buffer tile MxNxK, DRAM loop order (outer->inner), db/sb = double/single buffered"
    return f"{title}\n\n{pd.DataFrame(lines).fillna('').to_string(index=False)}\n{foot}"


def write_mappings(path: str | Path, arch: ArchSpec, searcher: Searcher, rows: list[dict[str, Any]]) -> None:
    data = {"version": MAPPINGS_VERSION, "hardware": arch.name, "hardware_fingerprint": arch.fingerprint(),
            "searcher": searcher.name,
            "mappings": [{"name": r["op"], "signature": r["signature"], "mapping": r["mapping"]} for r in rows if r["mapping"]]}
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def load_mappings(path: str | Path) -> dict[str, Mapping]:
    """Mappings written by `-o`, keyed both by op name and by op signature (`cache.signature_key`)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(Problem(source=str(p), path="", message=f"cannot read file: {exc.strerror}")) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(Problem(source=str(p), path="", message=f"not valid JSON: {exc}")) from None
    if not isinstance(data, dict) or data.get("version") != MAPPINGS_VERSION or not isinstance(data.get("mappings"), list):
        raise ConfigError(Problem(source=str(p), path="", message=f"expected an edgesim schedule mappings file "
                                  f"(version {MAPPINGS_VERSION}, a 'mappings' list)"))
    out: dict[str, Mapping] = {}
    problems = []
    for i, entry in enumerate(data["mappings"]):
        try:
            m = mapping_from_dict(entry["mapping"])
            out[str(entry["name"])] = m
            out[str(entry["signature"])] = m
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(Problem(source=str(p), path=f"mappings[{i}]", message=f"malformed entry: {exc}"))
    if problems:
        raise ConfigError(problems)
    return out


def run(args: argparse.Namespace) -> str:
    arch = load_arch(args.hw, args.overrides)
    ops, name = workload(args)
    inner = make_searcher(args)
    searcher: Searcher = inner if args.no_cache else CachedSearcher(inner, ScheduleCache(Path(args.cache_dir).expanduser()))
    rows = schedule_ops(arch, ops, searcher)
    head = totals(arch, name, searcher, rows)
    if args.mappings_out:
        write_mappings(args.mappings_out, arch, searcher, rows)
    if args.format == "json":
        return json.dumps({**head, "per_op": rows}, indent=2)
    if args.format == "csv":
        flat = [{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
        return str(pd.DataFrame(flat).to_csv(index=False))
    return _table(head, rows)
