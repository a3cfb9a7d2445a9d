"""Bandwidth-limited GEMMs: SCALE-Sim v3 run side by side with edgesim's `--engine scalesim`.

Run:  python benchmarks/bench_scalesim_bandwidth.py                 (the 120 dev cases; needs benchmarks/scalesim_env.sh)
      python benchmarks/bench_scalesim_bandwidth.py --set holdout   (40 cases drawn with another seed)
      python benchmarks/bench_scalesim_bandwidth.py --quick         (12 of the dev cases)
Prints the error distributions recorded in benchmarks/RESULTS.md.

The cases come from `benchmarks/data/scalesim_cases_<set>.csv`, written by `benchmarks/scalesim_cases.py`: seeded
GEMMs on os/ws/is, square and non-square arrays, SRAMs of 8-256 kB and 1-32 words/cycle per DRAM port, every one
bandwidth-limited in SCALE-Sim (stall cycles > 0). This script runs SCALE-Sim again on them (USER bandwidth mode,
through `scalesim_runner.py` in its own venv), checks it still gives the stored figures, and compares edgesim's
SCALE-Sim engine (`edgesim.compat.scalesim_engine.run_gemm`) with it on:
- "Total Cycles" (SCALE-Sim's COMPUTE_REPORT: demand lines plus stalls) and the span incl. prefetch;
- the DRAM words each port moves (ifmap and filter reads, ofmap writes; one word = one byte).
Wall time: SCALE-Sim's `run_scale` alone (no interpreter start-up or file writing) against edgesim's engine.

For reference it also runs edgesim's tile simulator in its SCALE-Sim-like setting (`edgesim.compat.scalesim_like`:
one tile per fold, one DRAM channel per operand), on the cases whose three ports share one bandwidth, to show what
the engine adds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgesim.compat.scalesim_engine import ScaleSimArch, ScaleSimRun, run_gemm
from edgesim.compat.scalesim_like import scalesim_like
from edgesim.config.hardware import load_arch
from edgesim.mapping import Dataflow
from edgesim.ops import Gemm

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SCALESIM_PY = Path(os.environ.get("SCALESIM_VENV", "/work/scalesim-venv")) / "bin" / "python"
FIGURES = ("total_cycles", "span_cycles", "ifmap_dram_reads", "filter_dram_reads", "ofmap_dram_writes")
STORED = {"total_cycles": "total_cycles", "span_cycles": "total_cycles_incl_prefetch",
          "ifmap_dram_reads": "dram_ifmap_reads", "filter_dram_reads": "dram_filter_reads",
          "ofmap_dram_writes": "dram_ofmap_writes"}


@dataclass(frozen=True, slots=True)
class Case:
    m: int
    n: int
    k: int
    arch: ScaleSimArch
    stored: dict[str, int]  # SCALE-Sim's figures as the CSV recorded them

    def runner_input(self) -> dict[str, object]:
        a = self.arch
        return {"M": self.m, "N": self.n, "K": self.k, "rows": a.rows, "cols": a.cols, "dataflow": a.dataflow.value,
                "ifmap_bw": a.ifmap_bw, "filter_bw": a.filter_bw, "ofmap_bw": a.ofmap_bw,
                "ifmap_sram_kb": a.ifmap_sram_kb, "filter_sram_kb": a.filter_sram_kb,
                "ofmap_sram_kb": a.ofmap_sram_kb}

    def label(self) -> str:
        a = self.arch
        bw = f"{a.ifmap_bw}" if a.ifmap_bw == a.filter_bw == a.ofmap_bw else f"{a.ifmap_bw}/{a.filter_bw}/{a.ofmap_bw}"
        return (f"{self.m}x{self.n}x{self.k} {a.dataflow.value} {a.rows}x{a.cols} "
                f"{a.ifmap_sram_kb}/{a.filter_sram_kb}/{a.ofmap_sram_kb}kB bw{bw}")


def load_cases(path: Path) -> list[Case]:
    rows = [r for r in csv.DictReader(line for line in path.open(encoding="utf-8") if not line.startswith("#"))]
    out = []
    for r in rows:
        ints = ("m", "n", "k", "rows", "cols", "ifmap_bw", "filter_bw", "ofmap_bw", "ifmap_sram_kb", "filter_sram_kb",
                "ofmap_sram_kb", *STORED.values())
        n = {k: int(r[k]) for k in ints}
        arch = ScaleSimArch(rows=n["rows"], cols=n["cols"], ifmap_sram_kb=n["ifmap_sram_kb"],
                            filter_sram_kb=n["filter_sram_kb"], ofmap_sram_kb=n["ofmap_sram_kb"],
                            dataflow=Dataflow(r["dataflow"]), ifmap_bw=n["ifmap_bw"], filter_bw=n["filter_bw"],
                            ofmap_bw=n["ofmap_bw"])
        out.append(Case(n["m"], n["n"], n["k"], arch, {f: n[STORED[f]] for f in FIGURES}))
    return out


def run_scalesim(cases: Sequence[Case], jobs: int) -> list[tuple[dict[str, int], float]]:
    """SCALE-Sim's figures and run_scale seconds, in case order; `jobs` runner processes (cases dealt round-robin)."""
    chunks = [list(range(j, len(cases), jobs)) for j in range(jobs)]
    procs = [subprocess.Popen([str(SCALESIM_PY), str(HERE / "scalesim_runner.py")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in chunks]
    for p, idx in zip(procs, chunks, strict=True):  # all inputs first, so the processes run concurrently
        assert p.stdin is not None
        p.stdin.write(json.dumps([cases[i].runner_input() for i in idx]))
        p.stdin.close()
    results: list[tuple[dict[str, int], float]] = [({}, 0.0)] * len(cases)
    for p, idx in zip(procs, chunks, strict=True):
        assert p.stdout is not None
        out = json.loads(p.stdout.read())
        if p.wait() != 0:
            raise RuntimeError(f"scalesim_runner.py exited with {p.returncode}")
        for i, res in zip(idx, out, strict=True):
            if "error" in res:
                raise RuntimeError(f"SCALE-Sim failed on {cases[i].label()}: {res['error']}")
            results[i] = ({f: int(res[STORED[f]]) for f in FIGURES}, float(res["seconds"]))
    return results


def run_edgesim(case: Case) -> tuple[ScaleSimRun, float]:
    t0 = time.perf_counter()
    run = run_gemm(case.arch, case.m, case.n, case.k)
    return run, time.perf_counter() - t0


def tile_sim_reference(case: Case) -> float | None:
    """edgesim's tile simulator in its SCALE-Sim-like setting, total cycles (None if the ports' bandwidths differ)."""
    a = case.arch
    if not a.ifmap_bw == a.filter_bw == a.ofmap_bw:
        return None
    base = load_arch(None, [f"pe_array.rows={a.rows}", f"pe_array.cols={a.cols}"])
    cfg = scalesim_like(base, Gemm(name="g", m=case.m, n=case.n, k=case.k), a.dataflow, bandwidth=a.ifmap_bw,
                        ifmap_sram_kb=a.ifmap_sram_kb, filter_sram_kb=a.filter_sram_kb, ofmap_sram_kb=a.ofmap_sram_kb)
    return cfg.simulate(max_events=0).total_cycles


def rel(value: float, reference: float) -> float:
    return (value - reference) / reference if reference else float(value != reference)


def distribution(errors: Sequence[float]) -> str:
    a = np.abs(np.asarray(errors, dtype=np.float64))
    if a.size == 0:
        return "n=0"
    return (f"n={a.size:>3}  median {100 * np.median(a):6.2f}%  p90 {100 * np.percentile(a, 90):6.2f}%  "
            f"max {100 * a.max():6.2f}%  exact {int((a == 0).sum()):>3}/{a.size}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=("dev", "holdout"), default="dev", help="which generated case set (default dev)")
    ap.add_argument("--quick", action="store_true", help="12 cases, four per dataflow")
    ap.add_argument("--jobs", type=int, default=2, help="SCALE-Sim processes in parallel")
    args = ap.parse_args()
    if not SCALESIM_PY.exists():
        print(f"{SCALESIM_PY} not found; run `bash benchmarks/scalesim_env.sh` first", file=sys.stderr)
        return 2
    cases = load_cases(DATA / f"scalesim_cases_{args.set}.csv")
    if args.quick:
        cases = [c for df in Dataflow for c in [c for c in cases if c.arch.dataflow == df][:4]]
    t0 = time.perf_counter()
    ss = run_scalesim(cases, max(1, args.jobs))
    wall_ss = time.perf_counter() - t0
    es = [run_edgesim(c) for c in cases]
    changed = [c.label() for c, (fig, _) in zip(cases, ss, strict=True) if fig != c.stored]
    ss_seconds = sum(s for _, s in ss)
    es_seconds = sum(s for _, s in es)
    print(f"{len(cases)} bandwidth-limited GEMMs ({args.set} set). SCALE-Sim: {wall_ss:.1f} s wall, "
          f"{ss_seconds:.1f} s in run_scale ({args.jobs} processes); edgesim --engine scalesim: {es_seconds:.2f} s "
          f"({ss_seconds / es_seconds:.0f}x faster than run_scale; per case median "
          f"{np.median([s / e for (_, s), (_, e) in zip(ss, es, strict=True)]):.0f}x, "
          f"min {min(s / e for (_, s), (_, e) in zip(ss, es, strict=True)):.0f}x)")
    ratios = [s / e for (_, s), (_, e) in zip(ss, es, strict=True)]
    slow = int(np.argmin(ratios))
    print(f"slowest relative to SCALE-Sim: {cases[slow].label()} ({es[slow][1] * 1e3:.0f} ms against "
          f"{ss[slow][1]:.2f} s, {ratios[slow]:.0f}x); cases under 100x: {sum(r < 100 for r in ratios)}")
    print(f"SCALE-Sim's figures equal the stored ones on {len(cases) - len(changed)}/{len(cases)} cases"
          + (f"; they changed on: {', '.join(changed)}" if changed else ""))
    print("\n|relative error| of edgesim --engine scalesim against SCALE-Sim:")
    for df in (*Dataflow, None):
        pick = [i for i, c in enumerate(cases) if df is None or c.arch.dataflow == df]
        print(f"  {df.value if df else 'all'}:")
        for fig in FIGURES:
            errs = [rel(getattr(es[i][0], fig), ss[i][0][fig]) for i in pick]
            print(f"    {fig:<18} {distribution(errs)}")
    worst = sorted(range(len(cases)), key=lambda i: -abs(rel(es[i][0].total_cycles, ss[i][0]["total_cycles"])))[:5]
    print("\nlargest Total Cycles errors:")
    for i in worst:
        print(f"  {cases[i].label():<48} SCALE-Sim {ss[i][0]['total_cycles']:>9}  edgesim {es[i][0].total_cycles:>9}  "
              f"({100 * rel(es[i][0].total_cycles, ss[i][0]['total_cycles']):+.2f}%)")
    ref = [(i, t) for i, c in enumerate(cases) if (t := tile_sim_reference(c)) is not None]
    print("\nreference: edgesim's tile simulator, SCALE-Sim-like setting, total cycles against SCALE-Sim's span "
          f"(equal-bandwidth cases):\n    {distribution([rel(t, ss[i][0]['span_cycles']) for i, t in ref])}")
    return 1 if changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
