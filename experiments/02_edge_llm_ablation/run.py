"""Ablation of Edge-LLM's speed-up and memory cut, factor by factor, on five accelerators and two sequence lengths.

Each chain starts from vanilla LoRA at a baseline width and adds Edge-LLM's parts one at a time (cumulative rows):
  1. LoRA                    adapters on q and v of every layer, backward through all layers
  2. + window                train one window of layers per phase (Edge-LLM's phases, loss at the window's exit),
                             backward only down to the window, but the forward still runs every layer
  3. + exit truncation       the forward stops at the active exit (the paper's Edge-LLM without compression)
  4. + LUC sparsity          the trace's per-layer sparsity, weights and activations still at the baseline width
  5. + LUC bits              the trace's per-layer bit-widths too: Edge-LLM with LUC, without scheduling
  6. + per-layer scheduling  every GEMM mapped by edgesim's scheduler instead of one fixed dataflow
  7. + step-level scheduling the step's ops overlapped across the PE array, the vector unit and DRAM by CP-SAT
                             (`--overlap cpsat`, edgesim.overlap) instead of run one after another
Rows 1-5 map every GEMM with the best single fixed dataflow for that row (weight-, output- or input-stationary with
a greedy tile, edgesim.search.fixed; the one of the three with the lowest step time). Rows 6 and 7 use `--mapper
auto` (the least-energy mapping within 2% of the fastest, never slower than the best fixed dataflow). Two reference
rows show what the baseline gets from the same tools: "LoRA, scheduled" (the mapper) and "LoRA, scheduled and
overlapped" (the mapper and CP-SAT's step-level schedule); their factor is over LoRA.

Chains: int8 LoRA on every accelerator (all run int8 natively); fp16 LoRA on the fp16-native one only (an int8
NPU would emulate fp16 in 4 passes, a baseline nobody would run). Where the baseline does not fit the device's DRAM,
its ratios are hypothetical: the CSV says so (`baseline_fits`), and the tables and the figure mark them.

Run:  python experiments/02_edge_llm_ablation/run.py [--quick] [--out DIR]
Full: LLaMA-7B and its default trace at seq 512 and 2048 into results/ beside this file (ablation.csv, ablation.md,
ablation.png). --quick: the tiny model at seq 32 and 128, into a temporary folder unless --out is given.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from edgesim.arch import ArchSpec
from edgesim.config.hardware import load_arch
from edgesim.config.traces import load_model_and_trace
from edgesim.llm.model import ModelShape
from edgesim.llm.step import TuningSettings
from edgesim.llm.trace import LayerPolicy, Trace
from edgesim.llm.tune import run_method
from edgesim.methods import Method
from edgesim.overlap.run import OverlapSettings
from edgesim.results import MethodResult
from edgesim.search.factory import make_mapper
from edgesim.units import GIB

HERE = Path(__file__).resolve().parent
FIXED = ("fixed-ws", "fixed-os", "fixed-is")
STEPS = ("LoRA", "+ window", "+ exit truncation", "+ LUC sparsity", "+ LUC bits", "+ per-layer scheduling",
         "+ step-level scheduling")
REFERENCES = ("LoRA, scheduled", "LoRA, scheduled and overlapped")


@dataclass(frozen=True)
class Device:
    label: str
    hw: str
    overrides: tuple[str, ...] = ()


DEVICES = (
    Device("unstructured-sparse fusion NPU", "edge_npu_16x16"),
    Device("2:4-only NPU", "mobile_npu_32x32"),
    # the default NPU without zero skipping or fusion: a plain int8 array
    Device("no-sparsity NPU", "edge_npu_16x16", ("sparsity.mode=none", "mac.precision_mode=fixed")),
    Device("Bit Fusion", "bitfusion_32x16"),
    Device("fp16 NPU", "fp16_npu_32x32"),
)


def uniform(trace: Trace, bits: int) -> Trace:
    """The trace's phases on an uncompressed model at `bits`."""
    pol = LayerPolicy(w_bits=bits, a_bits=bits, kv_bits=bits)
    return replace(trace, policies=(pol,) * len(trace.policies))


