"""Which adaptation method, model and compression fit which edge device, time budget and amount of personal data?
The hardware half of "Empirical Guidelines for Deploying LLMs onto Resource-constrained Edge Devices" (arXiv
2406.03777), RAG included.

Run:  python experiments/05_deployment_guidelines/run.py [--quick] [--out DIR] [--workers N]
Full: three devices (IoT-class iot_npu_8x8, the default edge_npu_16x16, the phone-class mobile_npu_32x32), four
models (TinyLlama-1.1B, OPT-1.3B, LLaMA-7B, LLaMA-2-13B), the methods full, LoRA, QLoRA, partial, Edge-LLM and RAG,
the frozen base at 16/8/4-bit weights with and without 50% sparsity, and 100 to 100k samples of 256 tokens. One
workload sweep (`edgesim sweep`) per device; results/ beside this file: per device the sweep's database (not
committed), results.csv, report.html and plots/, and the study's guidelines.md, fit_map, breakeven and battery
tables (CSV) and figures (PNG). It resumes if interrupted.
--quick: the tiny model at two data amounts on the same devices (seconds), into a temporary folder unless --out
is given, so CI never touches the committed results.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guidelines as g  # noqa: E402  (the study's own module, beside this script)
import plots  # noqa: E402

from edgesim.config.hardware import load_arch  # noqa: E402
from edgesim.config.models import load_model  # noqa: E402
from edgesim.config.sweep import load_sweep_spec  # noqa: E402
from edgesim.errors import ConfigError
from edgesim.report.sweep import write_report  # noqa: E402
from edgesim.sweep.run import run_sweep  # noqa: E402
from edgesim.sweep.store import ResultStore  # noqa: E402

HERE = Path(__file__).resolve().parent
DEVICES = ("iot_npu_8x8", "edge_npu_16x16", "mobile_npu_32x32")
FULL = g.Plan(devices=DEVICES, models=("tinyllama_1b", "opt_1b3", "llama7b", "llama2_13b"),
              amounts=(100, 1_000, 10_000, 100_000), seq=256, prompt=128, generate=64, chunk_tokens=128,
              compressions=tuple(g.COMPRESSIONS), traces={})
QUICK = g.Plan(devices=DEVICES, models=("tiny",), amounts=(10, 100), seq=32, prompt=16, generate=8, chunk_tokens=16,
               compressions=((8, 0.0), (8, 0.5), (4, 0.0)), traces={})  # each tuning method's comparable query
STANDIN = ("tinyllama_1b", "opt_1b3", "llama2_13b")  # no measured sensitivities: uniform stand-in traces


def write_traces(plan: g.Plan, spec_dir: Path) -> g.Plan:
    """Write the stand-in Edge-LLM traces (traces/ beside this file) and point the plan at them, relative to the
    folder the sweep specs are written to."""
    traces = {}
    for model in (m for m in plan.models if m in STANDIN):
        path = HERE / "traces" / f"{model}_standin_edge_llm.json"
        path.parent.mkdir(exist_ok=True)
        text = json.dumps(g.standin_trace(load_model(model), plan.seq), indent=1) + "\n"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        traces[model] = os.path.relpath(path, spec_dir)
    return g.Plan(**{**plan.__dict__, "traces": traces})


def run_device(plan: g.Plan, device: str, out: Path, cache: Path, workers: int | None, quick: bool) -> pd.DataFrame:
    """Write the device's sweep spec, run it (resuming), write its report and CSV; return its rows."""
    spec_path = out / "specs" / f"{device}.yaml"
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(f"# written by {Path(__file__).name}: the workloads of the deployment-guidelines study on "
                         f"{device}\n" + yaml.safe_dump(g.spec(plan, device, "auto"), sort_keys=False, width=120))
    spec = load_sweep_spec(spec_path)
    where = out / device
    where.mkdir(exist_ok=True)
    s = run_sweep(spec, where / "results.db", workers=workers, cache_dir=str(cache), progress=not quick)
    print(f"{device}: {s.submitted} tasks run now, {s.skipped} resumed; {s.counts}; {s.seconds:.1f} s")
    with ResultStore(where / "results.db") as store:
        df = store.frame()
        write_report(store, where / "report.html", plots_dir=where / "plots")
    df.drop(columns=["area_breakdown", "phases", "memory", "wall_s"]).to_csv(where / "results.csv", index=False)
    return df


