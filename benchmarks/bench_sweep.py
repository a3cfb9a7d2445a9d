"""Benchmark a hardware sweep of the LLaMA-7B Edge-LLM tuning step: configs per second, the projected time of a
1,000-config sweep, and the ratio against a shell loop of `edgesim tune` on a 20-config subset.

Run:  python benchmarks/bench_sweep.py [--configs 100] [--workers 2] [--mapper auto] [--loop 20]
The sweep draws --configs distinct points at random (seed 0) from a 4 x 4 x 12 x 6 grid of 1,152 (array rows,
columns, buffer KiB, DRAM GB/s), so `--configs 1000` measures the target itself rather than projecting it. Every
point runs the Edge-LLM step (all four phases of the default trace) with the default scheduled mapper, on a
LocalCluster of --workers processes, with cold caches (a new schedule-cache directory, new worker processes).
The shell loop runs `edgesim tune --method edge-llm --format json` once per config, one after the other, sharing
one (initially empty) schedule cache directory, as a user's script would.
Target (DESIGN.md section 4): 1,000 configs in <= 10 min on 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgesim.config.sweep import load_sweep_spec
from edgesim.sweep.run import run_sweep
from edgesim.sweep.space import sample_points

SPEC = """\
name: bench-llama7b-edge-llm
hardware: edge_npu_16x16
parameters:
  pe_array.rows: [8, 16, 32, 64]
  pe_array.cols: [8, 16, 32, 64]
  global_buffer.capacity_kib: {{log_range: [128, 4096], num: 12}}
  dram.bandwidth_gb_per_s: [6.4, 12.8, 19.2, 25.6, 51.2, 102.4]
workloads:
  - {{kind: tune, model: llama7b, method: edge-llm, seq: 512}}
objectives: [latency_s, energy_j, area_mm2]
sampler: {{kind: random, n: {n}, seed: 0}}
mapper: {mapper}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=100, help="points in the timed sweep (default 100; at most 1,152)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mapper", default="auto")
    ap.add_argument("--loop", type=int, default=20, help="configs in the shell-loop comparison (default 20; 0: skip)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(SPEC.format(n=args.configs, mapper=args.mapper), encoding="utf-8")
        spec = load_sweep_spec(spec_path)
        t0 = time.perf_counter()
        s = run_sweep(spec, Path(tmp) / "r.db", workers=args.workers, cache_dir=str(Path(tmp) / "cache"), progress=False)
        wall = time.perf_counter() - t0
        n = s.counts["done"] + s.counts["infeasible"] + s.counts["failed"]
        rate = n / wall
        print(f"sweep: {n} configs ({s.counts}) of the LLaMA-7B Edge-LLM step, mapper {args.mapper}, "
              f"{args.workers} workers, cold caches: {wall:.1f} s wall (incl. cluster start) = {rate:.3f} configs/s")
        how = "measured: this run" if n >= 1000 else f"projected from these {n}"
        print(f"  1,000 configs: {1000 / rate / 60:.1f} min ({how}; target <= 10 min on 2 cores)")
        if args.loop:
            points = sample_points(spec)[: args.loop]
            cache = Path(tmp) / "loop-cache"
            t0 = time.perf_counter()
            for p in points:
                sets = [f"--set={o}" for o in p.overrides]
                subprocess.run([sys.executable, "-m", "edgesim", "tune", "--method", "edge-llm", "--mapper", args.mapper,
                                "--cache-dir", str(cache), *sets, "--format", "json"], check=True, capture_output=True)
            loop = time.perf_counter() - t0
            print(f"shell loop of edgesim tune: {len(points)} configs in {loop:.1f} s = {loop / len(points):.2f} s/config; "
                  f"the sweep takes {1 / rate:.2f} s/config: {loop / len(points) * rate:.2f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