def sparsity_only(trace: Trace, bits: int) -> Trace:
    """The trace's per-layer sparsity, with every width at `bits`."""
    return replace(trace, policies=tuple(replace(p, w_bits=bits, a_bits=bits, kv_bits=bits) for p in trace.policies))


Run = Callable[[Method, TuningSettings, Trace | None, str, str], MethodResult]  # ..., mapper, overlap


def chain(run: Run, model: ModelShape, trace: Trace, seq: int, bits: int) -> list[tuple[str, MethodResult, str]]:
    """(row, result, mapper) for the cumulative rows and the reference row of one baseline width."""
    st = TuningSettings(seq=seq, batch=trace.batch, base_bits=bits, optimizer=trace.optimizer)
    variants: list[tuple[str, Method, TuningSettings, Trace | None]] = [
        ("LoRA", Method.LORA, st, None),
        ("+ window", Method.EDGE_LLM, replace(st, full_forward=True), uniform(trace, bits)),
        ("+ exit truncation", Method.EDGE_LLM, st, uniform(trace, bits)),
        ("+ LUC sparsity", Method.EDGE_LLM, st, sparsity_only(trace, bits)),
        ("+ LUC bits", Method.EDGE_LLM, st, trace),
    ]
    out = []
    for name, method, s, tr in variants:
        fixed = {m: run(method, s, tr, m, "none") for m in FIXED}
        best = min(FIXED, key=lambda m: fixed[m].seconds)
        out.append((name, fixed[best], best))
    out.append(("+ per-layer scheduling", run(Method.EDGE_LLM, st, trace, "auto", "none"), "auto"))
    out.append(("+ step-level scheduling", run(Method.EDGE_LLM, st, trace, "auto", "cpsat"), "auto, cpsat"))
    out.append((REFERENCES[0], run(Method.LORA, st, None, "auto", "none"), "auto"))
    out.append((REFERENCES[1], run(Method.LORA, st, None, "auto", "cpsat"), "auto, cpsat"))
    return out


def rows_for(device: Device, arch: ArchSpec, seq: int, bits: int, results: list[tuple[str, MethodResult, str]],
             int8_lora: MethodResult) -> list[dict[str, Any]]:
    base = results[0][1]
    prev: MethodResult | None = None
    rows = []
    for name, r, mapper in results:
        ok = not r.infeasible_ops  # an incomplete total gives no ratio at all
        ratio_base = ok and not base.infeasible_ops
        ratio_int8 = ok and not int8_lora.infeasible_ops
        step = prev if name not in REFERENCES else base
        rows.append({
            "device": device.label, "hw": arch.name, "seq": seq, "baseline": f"{'fp' if bits == 16 else 'int'}{bits} LoRA",
            "row": name, "mapper": mapper, "complete": ok, "fits": r.fits, "baseline_fits": base.fits,
            "int8_lora_fits": int8_lora.fits,
            "step_s": r.seconds, "peak_gib": r.peak_bytes / GIB, "energy_j": r.energy_pj / 1e12,
            "dram_gib": r.dram_bytes / GIB,
            "factor_speed": step.seconds / r.seconds if step is not None and ok else None,
            "factor_memory": step.peak_bytes / r.peak_bytes if step is not None and ok else None,
            "speedup_vs_baseline": base.seconds / r.seconds if ratio_base else None,
            "memory_cut_vs_baseline": base.peak_bytes / r.peak_bytes if ratio_base else None,
            "energy_cut_vs_baseline": base.energy_pj / r.energy_pj if ratio_base else None,
            "speedup_vs_int8_lora": int8_lora.seconds / r.seconds if ratio_int8 else None,
            "memory_cut_vs_int8_lora": int8_lora.peak_bytes / r.peak_bytes if ratio_int8 else None,
        })
        if name not in REFERENCES:
            prev = r
    return rows


