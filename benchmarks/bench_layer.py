"""Benchmark: simulate one LLaMA-7B decoder layer (hidden 4096, intermediate 11008, 32 heads, seq 512)
on the default accelerator with the tile-level simulator, and draw its timeline.

Run:  python benchmarks/bench_layer.py [--quick] [--png docs/img/llama7b_layer_timeline.png]
Prints the time to map the GEMMs (heuristic mapper), to simulate every op with fixed mappings, and
both together, best of N runs in one process (imports excluded).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.cost.model import GemmCost
from edgesim.cost.vector import evaluate_vector
from edgesim.evaluate import clear_caches, run_op
from edgesim.llm.layers import LayerSettings, decoder_layer_forward
from edgesim.mapping import Mapping
from edgesim.ops import Gemm
from edgesim.report.timeline import plot
from edgesim.results import Engine, OpResult, SimulationResult
from edgesim.search.heuristic import heuristic_mapping
from edgesim.sim.pipeline import simulate

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--png", default=str(REPO / "docs" / "img" / "llama7b_layer_timeline.png"))
    args = ap.parse_args()
    repeats = 2 if args.quick else 5
    arch = load_arch()
    ops = decoder_layer_forward(load_model("llama7b"), LayerSettings(seq=512, lora_rank=8))
    gemms = [op for op in ops if isinstance(op, Gemm)]

    t_map = t_sim = t_all = float("inf")
    mappings: dict[str, Mapping] = {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        for op in gemms:
            m = heuristic_mapping(arch, op)
            assert isinstance(m, Mapping), m
            mappings[op.name] = m
        t1 = time.perf_counter()
        results = []
        for op in ops:
            if isinstance(op, Gemm):
                results.append(simulate(arch, op, mappings[op.name], max_events=300))
            else:
                results.append(evaluate_vector(arch, op))
        clear_caches()  # cold: no mapping found earlier in this process
        t2 = time.perf_counter()
        res = SimulationResult(arch=arch, workload_name="llama-7b layer", engine=Engine.SIM,
                               results=tuple(run_op(arch, op, Engine.SIM, max_events=300) for op in ops))
        t3 = time.perf_counter()
        t_map, t_sim, t_all = min(t_map, t1 - t0), min(t_sim, t2 - t1), min(t_all, t3 - t2)

    total = sum(r.total_cycles for r in res.results)
    stalls = {k: sum(r.stall_cycles[k] for r in res.results) for k in res.results[0].stall_cycles}
    print(f"LLaMA-7B decoder layer, seq 512, LoRA r=8 on q/v: {len(ops)} ops ({len(gemms)} GEMMs) on {arch.name}")
    print(f"  simulated cycles {total:,.0f} = {total / arch.clock_mhz / 1e3:,.1f} ms at {arch.clock_mhz:g} MHz; "
          f"stalls: " + ", ".join(f"{k} {v:,.0f}" for k, v in stalls.items()))
    tiles = sum(r.sim.tiles for r in res.results if isinstance(r, OpResult) and r.sim is not None)
    print(f"  tiles played: {tiles:,}")
    print(f"  heuristic mapping of {len(gemms)} GEMMs : {t_map:.3f} s")
    print(f"  tile simulation of all ops (fixed maps): {t_sim:.3f} s")
    print(f"  map + simulate, cold caches (edgesim simulate --engine sim, no plot): {t_all:.3f} s   (best of {repeats})")
    t0 = time.perf_counter()
    plot(res, args.png)
    print(f"  timeline PNG: {args.png} ({time.perf_counter() - t0:.2f} s to draw)")
    assert all(isinstance(r.cost, GemmCost) or not isinstance(r.op, Gemm) for r in res.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
