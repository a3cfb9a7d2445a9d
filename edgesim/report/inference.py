"""The `edgesim infer` report: prefill seconds, decode seconds per token, tokens/s, energy per token and memory."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd

from edgesim.arch import ArchSpec
from edgesim.llm.inference import InferenceSettings
from edgesim.llm.model import ModelShape
from edgesim.results import InferenceResult


def _row(r: InferenceResult) -> dict[str, object]:
    out = dataclasses.asdict(r)
    out["infeasible_ops"] = [{"name": o.name, "reason": o.reason} for o in r.infeasible_ops]
    out["complete"] = not r.infeasible_ops
    return out


def to_json(arch: ArchSpec, model: ModelShape, st: InferenceSettings, results: list[InferenceResult]) -> str:
    return json.dumps({"model": model.name, "hardware": arch.name, "prompt": st.prompt, "generate": st.generate,
                       "methods": [_row(r) for r in results]}, indent=2)


def to_table(arch: ArchSpec, model: ModelShape, st: InferenceSettings, results: list[InferenceResult]) -> str:
    rows = [{"method": r.label + (" INCOMPLETE" if r.infeasible_ops else ""),
             "prefill s": f"{r.prefill_seconds:,.2f}", "decode s/token": f"{r.decode_seconds_per_token:,.3f}",
             "tokens/s": f"{r.tokens_per_second:,.2f}", "energy mJ/token": f"{r.energy_pj_per_token / 1e9:,.1f}",
             "weights GiB": f"{r.weight_bytes / 2**30:,.2f}", "KV cache GiB": f"{r.kv_cache_bytes / 2**30:,.3f}",
             "peak GiB": f"{r.peak_bytes / 2**30:,.2f}", "fits": "yes" if r.peak_bytes <= arch.dram.capacity_bytes else "NO"}
            for r in results]
    return (f"edgesim infer: {model.name}, prompt {st.prompt}, {st.generate} generated tokens, on {arch.name}\n\n"
            + pd.DataFrame(rows).to_string(index=False)
            + "\n\ndecode: mean over the generated tokens; edge-llm keeps weights compressed, runs the LoRA stream "
              "and every exit head, and votes (DESIGN.md 2(b))."
            + "".join(f"\nINCOMPLETE {r.label}: {len(r.infeasible_ops):,} op(s) cannot run on this hardware and are "
                      f"left out of its figures (e.g. {r.infeasible_ops[0].name}: {r.infeasible_ops[0].reason})."
                      for r in results if r.infeasible_ops))