def run_all(model: ModelShape, trace: Trace, seqs: tuple[int, ...], cache: Path, progress: bool,
            budget: float) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    jobs = [(d, seq) for d in DEVICES for seq in seqs]
    for device, seq in tqdm(jobs, desc="device x seq", disable=not progress):
        arch = load_arch(device.hw, list(device.overrides))

        def run(method: Method, st: TuningSettings, tr: Trace | None, mapper: str, overlap: str,
                arch: ArchSpec = arch) -> MethodResult:
            tolerance = 0.02 if mapper == "auto" else 0.0
            return run_method(arch, model, method, st, tr, searcher=make_mapper(mapper, cache, tolerance),
                              overlap=OverlapSettings(scheduler=overlap, deterministic_seconds=budget))

        int8 = chain(run, model, trace, seq, 8)
        rows += rows_for(device, arch, seq, 8, int8, int8[0][1])
        if arch.mac.native_bits == 16:
            rows += rows_for(device, arch, seq, 16, chain(run, model, trace, seq, 16), int8[0][1])
    return pd.DataFrame(rows)


def _x(v: Any, hypothetical: bool = False) -> str:
    if v is None or pd.isna(v):
        return "—"
    return f"({v:.2f}x)" if hypothetical else f"{v:.2f}x"


def _unit(values: pd.Series, big: str, small: str) -> tuple[str, float]:
    """A unit under which the column's largest value is at least 1 (no column of zeros): `big`, else 1/1024 or
    1/1000 of it."""
    scale = 1024.0 if big.endswith("GiB") else 1000.0
    return (big, 1.0) if values.max() >= 1 else (small, scale)


