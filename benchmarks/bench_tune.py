"""Benchmark: expand, map and cost a full LLaMA-7B Edge-LLM tuning step (all four phases of the default
trace) and a vanilla LoRA step on the default accelerator.

Run:  python benchmarks/bench_tune.py [--engine analytic|sim] [--mapper auto|heuristic|cpsat|...]
Prints wall time cold (empty schedule cache on disk and in the process) and from the disk cache (a new
in-process start with the schedule cache filled by the cold run).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import TRACE_DIR, load_trace
from edgesim.evaluate import clear_caches
from edgesim.llm.step import TuningSettings
from edgesim.llm.tune import run_method
from edgesim.methods import Method
from edgesim.results import Engine
from edgesim.search.factory import MAPPERS, make_mapper


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=[e.value for e in Engine], default="sim")
    ap.add_argument("--mapper", choices=MAPPERS, default="auto")
    args = ap.parse_args()
    arch, model = load_arch(), load_model("llama7b")
    trace = load_trace(TRACE_DIR / "llama7b_edge_llm.json", model)
    st = TuningSettings(seq=trace.sequence_length, batch=trace.batch)
    print(f"LLaMA-7B on {arch.name}, seq {st.seq}, engine {args.engine}, mappings {args.mapper}")
    for method in (Method.EDGE_LLM, Method.LORA):
        with tempfile.TemporaryDirectory() as tmp:
            times = []
            for _ in range(2):
                clear_caches()  # drop every in-process cache, as a new process would start
                searcher = make_mapper(args.mapper, Path(tmp))
                t0 = time.perf_counter()
                r = run_method(arch, model, method, st, trace, Engine(args.engine), searcher)
                times.append(time.perf_counter() - t0)
        ops = sum(c.ops for c, _ in r.steps)
        print(f"  {method:<9} {len(r.steps)} step graph(s), {ops:,} ops: cold {times[0]:.2f} s, "
              f"from the schedule cache {times[1]:.2f} s; modelled step {r.seconds:.2f} s, peak {r.peak_bytes / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
