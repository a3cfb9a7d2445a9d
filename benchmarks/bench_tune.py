"""Benchmark: expand and cost a full LLaMA-7B Edge-LLM tuning step (all four phases of the default trace)
and a vanilla LoRA step on the default accelerator, with heuristic mappings.

Run:  python benchmarks/bench_tune.py [--engine analytic|sim]
Prints wall time cold (empty mapping cache) and warm (mappings cached in the process).
"""

from __future__ import annotations

import argparse
import time

from edgesim.api import Engine, _cached_mapping
from edgesim.config import load_arch
from edgesim.models import load_model
from edgesim.trace import TRACE_DIR, load_trace
from edgesim.tune import run_method
from edgesim.tuning import Method, TuningSettings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=[e.value for e in Engine], default="analytic")
    args = ap.parse_args()
    arch, model = load_arch(), load_model("llama7b")
    trace = load_trace(TRACE_DIR / "llama7b_edge_llm.json", model)
    st = TuningSettings(seq=trace.sequence_length, batch=trace.batch)
    print(f"LLaMA-7B on {arch.name}, seq {st.seq}, engine {args.engine}")
    for method in (Method.EDGE_LLM, Method.LORA):
        _cached_mapping.cache_clear()
        t0 = time.perf_counter()
        r = run_method(arch, model, method, st, trace, Engine(args.engine))
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_method(arch, model, method, st, trace, Engine(args.engine))
        warm = time.perf_counter() - t0
        ops = sum(c.ops for c, _ in r.steps)
        print(f"  {method:<9} {len(r.steps)} step graph(s), {ops:,} ops: cold {cold:.2f} s, warm {warm:.2f} s; "
              f"modelled step {r.seconds:.2f} s, peak {r.peak_bytes / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
