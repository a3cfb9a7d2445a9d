"""Which array shapes, buffer sizes and DRAM bandwidths put Edge-LLM LLaMA-7B tuning on the latency/energy/area
front, and how does the front move for vanilla LoRA (int8, the baseline an int8 NPU would run)?

Run:  python experiments/04_hw_sweep/run.py [--quick] [--out DIR] [--workers N]
Full: sweep.yaml, a 4 x 4 x 6 x 3 grid of array rows, columns, buffer KiB and DRAM GB/s under two constraints
(rows x cols <= 2048, area <= 8 mm^2), both workloads with the scheduled mapper (auto); results/ beside this file
(results.csv, report.html, plots/; the SQLite database too, not committed). It resumes if interrupted.
--quick: sweep_quick.yaml on the tiny model (seconds), into a temporary folder unless
--out is given, so CI never touches the committed results.
Prints the sweep's counts, each workload's front, and the comparisons the README states.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from edgesim.config.sweep import load_sweep_spec
from edgesim.errors import ConfigError
from edgesim.report.sweep import pareto_text, write_report
from edgesim.sweep.pareto import Front, fronts
from edgesim.sweep.run import run_sweep
from edgesim.sweep.store import ResultStore

HERE = Path(__file__).resolve().parent


def compare(found: list[Front], params: tuple[str, ...]) -> str:
    """How the front moves between the workloads: shared configurations and the ranges each front spans."""
    lines = []
    keys = [set(map(tuple, f.points[list(params)].to_numpy().tolist())) for f in found]
    if len(found) == 2:
        shared = keys[0] & keys[1]
        lines.append(f"configurations on both fronts: {len(shared)} (of {len(keys[0])} and {len(keys[1])})")
    for f in found:
        p = f.points
        spans = ", ".join(f"{o} {p[o].min():.4g}..{p[o].max():.4g}" for o in f.objectives)
        values = "; ".join(f"{k}: {sorted(set(p[k].tolist()))}" for k in params)
        lines.append(f"{f.workload}: front spans {spans}\n  values on the front: {values}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", metavar="DIR", help="where the database, CSV, report and plots go")
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: the cores)")
    args = ap.parse_args()
    spec = load_sweep_spec(HERE / ("sweep_quick.yaml" if args.quick else "sweep.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else (Path(tmp) if args.quick else HERE / "results")
        out.mkdir(parents=True, exist_ok=True)
        db = out / "results.db"
        s = run_sweep(spec, db, workers=args.workers, cache_dir=str(Path(tmp) / "schedules"), progress=not args.quick)
        print(f"{spec.name}: {s.points} points, {s.excluded} excluded by the constraints; {s.submitted} tasks run now, "
              f"{s.skipped} resumed from {db.name}; {s.counts}; {s.seconds:.1f} s")
        with ResultStore(db) as store:
            df = store.frame()
            write_report(store, out / "report.html", plots_dir=out / "plots")
            params = store.params
        csv = df.drop(columns=["area_breakdown", "phases", "memory", "wall_s"])  # wall time: not reproducible
        pd.DataFrame(csv).to_csv(out / "results.csv", index=False)
        found = fronts(df, spec.objectives)
        print(pareto_text(found, params))
        print(compare(found, params))
        print(f"wrote {out / 'results.csv'}, {out / 'report.html'}, {out / 'plots'}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except ConfigError as exc:  # e.g. a results database another model made: say what to do, no traceback
        print(f"{Path(__file__).parent.name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
