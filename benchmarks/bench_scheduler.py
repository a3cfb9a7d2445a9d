"""Scheduler benchmark: CP-SAT against exhaustive search (the exact optimum of the same mapspace), random search
and the fixed-dataflow baselines, then ZigZag's search time on matching GEMMs.

CP-SAT is reported in four rows on the same ops, so that no figure credits the solver with what other parts of the
pipeline found:
  1. raw solver          each model's final solution, decoded (`CpSatSearcher(raw=True)`, `--raw`): the exact model
                         (the default, edgesim.search.cpsat_exact) and, as 1b, the older log-domain proxy;
  2. solver + polish     the solver's last improving solutions and their mapspace neighbours, re-scored;
  3. full pipeline       2 plus the fixed-dataflow baselines and the heuristic mapping (what `--searcher cpsat` returns);
  4. heuristic grid      the coarse grid alone (`HeuristicSearcher`), for scale.

Units: cycles (latency gap in %), seconds of wall time per op and searcher.

    /work/venv/bin/python benchmarks/bench_scheduler.py [--quick] [--zigzag-python /work/zigzag-venv/bin/python]

Ops (>= 100 in the full run, on edge_npu_16x16): LLaMA-style forward, input-gradient and weight-gradient GEMMs
at several token counts, LoRA thin GEMMs, unstructured-sparse and 4-bit variants, batched attention,
odd and prime shapes. A second, denser mapspace (every multiple of the array extent) on scaled shapes shows
where exhaustive search takes seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from edgesim.config.hardware import load_arch
from edgesim.cost.model import evaluate
from edgesim.errors import Infeasible
from edgesim.mapping import DATAFLOWS
from edgesim.mapspace import Imperfect, MapspaceOptions, build_mapspace
from edgesim.ops import Gemm, WeightFormat
from edgesim.search.cpsat import CpSatSearcher
from edgesim.search.exhaustive import ExhaustiveSearcher
from edgesim.search.fixed import FixedSearcher
from edgesim.search.genetic import GeneticSearcher
from edgesim.search.heuristic import HeuristicSearcher
from edgesim.search.random_search import RandomSearcher

HERE = Path(__file__).resolve().parent
PROJ = ((4096, 4096), (4096, 11008), (11008, 4096), (4096, 1024))  # (in, out) of q/o, gate/up, down, GQA k/v


def ops(quick: bool) -> list[Gemm]:
    out: list[Gemm] = []
    tokens = (128, 512) if quick else (64, 256, 512, 1024)
    for t in tokens:
        for i, o in PROJ:
            out += [Gemm(name=f"fwd_T{t}_{i}x{o}", m=t, n=o, k=i), Gemm(name=f"dX_T{t}_{i}x{o}", m=t, n=i, k=o),
                    Gemm(name=f"dW_T{t}_{i}x{o}", m=i, n=o, k=t)]
    for t in (128, 512):
        for r in (8,) if quick else (8, 16):
            out += [Gemm(name=f"loraA_T{t}_r{r}", m=t, n=r, k=4096), Gemm(name=f"loraB_T{t}_r{r}", m=t, n=4096, k=r),
                    Gemm(name=f"loraA_dW_T{t}_r{r}", m=4096, n=r, k=t), Gemm(name=f"loraB_dX_T{t}_r{r}", m=t, n=r, k=4096)]
    for i, o in PROJ[: 2 if quick else 4]:
        for d in (0.5, 0.3):
            out.append(Gemm(name=f"sparse{d}_{i}x{o}", m=512, n=o, k=i, weight_density=d, weight_format=WeightFormat.UNSTRUCTURED))
        out += [Gemm(name=f"w4a8_{i}x{o}", m=512, n=o, k=i, b_bits=4), Gemm(name=f"w4a4_{i}x{o}", m=512, n=o, k=i, a_bits=4, b_bits=4)]
    for s in (256, 512):
        out += [Gemm(name=f"scores_s{s}", m=s, n=s, k=128, batch=32), Gemm(name=f"context_s{s}", m=s, n=128, k=s, batch=32)]
    odd = [(4099, 4097, 1031), (127, 509, 1021), (37, 11008, 4093), (1000, 1000, 1000), (13, 17, 19), (257, 2053, 769)]
    rng = np.random.default_rng(0)
    primes = [p for p in range(50, 3000) if all(p % q for q in range(2, int(p**0.5) + 1))]
    odd += [tuple(int(x) for x in rng.choice(primes, 3)) for _ in range(2 if quick else 16)]  # type: ignore[misc]
    out += [Gemm(name=f"odd_{m}x{n}x{k}", m=m, n=n, k=k) for m, n, k in odd]
    return out


def timed(searcher, arch, op):
    t = time.perf_counter()
    r = searcher.best(arch, op)
    return r, time.perf_counter() - t


def random_for(arch, op, options: MapspaceOptions, seconds: float, seed: int = 0) -> float:
    """Random search for `seconds` of wall time (chunks of 256 draws): the fewest cycles found."""
    space = build_mapspace(arch, op, options)
    rng = np.random.default_rng(seed)
    best, t0 = float("inf"), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        maps = space.sample(rng, 256)
        c = evaluate(arch, op, maps)
        if c.feasible.any():
            best = min(best, float(c.total_cycles[c.feasible].min()))
    return best


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q)) if xs else float("nan")


def compare(arch, op_list, options: MapspaceOptions, time_limit: float, label: str) -> list[dict[str, float]]:
    rows = []
    cp = CpSatSearcher(deterministic_limit=time_limit, options=options)
    raw = CpSatSearcher(deterministic_limit=time_limit, options=options, raw=True)
    raw_log = CpSatSearcher(deterministic_limit=time_limit, options=options, raw=True, model="log")
    for op in op_list:
        ex, t_ex = timed(ExhaustiveSearcher(options), arch, op)
        c, t_cp = timed(cp, arch, op)
        r_raw, t_raw = timed(raw, arch, op)
        r_log, t_log = timed(raw_log, arch, op)
        rnd, t_rnd = timed(RandomSearcher(budget=2000, options=options), arch, op)
        heur = HeuristicSearcher().best(arch, op)
        # equal wall time: what random search and the genetic algorithm find in the raw exact solver's time
        ga_eq = GeneticSearcher(trials=10**6, timeout=t_raw, options=options).best(arch, op)
        rnd_eq = random_for(arch, op, options, t_raw)
        if any(isinstance(x, Infeasible) for x in (ex, c, rnd, heur)):
            print(f"  {op.name}: infeasible ({ex})")
            continue
        assert not isinstance(ex, Infeasible) and not isinstance(c, Infeasible)  # for the type checker
        best = ex.cost.total_cycles
        fixed = {str(d): FixedSearcher(d).best(arch, op) for d in DATAFLOWS}
        rows.append({"op": op.name, "space": build_mapspace(arch, op, options).size, "t_ex": t_ex, "t_cp": t_cp,
                     "t_raw": t_raw, "t_log": t_log, "t_rnd": t_rnd,
                     "gap_raw": (r_raw.cost.total_cycles / best - 1) if not isinstance(r_raw, Infeasible) else float("inf"),
                     "gap_log": (r_log.cost.total_cycles / best - 1) if not isinstance(r_log, Infeasible) else float("inf"),
                     "gap_solver": cp.last_solver_cycles / best - 1, "gap_cp": c.cost.total_cycles / best - 1,
                     "gap_heur": heur.cost.total_cycles / best - 1, "gap_rnd": rnd.cost.total_cycles / best - 1,
                     "gap_ga_eq": (ga_eq.cost.total_cycles / best - 1) if not isinstance(ga_eq, Infeasible) else float("inf"),
                     "gap_rnd_eq": rnd_eq / best - 1,
                     **{f"gap_fixed_{d}": (f.cost.total_cycles / best - 1) if not isinstance(f, Infeasible) else float("inf")
                        for d, f in fixed.items()}})
    print(f"\n== {label}: {len(rows)} ops, mapspace {min(r['space'] for r in rows):,}..{max(r['space'] for r in rows):,} candidates")
    for key, name in (("gap_raw", "1. CP-SAT raw, exact model"), ("gap_log", "1b. CP-SAT raw, log proxy"),
                      ("gap_solver", "2. CP-SAT solver + polish"),
                      ("gap_cp", "3. CP-SAT full pipeline"), ("gap_heur", "4. heuristic grid alone"),
                      ("gap_rnd", "random (2000 draws)"), ("gap_rnd_eq", "random, CP-SAT's wall time"),
                      ("gap_ga_eq", "genetic, CP-SAT's wall time"), ("gap_fixed_ws", "fixed ws"), ("gap_fixed_os", "fixed os"),
                      ("gap_fixed_is", "fixed is")):
        g = [100 * r[key] for r in rows]
        within = sum(x <= 2.0 for x in g) / len(g)
        exact = sum(x <= 0.1 for x in g) / len(g)
        print(f"  latency gap vs exhaustive, {name:28s} median {statistics.median(g):8.3f}%  p95 {pct(g, 95):8.3f}%  "
              f"max {max(g):9.3f}%  within 0.1%: {100 * exact:5.1f}%  within 2%: {100 * within:5.1f}%")
    g = [100 * r["gap_raw"] for r in rows]
    edges = (0.1, 2.0, 10.0, 50.0)
    bins = [sum(lo < x <= hi for x in g) for lo, hi in zip(edges, edges[1:], strict=False)]
    counts = [sum(x <= edges[0] for x in g), *bins, sum(x > edges[-1] for x in g)]
    print("  raw solver's gap distribution (ops): " + ", ".join(
        f"{lab}: {n}" for lab, n in zip(("<=0.1%", "0.1-2%", "2-10%", "10-50%", ">50%"), counts, strict=True)))
    for key, name in (("t_ex", "exhaustive"), ("t_cp", "cpsat"), ("t_raw", "raw exact"), ("t_log", "raw log"),
                      ("t_rnd", "random")):
        t = [r[key] for r in rows]
        print(f"  time to solution {name:10s} median {statistics.median(t):7.3f} s  p95 {pct(t, 95):7.3f} s  max {max(t):7.3f} s  "
              f"total {sum(t):8.1f} s")
    slow = [r for r in rows if r["t_ex"] > 1.0]
    if slow:
        faster = sum(r["t_cp"] < r["t_ex"] for r in slow)
        print(f"  ops where exhaustive takes > 1 s: {len(slow)}; CP-SAT faster on {faster} of them")
    else:
        print("  no op took exhaustive search more than 1 s")
    return rows


def zigzag(python: str, op_list: list[Gemm], arch) -> None:
    if not Path(python).exists():
        print(f"\n== ZigZag: not run ({python} missing; create it with: python -m venv /work/zigzag-venv && "
              "/work/zigzag-venv/bin/pip install zigzag-dse six)")
        return
    cases = [{"M": op.m, "N": op.n, "K": op.k, "name": op.name} for op in op_list]
    proc = subprocess.run([python, str(HERE / "zigzag_runner.py")], input=json.dumps(cases), capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        print(f"\n== ZigZag failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        return
    data = json.loads(proc.stdout)
    print(f"\n== ZigZag {len(cases)} GEMMs on its edge_tpu_like (LOMA temporal search, latency objective, the runner's "
          "default 256-MAC unrolling; benchmarks/zigzag_align.py has the 1024-MAC comparison on a faithful mirror); "
          f"import {data['import_seconds']:.1f} s once per process")
    print(f"  {'op':24s} {'zigzag s':>9s} {'cpsat s':>8s} {'exhaust s':>9s}  {'zigzag cycles':>14s} {'edgesim cycles':>15s}")
    cp = CpSatSearcher(deterministic_limit=3)
    for op, r in zip(op_list, data["results"], strict=True):
        c, t_cp = timed(cp, arch, op)
        _, t_ex = timed(ExhaustiveSearcher(), arch, op)
        if "error" in r:
            print(f"  {op.name:24s} error: {r['error']}")
            continue
        ours = c.cost.total_cycles if not isinstance(c, Infeasible) else float("nan")
        print(f"  {op.name:24s} {r['seconds']:9.2f} {t_cp:8.2f} {t_ex:9.2f}  {r['latency_cycles']:14,.0f} {ours:15,.0f}")
    print("  (cycles are each tool's own model on its own accelerator: edgesim's column is the three-level default NPU "
          "(edge_npu_16x16), so the cycle columns are not comparable; only the search times are)")


AUTO_SHAPES = [(512, 1024, 1024), (512, 4096, 4096), (2048, 4096, 4096), (2048, 11008, 4096), (4096, 11008, 4096)]


def auto_evidence(arch, quick: bool) -> None:
    """What `--mapper auto` rests on: exhaustive search against CP-SAT (raw, and as shipped) on dense mapspaces
    (every multiple of the array extent) of growing size, up to 1.7 billion candidates."""
    opts = MapspaceOptions(imperfect=Imperfect.ALIGNED)
    print("\n== auto: exhaustive vs CP-SAT by mapspace size (dense mapspace, edge_npu_16x16; CP-SAT 3 deterministic "
          "units, one worker)")
    print(f"{'op':22s} {'candidates':>14s} | {'exhaustive s':>12s} | {'CP-SAT raw s':>12s} {'gap':>9s} | "
          f"{'CP-SAT pipeline s':>17s} {'gap':>9s}")
    for m, n, k in AUTO_SHAPES[:2] if quick else AUTO_SHAPES:
        op = Gemm(name=f"{m}x{n}x{k}", m=m, n=n, k=k)
        size = build_mapspace(arch, op, opts).size
        ex, te = timed(ExhaustiveSearcher(opts), arch, op)
        cells = []
        for raw in (True, False):
            r, t = timed(CpSatSearcher(options=opts, raw=raw), arch, op)
            gap = ("no solution" if isinstance(r, Infeasible)
                   else f"{r.cost.total_cycles / ex.cost.total_cycles - 1:9.3%}")
            cells.append(f"{t:12.2f} {gap:>9s}" if raw else f"{t:17.2f} {gap:>9s}")
        print(f"{op.name:22s} {size:14,d} | {te:12.2f} | {cells[0]} | {cells[1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--zigzag-python", default="/work/zigzag-venv/bin/python")
    ap.add_argument("--only-auto", action="store_true", help="only the auto-mapper evidence section")
    args = ap.parse_args()
    arch = load_arch()
    if args.only_auto:
        auto_evidence(arch, args.quick)
        return
    op_list = ops(args.quick)
    print(f"edgesim scheduler benchmark on {arch.name}: {len(op_list)} ops")
    compare(arch, op_list, MapspaceOptions(), 1.0 if args.quick else 3.0, "default mapspace (divisors + E·2^j)")
    scaled = [Gemm(name="s_512x1024x1024", m=512, n=1024, k=1024), Gemm(name="s_256x1376x512", m=256, n=1376, k=512),
              Gemm(name="s_509x1021x257", m=509, n=1021, k=257), Gemm(name="s_lora_512x8x1024", m=512, n=8, k=1024),
              Gemm(name="s_1024x512x768", m=1024, n=512, k=768)]
    compare(arch, scaled[:2] if args.quick else scaled, MapspaceOptions(imperfect=Imperfect.ALIGNED), 3.0,
            "dense mapspace (divisors + every multiple of E), scaled shapes")
    zz = [Gemm(name="fwd_T512_4096x4096", m=512, n=4096, k=4096), Gemm(name="loraA_T512_r8", m=512, n=8, k=4096),
          Gemm(name="loraB_T512_r8", m=512, n=4096, k=8), Gemm(name="fwd_T512_4096x11008", m=512, n=11008, k=4096),
          Gemm(name="odd_127x509x1021", m=127, n=509, k=1021), Gemm(name="dW_T256_4096x4096", m=4096, n=4096, k=256)]
    zigzag(args.zigzag_python, zz[:3] if args.quick else zz, arch)
    auto_evidence(arch, args.quick)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
