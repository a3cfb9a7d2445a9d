"""Ablation of Edge-LLM's speed-up and memory cut on an accelerator: which part buys what.

Rows (one tuning step each; ratios are to vanilla LoRA):
  vanilla LoRA            base at --base-bits (fp16 by default), adapters in every layer, backward through all
  + LUC only              the trace's per-layer sparsity and bits, still backward through every layer
  + adaptive tuning only  uncompressed base, Edge-LLM's windows and exits (forward to the exit, backward in the window)
  Edge-LLM (LUC + adaptive)
Every row maps GEMMs with the heuristic grid. Per-layer hardware scheduling, the third part, is not a row yet
(issue 12); experiments/03_scheduling_ablation measures the scheduler against fixed dataflows.

Run:  python experiments/02_edge_llm_ablation/run.py [--quick] [--hw NAME]
--quick uses the tiny test model and its trace (seconds); the full run uses LLaMA-7B and the default
trace (a few seconds). Results go to results/ablation_<model>_<hw>.csv beside this file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from edgesim.config.hardware import load_arch
from edgesim.config.traces import load_model_and_trace
from edgesim.llm.step import TuningSettings, expand_step
from edgesim.llm.trace import LayerPolicy, check_against
from edgesim.llm.tune import cost_step
from edgesim.methods import Method
from edgesim.results import Engine

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _result(arch, model, method, st, policies, phases, engine) -> dict[str, float]:  # type: ignore[no-untyped-def]
    if phases is None:
        steps = [(expand_step(arch, model, method, st, policies), 1)]
    else:
        steps = [(expand_step(arch, model, method, st, policies, ph), ph.steps) for ph in phases]
    costs = [(cost_step(arch, s, engine), w) for s, w in steps]
    total = sum(w for _, w in costs)
    cycles = sum(c.cycles * w for c, w in costs) / total
    return {"seconds": cycles / (arch.clock_mhz * 1e6), "energy_j": sum(c.energy_pj * w for c, w in costs) / total / 1e12,
            "peak_gib": max(c.memory.peak_bytes for c, _ in costs) / 2**30,
            "dram_gib": sum(c.dram_bytes * w for c, w in costs) / total / 2**30}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--hw", default=None)
    ap.add_argument("--engine", choices=[e.value for e in Engine], default="analytic")
    ap.add_argument("--base-bits", type=int, default=16, help="bits of the uncompressed baseline (16 = fp16, 8 = int8)")
    args = ap.parse_args()
    arch = load_arch(args.hw)
    model, trace = load_model_and_trace("tiny" if args.quick else "llama7b")
    check_against(trace, arch)
    st = TuningSettings(seq=trace.sequence_length, batch=trace.batch, base_bits=args.base_bits)
    fp16 = [LayerPolicy(w_bits=st.base_bits, a_bits=st.base_bits, kv_bits=st.base_bits)] * model.layers
    luc = list(trace.policies)
    engine = Engine(args.engine)
    rows = {
        "vanilla LoRA": _result(arch, model, Method.LORA, st, None, None, engine),
        "+ LUC only": _result(arch, model, Method.LORA, st, luc, None, engine),
        "+ adaptive tuning only": _result(arch, model, Method.EDGE_LLM, st, fp16, trace.phases, engine),
        "Edge-LLM (LUC + adaptive)": _result(arch, model, Method.EDGE_LLM, st, luc, trace.phases, engine),
    }
    base = rows["vanilla LoRA"]
    table = pd.DataFrame([{"variant": k, **{c: round(v, 3) for c, v in r.items()},
                           "speedup": round(base["seconds"] / r["seconds"], 2),
                           "memory_cut": round(base["peak_gib"] / r["peak_gib"], 2)} for k, r in rows.items()])
    out = HERE / "results" / f"ablation_{model.name}_{arch.name}_base{st.base_bits}.csv"
    out.parent.mkdir(exist_ok=True)
    table.to_csv(out, index=False)
    print(f"{model.name} on {arch.name} (seq {st.seq}, engine {engine}, baseline {st.base_bits}-bit); "
          "paper reference: 2.92x speed-up, ~4x memory")
    print(table.to_string(index=False))
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
