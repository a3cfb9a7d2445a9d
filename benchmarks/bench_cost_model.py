"""Benchmark the vectorised cost model: mapping evaluations per second (one core), and the time to
model one GEMM against SCALE-Sim v3 on the same cases, side by side.

Run:  python benchmarks/bench_cost_model.py            (SCALE-Sim part needs benchmarks/scalesim_env.sh)
      python benchmarks/bench_cost_model.py --quick    (fewer repeats, smaller cases)
Prints the figures recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: numpy's element-wise kernels are single-threaded anyway

import numpy as np  # noqa: E402

from edgesim.config.hardware import load_arch  # noqa: E402
from edgesim.cost import evaluate_one  # noqa: E402
from edgesim.cost.model import evaluate  # noqa: E402
from edgesim.mapping import Dataflow, Mapping, MappingSet  # noqa: E402
from edgesim.ops import Gemm, WeightFormat  # noqa: E402

HERE = Path(__file__).resolve().parent
SCALESIM_PY = Path(os.environ.get("SCALESIM_VENV", "/work/scalesim-venv")) / "bin" / "python"


def random_mappings(op: Gemm, n: int, rng: np.random.Generator) -> MappingSet:
    return MappingSet(dataflow=rng.integers(0, 3, n), tile_m=rng.integers(1, op.m + 1, n),
                      tile_n=rng.integers(1, op.n + 1, n), tile_k=rng.integers(1, op.k + 1, n),
                      order=rng.integers(0, 6, n), double_buffer=rng.integers(0, 2, n).astype(bool))


def bench_evaluations(n: int, repeats: int) -> None:
    arch = load_arch()
    rng = np.random.default_rng(0)
    ops = [Gemm(name="q_proj", m=512, n=4096, k=4096),
           Gemm(name="down_sparse", m=512, n=4096, k=11008, weight_density=0.447, weight_format=WeightFormat.UNSTRUCTURED),
           Gemm(name="lora_a", m=512, n=8, k=4096, a_bits=4, b_bits=4)]
    print(f"== mapping evaluations per second (vectorised, {n:,} candidates per call, best of {repeats}) ==")
    for op in ops:
        maps = random_mappings(op, n, rng)
        best = min(_timed(lambda: evaluate(arch, op, maps)) for _ in range(repeats))  # noqa: B023
        print(f"  {op.name:<12} {op.m}x{op.n}x{op.k:<6} {n / best:>12,.0f} evaluations/s")


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def scalesim_cases(quick: bool) -> list[dict[str, object]]:
    shapes = [(8, 8, 8), (64, 64, 64), (128, 256, 64), (256, 256, 256), (100, 37, 211), (512, 64, 128), (31, 97, 127)]
    if quick:
        shapes = shapes[:3]
    return [{"M": m, "N": n, "K": k, "rows": 16, "cols": 16, "dataflow": df}
            for (m, n, k) in shapes for df in ("os", "ws", "is")]


def bench_vs_scalesim(quick: bool, repeats: int) -> None:
    print("\n== time to model one GEMM: edgesim (analytic) vs SCALE-Sim v3 (same shape, 16x16 array, no tiling) ==")
    if not SCALESIM_PY.exists():
        print(f"  skipped: {SCALESIM_PY} not found; run `bash benchmarks/scalesim_env.sh` first")
        return
    cases = scalesim_cases(quick)
    proc = subprocess.run([str(SCALESIM_PY), str(HERE / "scalesim_runner.py")], input=json.dumps(cases),
                          capture_output=True, text=True, check=True)
    results = json.loads(proc.stdout)
    arch = load_arch(None, ["pe_array.rows=16", "pe_array.cols=16", "global_buffer.capacity_kib=1048576"])
    print(f"  {'shape':<16}{'df':<4}{'scalesim s':>12}{'edgesim s':>12}{'speed-up':>11}{'cycles (ss / es)':>24}")
    ratios = []
    for case, res in zip(cases, results, strict=True):
        op = Gemm(name="g", m=int(case["M"]), n=int(case["N"]), k=int(case["K"]))  # type: ignore[call-overload]
        mp = Mapping(dataflow=Dataflow(str(case["dataflow"])), tile_m=op.m, tile_n=op.n, tile_k=op.k)
        t_es = min(_timed(lambda: evaluate_one(arch, op, mp)) for _ in range(repeats))  # noqa: B023
        cost = evaluate_one(arch, op, mp)
        ss_cycles = res["total_cycles"] - res["stall_cycles"]
        ratio = res["seconds"] / t_es
        ratios.append(ratio)
        shape = f"{op.m}x{op.n}x{op.k}"
        print(f"  {shape:<16}{case['dataflow']:<4}{res['seconds']:>12.4f}{t_es:>12.6f}{ratio:>10,.0f}x"
              f"{ss_cycles:>12,} / {cost.compute_cycles:,.0f}")  # type: ignore[union-attr]
    print(f"  speed-up over SCALE-Sim: min {min(ratios):,.0f}x, median {float(np.median(ratios)):,.0f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    bench_evaluations(n=50_000 if args.quick else 200_000, repeats=3 if args.quick else 5)
    bench_vs_scalesim(args.quick, repeats=5 if args.quick else 20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
