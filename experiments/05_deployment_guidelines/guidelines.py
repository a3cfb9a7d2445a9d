"""The deployment-guidelines study's workloads and analysis (imported by run.py; no I/O besides the trace writer).

A *choice* is a tuning method on a base model compressed one way (e.g. "lora w4 s50%": LoRA on 4-bit weights with
50% unstructured sparsity), or RAG. Every sweep row is one choice at one amount of personal data (`samples` of
`SEQ` tokens, one epoch): its whole adaptation (time, energy, peak memory), or one query after it (`infer`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from edgesim.config.sweep import WorkloadSpec
from edgesim.llm.adaptation import BreakEven
from edgesim.llm.model import ModelShape

BUDGETS = {"1 min": 60.0, "10 min": 600.0, "1 h": 3600.0, "overnight (8 h)": 8 * 3600.0}
# a phone battery: 4,000 mAh at the 3.85 V nominal of a Li-ion cell = 15.4 Wh = 55,440 J
BATTERY_MAH, BATTERY_V = 4000, 3.85
BATTERY_J = BATTERY_MAH / 1000 * BATTERY_V * 3600
COMPRESSIONS = [(b, s) for b in (16, 8, 4) for s in (0.0, 0.5)]  # frozen base weights: bits, unstructured sparsity
STANDIN_SPARSITY, STANDIN_BITS, STANDIN_WINDOWS, STANDIN_STEPS = 0.5, 8, 4, 100


@dataclass(frozen=True)
class Plan:
    """What one run covers (the full study or --quick)."""

    devices: tuple[str, ...]
    models: tuple[str, ...]
    amounts: tuple[int, ...]  # personal data: samples of `seq` tokens
    seq: int
    prompt: int  # a query's prompt (RAG adds top_k chunks of chunk_tokens to it)
    generate: int
    chunk_tokens: int
    compressions: tuple[tuple[int, float], ...]
    traces: dict[str, str]  # model -> Edge-LLM trace path (absent: the model's default trace)


def tag(bits: int | None, sparsity: float) -> str:
    return (f" w{bits}" if bits is not None else "") + (f" s{sparsity:.0%}" if sparsity else "")


def workloads(plan: Plan, model: str) -> list[dict[str, Any]]:
    """The sweep workloads for one model: every choice at every amount of data, and the queries after them."""
    out: list[dict[str, Any]] = []
    trace = {"trace": plan.traces[model]} if model in plan.traces else {}
    for n in plan.amounts:
        base = {"kind": "tune", "model": model, "seq": plan.seq, "samples": n}
        out += [{**base, "method": "full"}, {**base, "method": "qlora"}, {**base, "method": "edge-llm", **trace},
                {**base, "method": "rag", "chunk_tokens": plan.chunk_tokens}]
        for b, s in plan.compressions:
            comp = {"weight_bits": b, **({"weight_sparsity": s} if s else {})}
            out += [{**base, "method": "lora", **comp}, {**base, "method": "partial", **comp}]
    q = {"kind": "infer", "model": model, "prompt": plan.prompt, "generate": plan.generate}
    out.append({**q, "method": "edge-llm", **trace})
    for b, s in plan.compressions:
        comp = {"weight_bits": b, **({"weight_sparsity": s} if s else {})}
        out.append({**q, "method": "lora", **comp})
        for n in plan.amounts:
            chunks = math.ceil(n * plan.seq / plan.chunk_tokens)
            out.append({**q, "method": "rag", "chunk_tokens": plan.chunk_tokens, "chunks": chunks, **comp})
    return out


def spec(plan: Plan, device: str, mapper: str) -> dict[str, Any]:
    """A workload-only sweep spec on one device (no hardware parameters: the base accelerator alone)."""
    return {"name": f"deployment-guidelines-{device}", "hardware": device,
            "workloads": [w for m in plan.models for w in workloads(plan, m)],
            "objectives": ["latency_s", "energy_j", "peak_memory_bytes"], "sampler": {"kind": "grid"},
            "mapper": mapper}


def standin_trace(model: ModelShape, seq: int) -> dict[str, Any]:
    """An Edge-LLM trace for a model without measured sensitivities: every layer alike (STANDIN_SPARSITY unstructured,
    STANDIN_BITS bits; LLaMA-7B's measured trace has mean sparsity 0.5 and 28 of 32 layers at 8 bits), tuned in
    STANDIN_WINDOWS equal windows, each exiting at its last layer. Its provenance says so."""
    L = model.layers
    stride = math.ceil(L / STANDIN_WINDOWS)
    windows = [(a, min(a + stride, L) - 1) for a in range(0, L, stride)]
    layer = {"weight_sparsity": STANDIN_SPARSITY, "sparsity_format": "unstructured", "weight_bits": STANDIN_BITS,
             "activation_bits": STANDIN_BITS, "kv_bits": STANDIN_BITS, "lora_rank": 8, "trainable": True}
    return {"schema_version": 1, "model": model.name, "num_layers": L, "sequence_length": seq, "batch": 1,
            "optimizer": "adam",
            "provenance": {"tool": "experiments/05_deployment_guidelines/run.py",
                           "policy": (f"uniform stand-in, not measured: {STANDIN_SPARSITY:.0%} unstructured sparsity "
                                      f"and {STANDIN_BITS} bits on every layer, {len(windows)} windows")},
            "layers": [{"index": i, **layer} for i in range(L)],
            "tuning": {"phases": [{"name": f"phase{i}", "trainable_window": [a, b], "exit_layer": b,
                                   "steps": STANDIN_STEPS} for i, (a, b) in enumerate(windows)]},
            "inference": {"exit_layers": [b for _, b in windows], "voting": "max-prob"}}


def choice_name(w: WorkloadSpec) -> str:
    """How a table names the choice: the method and, for a uniformly compressed base, its compression."""
    standin = w.trace is not None and "standin" in Path(w.trace).name
    extra = {"qlora": " (NF4)", "edge-llm": " (uniform stand-in)" if standin else " (LUC)"}.get(w.method, "")
    return f"{w.method}{extra}{tag(w.weight_bits, w.weight_sparsity)}"


def tidy(frames: dict[str, tuple[pd.DataFrame, list[WorkloadSpec], float]]) -> pd.DataFrame:
    """One row per (device, workload) with the workload's fields as columns. `frames`: device -> (the sweep's rows,
    its workloads, the device's DRAM capacity in bytes)."""
    rows = []
    for device, (df, specs, capacity) in frames.items():
        by_label = {w.label: w for w in specs}
        for r in df.itertuples():
            w = by_label[r.workload]
            rows.append({"device": device, "model": w.model, "kind": w.kind, "method": w.method,
                         "choice": choice_name(w), "weight_bits": w.weight_bits, "weight_sparsity": w.weight_sparsity,
                         "samples": w.samples, "chunks": w.chunks, "status": r.status, "error": r.error,
                         "latency_s": r.latency_s, "energy_j": r.energy_j, "peak_gib": r.peak_memory_bytes / 2**30
                         if r.peak_memory_bytes == r.peak_memory_bytes else math.nan,
                         "capacity_gib": capacity / 2**30, "fits": bool(r.fits)})
    return pd.DataFrame(rows)


def query_for(t: pd.DataFrame, tuned: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The query after a tuning choice and the RAG query on the comparable generator, at the same device, model and
    data. The comparable compression: the choice's own (lora, partial); 8-bit dense for full; 4-bit for qlora (its
    inference is modelled on 4-bit weights without the NF4 dequantisation); 8-bit at 50% sparsity for edge-llm
    (its LUC trace's mean)."""
    comp = {"full": (8, 0.0), "qlora": (4, 0.0), "edge-llm": (8, 0.5)}.get(
        tuned["method"], (tuned["weight_bits"], tuned["weight_sparsity"]))
    same = t[(t.device == tuned["device"]) & (t.model == tuned["model"]) & (t.kind == "infer")]
    if tuned["method"] == "edge-llm":
        q = same[same.method == "edge-llm"].iloc[0]
    else:
        q = same[(same.method == "lora") & (same.weight_bits == comp[0]) & (same.weight_sparsity == comp[1])].iloc[0]
    rag = same[(same.method == "rag") & (same.weight_bits == comp[0]) & (same.weight_sparsity == comp[1])
               & (same.chunks == _chunks(t, tuned))].iloc[0]
    return q, rag


def _chunks(t: pd.DataFrame, tuned: pd.Series) -> float:
    """The chunk count of the RAG queries over the tuning choice's corpus."""
    idx = t[(t.device == tuned["device"]) & (t.model == tuned["model"]) & (t.method == "rag") & (t.kind == "infer")]
    counts = sorted(set(idx.chunks))
    amounts = sorted(set(t[(t.kind == "tune")].samples))
    return float(counts[amounts.index(tuned["samples"])])


def break_even(t: pd.DataFrame, tuned: pd.Series) -> dict[str, BreakEven]:
    """Tuning (the choice, then its queries) against RAG (indexing the same corpus, then its queries), per metric."""
    q, rag_q = query_for(t, tuned)
    index = t[(t.device == tuned["device"]) & (t.model == tuned["model"]) & (t.method == "rag") & (t.kind == "tune")
              & (t.samples == tuned["samples"])].iloc[0]
    return {m: BreakEven(metric=m, tune_once=tuned[c], rag_once=index[c], tuned_query=q[c], rag_query=rag_q[c])
            for m, c in (("time", "latency_s"), ("energy", "energy_j"))}


def feasible_tuning(t: pd.DataFrame) -> pd.DataFrame:
    """Tuning rows that run: they fit the device's memory and no op is infeasible (status done)."""
    return t[(t.kind == "tune") & (t.method != "rag") & (t.status == "done")]


def guidelines(t: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Per device, budget and model: the tuning choices that fit the device's memory ranked by time and by energy per
    sample (adaptation is steps x step cost, so the ranking is the same at every amount of data), how many samples the
    fastest adapts to within the budget, and RAG on that much data (the largest swept amount not above it)."""
    ok = feasible_tuning(t)
    rows = []
    for device in dict.fromkeys(t.device):
        for budget, seconds in BUDGETS.items():
            for model in models:
                row: dict[str, Any] = {"device": device, "budget": budget, "model": model}
                c = ok[(ok.device == device) & (ok.model == model)]
                if c.empty:
                    rows.append({**row, "samples": 0, "note": "no tuning choice fits in memory"})
                    continue
                c = c[c.samples == c.samples.min()].assign(s_per=lambda d: d.latency_s / d.samples,
                                                              j_per=lambda d: d.energy_j / d.samples)
                by_t, by_e = c.sort_values("s_per"), c.sort_values("j_per")
                n = math.floor(seconds / by_t.iloc[0].s_per)
                amounts = sorted(set(ok.samples))
                at = max([a for a in amounts if a <= n], default=amounts[0])
                best = ok[(ok.device == device) & (ok.model == model) & (ok.samples == at)
                          & (ok.choice == by_t.iloc[0].choice)].iloc[0]
                be = break_even(t, best)
                second = len(c) > 1
                row.update({"samples": n, "fastest": by_t.iloc[0].choice, "fastest_s_per": by_t.iloc[0].s_per,
                            "runner_up_time": by_t.iloc[1].choice if second else "",
                            "runner_up_s_per": by_t.iloc[1].s_per if second else math.nan,
                            "frugal": by_e.iloc[0].choice, "frugal_j_per": by_e.iloc[0].j_per,
                            "runner_up_energy": by_e.iloc[1].choice if second else "",
                            "runner_up_j_per": by_e.iloc[1].j_per if second else math.nan,
                            "rag_samples": int(at), "rag_index_s": be["time"].rag_once,
                            "break_even_time": be["time"].describe(), "break_even_energy": be["energy"].describe(),
                            "note": ""})
                rows.append(row)
    return pd.DataFrame(rows)


def fit_map(t: pd.DataFrame) -> pd.DataFrame:
    """Peak memory over the device's DRAM per (device, model, choice): a tuning step's peak (the same at any amount of
    data), and for RAG a query's peak with the index of the largest corpus."""
    tune = t[(t.kind == "tune") & (t.method != "rag")]
    tune = tune[tune.samples == tune.samples.max()]
    rag = t[(t.kind == "infer") & (t.method == "rag")]
    rag = rag[rag.chunks == rag.chunks.max()].assign(choice=lambda d: "rag query" + d.choice.str[3:])
    out = pd.concat([tune, rag])
    out["choice"] = out.choice.where(out.method != "edge-llm", "edge-llm")  # LUC or stand-in: one column
    order = {m: i for i, m in enumerate(("full", "partial", "lora", "qlora", "edge-llm", "rag"))}
    out = out.assign(order=out.method.map(order)).sort_values(["order", "weight_bits", "weight_sparsity"],
                                                              ascending=[True, False, True], kind="stable")
    out = out[["device", "model", "choice", "peak_gib", "capacity_gib", "fits", "status", "error"]]
    return out.assign(share=out.peak_gib / out.capacity_gib).reset_index(drop=True)


def battery(t: pd.DataFrame) -> pd.DataFrame:
    """Per device, model and amount of data: the least-energy feasible tuning choice and RAG's indexing, as joules and
    as a share of BATTERY_J."""
    ok = feasible_tuning(t)
    rows = []
    for (device, model, n), g in ok.groupby(["device", "model", "samples"], sort=False):
        best = g.sort_values("energy_j").iloc[0]
        index = t[(t.device == device) & (t.model == model) & (t.method == "rag") & (t.kind == "tune")
                  & (t.samples == n)].iloc[0]
        rows.append({"device": device, "model": model, "samples": int(n), "choice": best.choice,
                     "energy_j": best.energy_j, "battery_share": best.energy_j / BATTERY_J,
                     "rag_index_j": index.energy_j, "rag_battery_share": index.energy_j / BATTERY_J})
    return pd.DataFrame(rows)


def seconds_text(s: float) -> str:
    """A duration in the unit that reads best (s, min, h, days)."""
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"
