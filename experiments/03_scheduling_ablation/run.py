"""Ablation of Edge-LLM's third part, per-layer hardware scheduling: scheduled mappings vs the best single
fixed dataflow, per phase of a tuning step.

"Fixed dataflow" = every GEMM of the step on one dataflow (weight-, output- or input-stationary) with its
natural loop order and a greedy tile (edgesim.search.fixed): no scheduling. The best of the three (lowest
step time) is the baseline. "Scheduled" = edgesim's scheduler (exhaustive search where the mapspace has
<= 300M points, CP-SAT beyond), per op: the least-energy mapping within --latency-tolerance (2%) of the
fastest, never slower than the best fixed dataflow. Both use the same cost model.

Run:  python experiments/03_scheduling_ablation/run.py [--quick] [--hw NAME] [--method edge-llm|lora] [--out DIR]
--quick: the tiny model (seconds). Full: LLaMA-7B, default trace (about a minute cold).
Writes scheduling_<model>_<hw>_<method>.csv to --out, by default results/ beside this file (--quick: a temporary
folder, so that CI never touches the committed results).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from edgesim.config.hardware import load_arch
from edgesim.config.traces import load_model_and_trace
from edgesim.llm.step import TuningSettings
from edgesim.llm.trace import check_against
from edgesim.llm.tune import run_method
from edgesim.methods import Method
from edgesim.results import MethodResult
from edgesim.search.factory import make_mapper

HERE = Path(__file__).resolve().parent
PHASES = ("forward", "backward_data", "backward_weight", "optimizer")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", metavar="DIR", help="where the CSV goes (default results/ beside this file; --quick: a "
                                                 "temporary folder)")
    ap.add_argument("--hw", default=None)
    ap.add_argument("--method", choices=["edge-llm", "lora"], default="edge-llm")
    ap.add_argument("--latency-tolerance", type=float, default=0.02,
                    help="scheduler: least energy among mappings within this fraction of the fastest (default 0.02)")
    args = ap.parse_args()
    arch = load_arch(args.hw)
    model, trace = load_model_and_trace("tiny" if args.quick else "llama7b")
    check_against(trace, arch)
    st = TuningSettings(seq=trace.sequence_length, batch=trace.batch)
    method = Method(args.method)
    results: dict[str, MethodResult] = {}
    with tempfile.TemporaryDirectory() as cache:
        for mapper in ("fixed-ws", "fixed-os", "fixed-is", "auto"):
            searcher = make_mapper(mapper, Path(cache), args.latency_tolerance if mapper == "auto" else 0.0)
            results[mapper] = run_method(arch, model, method, st, trace, searcher=searcher)
    best_fixed = min(("fixed-ws", "fixed-os", "fixed-is"), key=lambda m: results[m].seconds)
    sched, base = results["auto"], results[best_fixed]
    rows = []
    for phase in (*PHASES, "step"):
        if phase == "step":
            b_c, s_c, b_d, s_d = base.cycles, sched.cycles, base.dram_bytes, sched.dram_bytes
        else:
            b_c, s_c = base.by_phase[phase]["cycles"], sched.by_phase[phase]["cycles"]
            b_d, s_d = base.by_phase[phase]["dram_bytes"], sched.by_phase[phase]["dram_bytes"]
        if b_c == 0 and s_c == 0:
            continue
        rows.append({"phase": phase, f"{best_fixed} s": round(b_c / arch.clock_mhz / 1e6, 3),
                     "scheduled s": round(s_c / arch.clock_mhz / 1e6, 3),
                     "speedup": round(b_c / s_c, 3) if s_c else float("nan"),
                     f"{best_fixed} DRAM GiB": round(b_d / 2**30, 2), "scheduled DRAM GiB": round(s_d / 2**30, 2),
                     "DRAM reduction": round(b_d / s_d, 3) if s_d else float("nan")})
    table = pd.DataFrame(rows)
    folder = Path(args.out) if args.out else (Path(tempfile.mkdtemp()) if args.quick else HERE / "results")
    out = folder / f"scheduling_{model.name}_{arch.name}_{method}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(f"{method} step of {model.name} on {arch.name}; best single fixed dataflow: {best_fixed} "
          f"(step s: ws {results['fixed-ws'].seconds:.3f}, os {results['fixed-os'].seconds:.3f}, "
          f"is {results['fixed-is'].seconds:.3f})")
    print(table.to_string(index=False))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