def guideline_tables(gl: pd.DataFrame) -> str:
    """guidelines.md: per device, one table of budgets and models."""
    parts = []
    for device, d in gl.groupby("device", sort=False):
        rows = []
        for r in d.itertuples():
            if r.note:
                rows.append(f"| {r.budget} | {r.model} | | {r.note} | | |")
                continue
            second_t = f"; then {r.runner_up_time} ({g.seconds_text(r.runner_up_s_per)})" if r.runner_up_time else ""
            second_e = f"; then {r.runner_up_energy} ({r.runner_up_j_per:.3g} J)" if r.runner_up_energy else ""
            rows.append(f"| {r.budget} | {r.model} | {r.samples:,} | {r.fastest} ({g.seconds_text(r.fastest_s_per)})"
                        f"{second_t} | {r.frugal} ({r.frugal_j_per:.3g} J){second_e} | {int(r.rag_samples):,} samples: "
                        f"indexing {g.seconds_text(r.rag_index_s)}; {r.break_even_time}; {r.break_even_energy} |")
        parts.append(f"### {device}\n\n| budget | model | samples the fastest adapts to | fastest, per sample "
                     f"(runner-up) | least energy, per sample (runner-up) | RAG instead, against the fastest |\n"
                     f"|---|---|---:|---|---|---|\n" + "\n".join(rows))
    return "\n\n".join(parts) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", metavar="DIR", help="where the databases, CSVs, reports, tables and plots go")
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: the cores)")
    args = ap.parse_args()
    plan = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else (Path(tmp) if args.quick else HERE / "results")
        out.mkdir(parents=True, exist_ok=True)
        plan = write_traces(plan, out / "specs")
        frames = {}
        for device in plan.devices:
            df = run_device(plan, device, out, Path(tmp) / "schedules", args.workers, args.quick)
            specs = list(load_sweep_spec(out / "specs" / f"{device}.yaml").workloads)
            frames[device] = (df, specs, load_arch(device).dram.capacity_bytes)
        t = g.tidy(frames)
        t.to_csv(out / "study.csv", index=False)
        gl = g.guidelines(t, list(plan.models))
        gl.to_csv(out / "guidelines.csv", index=False)
        (out / "guidelines.md").write_text(guideline_tables(gl))
        fm = g.fit_map(t)
        fm.to_csv(out / "fit_map.csv", index=False)
        bat = g.battery(t)
        bat.to_csv(out / "battery.csv", index=False)
        be = plots.break_even_table(t)
        be.to_csv(out / "breakeven.csv", index=False)
        written = [plots.fit_map_figure(fm, out / "fit_map.png"), plots.break_even_figure(t, plan, out / "breakeven.png"),
                   plots.battery_figure(bat, out / "battery.png")]
        print(guideline_tables(gl))
        print(f"battery assumed: {g.BATTERY_MAH:,} mAh at {g.BATTERY_V} V = {g.BATTERY_J:,.0f} J")
        fits = fm.groupby("device", sort=False).fits.agg(["sum", "count"])
        print("fit map (choices that fit / all):", ", ".join(f"{d} {r['sum']}/{r['count']}" for d, r in fits.iterrows()))
        never = be[be.time_queries.isna()]
        print(f"break-even rows: {len(be)}; tuning never cheaper in time on {len(never)}; median break-even "
              f"{be.time_queries.median():,.0f} queries (time), {be.energy_queries.median():,.0f} (energy)"
              if not math.isnan(be.time_queries.median()) else f"break-even rows: {len(be)}")
        print("wrote", ", ".join(str(p) for p in [out / "guidelines.md", out / "study.csv", *written]))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except ConfigError as exc:  # e.g. a results database another model made: say what to do, no traceback
        print(f"{Path(__file__).parent.name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