def markdown(df: pd.DataFrame, model: str) -> str:
    (tu, ts), (mu, ms) = _unit(df["step_s"], "s", "ms"), _unit(df["peak_gib"], "GiB", "MiB")
    (eu, es), (du, ds) = _unit(df["energy_j"], "J", "mJ"), _unit(df["dram_gib"], "GiB", "MiB")
    lines = [f"# Edge-LLM ablation: {model}", "",
             "Cumulative rows; `factor` = the previous row's step time (peak memory) over this row's; "
             "`LoRA, scheduled` and `LoRA, scheduled and overlapped` are reference rows, their factor is over `LoRA`. "
             "A ratio in parentheses involves a "
             "configuration that does not fit the device's DRAM (`fits` NO): a user could not run it, so the "
             "ratio is hypothetical.", ""]
    for (device, seq, baseline), g in df.groupby(["device", "seq", "baseline"], sort=False):
        hw = g["hw"].iloc[0]
        lines += [f"## {device} (`{hw}`), seq {seq}, baseline {baseline}", "",
                  f"| row | mapper | step {tu} | factor | speed-up | vs int8 LoRA | peak {mu} | factor | memory cut "
                  f"| energy {eu} | energy cut | DRAM {du} | fits |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        prev_fits = True
        for r in g.itertuples():
            hb = not (r.baseline_fits and r.fits)  # a ratio to the baseline involving something unfit
            hf = not (prev_fits and r.fits) if r.row not in REFERENCES else not (r.baseline_fits and r.fits)
            hi = not (r.int8_lora_fits and r.fits)
            lines.append(f"| {r.row} | {r.mapper} | {r.step_s * ts:,.2f} | {_x(r.factor_speed, hf)} "
                         f"| {_x(r.speedup_vs_baseline, hb)} | {_x(r.speedup_vs_int8_lora, hi)} "
                         f"| {r.peak_gib * ms:,.2f} | {_x(r.factor_memory, hf)} | {_x(r.memory_cut_vs_baseline, hb)} "
                         f"| {r.energy_j * es:,.2f} | {_x(r.energy_cut_vs_baseline, hb)} | {r.dram_gib * ds:,.1f} "
                         f"| {'yes' if r.fits else 'NO'} |")
            if r.row not in REFERENCES:
                prev_fits = r.fits
        lines.append("")
    return "\n".join(lines)


def figure(df: pd.DataFrame, path: Path) -> None:
    """Stacked bars: each cumulative factor's share of the total speed-up and memory cut (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    chains = list(df.groupby(["device", "seq", "baseline"], sort=False))
    labels = [f"{d}\nseq {s}, {b}" for (d, s, b), _ in chains]
    fig, axes = plt.subplots(2, 1, figsize=(max(10, 1.1 * len(chains)), 9), sharex=True)
    colors = plt.get_cmap("tab10").colors
    for ax, col, title in ((axes[0], "factor_speed", "step-time speed-up"), (axes[1], "factor_memory", "peak-memory cut")):
        x = np.arange(len(chains))
        pos, neg = np.zeros(len(chains)), np.zeros(len(chains))
        for i, step in enumerate(STEPS[1:]):
            vals = np.array([np.log2(float(g.loc[g["row"] == step, col].iloc[0])) for _, g in chains])
            bottom = np.where(vals >= 0, pos, neg)
            ax.bar(x, vals, bottom=bottom, color=colors[i], label=step, width=0.7)
            pos, neg = pos + np.clip(vals, 0, None), neg + np.clip(vals, None, 0)
        for xi, (_, g) in zip(x, chains, strict=True):
            total = float(g.loc[g["row"] == STEPS[-1], "step_s" if col == "factor_speed" else "peak_gib"].iloc[0])
            first = float(g.loc[g["row"] == STEPS[0], "step_s" if col == "factor_speed" else "peak_gib"].iloc[0])
            fits = bool(g.loc[g["row"] == STEPS[0], "fits"].iloc[0])
            ax.text(xi, np.log2(first / total) + 0.05, f"{first / total:.2f}x" + ("" if fits else "\n(LoRA unfit)"),
                    ha="center", va="bottom", fontsize=8)
        ax.axhline(0, color="black", linewidth=0.6)
        ticks = np.arange(np.floor(neg.min()), np.ceil(pos.max()) + 1)
        ax.set_yticks(ticks, [f"{2 ** t:g}x" for t in ticks])
        ax.set_ylim(ticks[0], ticks[-1] + 0.3)
        ax.set_ylabel(f"{title} vs the chain's LoRA (log scale)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].axhline(np.log2(2.92), color="grey", linestyle="--", linewidth=0.8, label="paper: 2.92x")
    axes[1].axhline(np.log2(4), color="grey", linestyle="--", linewidth=0.8, label="paper: ~4x")
    axes[0].legend(loc="upper right", fontsize=8, ncol=3)
    line = [h for h in axes[1].get_legend_handles_labels()[0] if h.get_label().startswith("paper")]
    axes[1].legend(handles=line, loc="upper left", fontsize=8)
    axes[1].set_xticks(np.arange(len(chains)), labels, rotation=45, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the tiny model at seq 32 and 128 (seconds)")
    ap.add_argument("--out", metavar="DIR", help="where ablation.csv/.md/.png go (default: results/ beside this file; "
                                                 "--quick: a temporary folder)")
    args = ap.parse_args()
    model, trace = load_model_and_trace("tiny" if args.quick else "llama7b")
    seqs = (32, 128) if args.quick else (512, 2048)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else (Path(tmp) / "results" if args.quick else HERE / "results")
        out.mkdir(parents=True, exist_ok=True)
        # CP-SAT's budget per window: the CLI's default; --quick's smoke test a quarter of it
        budget = OverlapSettings().deterministic_seconds / (4 if args.quick else 1)
        df = run_all(model, trace, seqs, Path(tmp) / "schedules", progress=not args.quick, budget=budget)
        df.to_csv(out / "ablation.csv", index=False, float_format="%.6g")
        (out / "ablation.md").write_text(markdown(df, model.name) + "\n", encoding="utf-8")
        figure(df, out / "ablation.png")
        main_rows = df[df["row"].isin([STEPS[0], STEPS[-1]])]
        print(main_rows[["device", "seq", "baseline", "row", "step_s", "peak_gib", "fits", "baseline_fits",
                         "speedup_vs_baseline", "memory_cut_vs_baseline"]].to_string(index=False, float_format="%.3g"))
        print(f"wrote {out}/ablation.csv, ablation.md, ablation.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
