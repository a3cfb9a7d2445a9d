"""`edgesim sweep run|report|export|pareto`: hardware design-space exploration (edgesim.sweep), its fronts and report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edgesim.cli.args import bad, require_positive
from edgesim.config.sweep import load_sweep_spec
from edgesim.report import sweep as report
from edgesim.search.cache import DEFAULT_CACHE_DIR
from edgesim.sweep.pareto import fronts
from edgesim.sweep.run import run_sweep
from edgesim.sweep.store import ResultStore


def add_parser(sub: Any) -> None:
    sw = sub.add_parser("sweep", help="sweep hardware configs (Dask), keep results in SQLite, Pareto fronts and a report")
    cmds = sw.add_subparsers(dest="sweep_command", required=True)
    run = cmds.add_parser("run", help="run (or resume) a sweep spec into a results database")
    run.add_argument("spec", metavar="SPEC", help="sweep spec YAML")
    run.add_argument("-o", dest="db", metavar="RESULTS.db", required=True, help="SQLite results database (resumed if it exists)")
    run.add_argument("--scheduler", metavar="tcp://HOST:8786", help="an existing dask scheduler (default: a LocalCluster)")
    run.add_argument("--workers", type=int, help="LocalCluster worker processes (default: the machine's cores)")
    run.add_argument("--cache-dir", metavar="DIR", default=str(DEFAULT_CACHE_DIR),
                     help=f"schedule cache shared by the workers (default {DEFAULT_CACHE_DIR})")
    run.add_argument("--no-cache", action="store_true", help="no disk schedule cache (each worker still remembers its own)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    rep = cmds.add_parser("report", help="write a self-contained HTML report of a results database")
    rep.add_argument("db", metavar="RESULTS.db")
    rep.add_argument("-o", dest="html", metavar="report.html", required=True)
    rep.add_argument("--plots", metavar="DIR", help="also write every figure as PNG into DIR")
    exp = cmds.add_parser("export", help="write every result row as Parquet or CSV (by the file's suffix)")
    exp.add_argument("db", metavar="RESULTS.db")
    exp.add_argument("-o", dest="export_path", metavar="results.parquet|results.csv", required=True)
    par = cmds.add_parser("pareto", help="print each workload's Pareto front as a table")
    par.add_argument("db", metavar="RESULTS.db")
    par.add_argument("--workload", help="only this workload's front (its label, as the table prints it)")
    par.add_argument("--format", choices=["table", "csv", "json"], default="table")


def run(args: argparse.Namespace) -> str:
    if args.sweep_command == "run":
        return _run(args)
    if args.sweep_command == "report":
        with ResultStore(args.db) as store:
            written = report.write_report(store, Path(args.html), plots_dir=Path(args.plots) if args.plots else None)
        return "wrote " + ", ".join(str(p) for p in written)
    if args.sweep_command == "export":
        return _export(args)
    return _pareto(args)


def _run(args: argparse.Namespace) -> str:
    spec = load_sweep_spec(args.spec)
    if args.workers is not None:
        require_positive("--workers", args.workers)
    s = run_sweep(spec, args.db, scheduler=args.scheduler, workers=args.workers,
                  cache_dir=None if args.no_cache else str(Path(args.cache_dir).expanduser()), progress=not args.no_progress)
    counts = ", ".join(f"{v} {k}" for k, v in s.counts.items())
    return (f"sweep {spec.name}: {s.points} points ({s.excluded} excluded by constraints), {len(spec.workloads)} workload(s); "
            f"ran {s.submitted} task(s) ({counts}), {s.skipped} already in {args.db}; {s.seconds:.1f} s")


def _export(args: argparse.Namespace) -> str:
    path = Path(args.export_path)
    if path.suffix not in (".parquet", ".csv"):
        raise bad("-o", f"expected a file name ending in .parquet or .csv, got {args.export_path!r}")
    with ResultStore(args.db) as store:
        df = store.frame()
    for c in ("area_breakdown", "phases", "memory"):
        df[c] = df[c].map(lambda v: json.dumps(v, sort_keys=True) if v is not None else None)
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return f"wrote {path}: {len(df)} rows"


def _pareto(args: argparse.Namespace) -> str:
    with ResultStore(args.db) as store:
        objectives = tuple(store.spec_json()["objectives"])
        params = store.params
        df = store.frame()
    found = fronts(df, objectives)
    if args.workload:
        found = [f for f in found if f.workload == args.workload]
        if not found:
            raise bad("--workload", f"no workload {args.workload!r} in {args.db}; it has: {', '.join(dict.fromkeys(df['workload']))}")
    return report.pareto_text(found, params, args.format)
