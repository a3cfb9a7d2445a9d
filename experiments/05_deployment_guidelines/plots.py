"""The study's figures (fit map, break-even curves, battery share) and its break-even table."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import guidelines as g  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COMPARED = "lora w8"  # with Edge-LLM, the tuning choices the break-even is worked out for


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=130, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def break_even_table(t: pd.DataFrame) -> pd.DataFrame:
    """Per device, model, amount of data and compared tuning choice (where it runs): tuning then its queries against
    RAG indexing then its queries, in time and energy."""
    ok = g.feasible_tuning(t)
    rows = []
    for r in ok[(ok.choice == COMPARED) | (ok.method == "edge-llm")].itertuples():
        tuned = ok.loc[r.Index]
        q, rag_q = g.query_for(t, tuned)
        if rag_q.status != "done" or q.status != "done":
            continue  # a query that does not fit: no break-even to speak of
        be = g.break_even(t, tuned)
        rows.append({"device": r.device, "model": r.model, "samples": int(r.samples), "choice": r.choice,
                     "tune_s": r.latency_s, "rag_index_s": be["time"].rag_once, "tuned_query_s": q.latency_s,
                     "rag_query_s": rag_q.latency_s, "time_queries": be["time"].queries,
                     "time_until": be["time"].until, "tune_j": r.energy_j, "rag_index_j": be["energy"].rag_once,
                     "tuned_query_j": q.energy_j, "rag_query_j": rag_q.energy_j,
                     "energy_queries": be["energy"].queries, "energy_until": be["energy"].until})
    return pd.DataFrame(rows)


def break_even_figure(t: pd.DataFrame, plan: g.Plan, path: Path) -> Path:
    """Cumulative time and energy against the number of queries: RAG (indexing, then queries) and the compared tuning
    choices (adapting, then queries), for the plan's first model at its second amount of data, per device."""
    model, n = plan.models[0], plan.amounts[min(1, len(plan.amounts) - 1)]
    table = break_even_table(t)
    fig, axes = plt.subplots(2, len(plan.devices), figsize=(4.6 * len(plan.devices), 7.2), squeeze=False)
    q = np.logspace(0, 7, 200)
    for j, device in enumerate(plan.devices):
        rows = table[(table.device == device) & (table.model == model) & (table.samples == n)]
        for i, (metric, unit) in enumerate((("s", "time (s)"), ("j", "energy (J)"))):
            ax = axes[i][j]
            if rows.empty:
                ax.text(0.5, 0.5, "nothing fits", ha="center", va="center", transform=ax.transAxes)
            else:
                r0 = rows.iloc[0]
                ax.plot(q, r0[f"rag_index_{metric}"] + q * r0[f"rag_query_{metric}"], color="#C44E52", label="RAG")
                for r, colour in zip(rows.itertuples(), ("#4C72B0", "#55A868"), strict=False):
                    once, per = getattr(r, f"tune_{metric}"), getattr(r, f"tuned_query_{metric}")
                    ax.plot(q, once + q * per, color=colour, label=r.choice)
                    cross = getattr(r, "time_queries" if metric == "s" else "energy_queries")
                    if cross is not None and not math.isnan(cross) and 1 <= cross <= q[-1]:
                        ax.plot([cross], [once + cross * per], "o", color=colour, ms=6)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("queries after adapting")
            ax.set_ylabel(f"cumulative {unit}")
            ax.set_title(f"{device}: {model}, {n:,} samples", fontsize=9)
            ax.legend(fontsize=7)
    fig.suptitle("RAG against tuning: cumulative cost (dots: where tuning becomes the cheaper one)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def fit_map_figure(fm: pd.DataFrame, path: Path) -> Path:
    """Per device, peak memory over DRAM capacity for every (model, choice); above 1 does not fit."""
    devices = list(dict.fromkeys(fm.device))
    choices = list(dict.fromkeys(fm.choice))
    models = list(dict.fromkeys(fm.model))
    size = (max(8.0, 0.55 * len(choices) + 2), 1.0 + (0.5 * len(models) + 1.2) * len(devices))
    fig, axes = plt.subplots(len(devices), 1, figsize=size, squeeze=False)
    for ax, device in zip(axes[:, 0], devices, strict=True):
        d = fm[fm.device == device].pivot_table(index="model", columns="choice", values="share", aggfunc="first")
        d = d.reindex(index=models, columns=choices)
        im = ax.imshow(np.log2(d.to_numpy(dtype=float)), cmap="RdYlGn_r", vmin=-4, vmax=4, aspect="auto")
        for (i, k), v in np.ndenumerate(d.to_numpy(dtype=float)):
            ax.text(k, i, "n/a" if math.isnan(v) else ("✗" if v > 1 else f"{v:.0%}"), ha="center", va="center",
                    fontsize=6.5)
        ax.set_xticks(range(len(choices)), choices, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(models)), models, fontsize=7)
        cap = fm[fm.device == device].capacity_gib.iloc[0]
        ax.set_title(f"{device} ({cap:g} GiB DRAM): peak memory as a share of it (✗: does not fit)", fontsize=9)
        fig.colorbar(im, ax=ax, label="log2(peak / capacity)", fraction=0.03)
    fig.tight_layout()
    return _save(fig, path)


def battery_figure(bat: pd.DataFrame, path: Path) -> Path:
    """Energy of one adaptation as a share of the assumed phone battery, against the amount of data."""
    devices = list(dict.fromkeys(bat.device))
    fig, axes = plt.subplots(1, len(devices), figsize=(4.6 * len(devices), 3.8), squeeze=False)
    for ax, device in zip(axes[0], devices, strict=True):
        d = bat[bat.device == device]
        for (model, m), colour in zip(d.groupby("model", sort=False), plt.rcParams["axes.prop_cycle"].by_key()["color"],
                                      strict=False):
            ax.plot(m.samples, 100 * m.battery_share, "o-", color=colour, label=f"{model}: least-energy tuning")
            ax.plot(m.samples, 100 * m.rag_battery_share, "x--", color=colour, label=f"{model}: RAG indexing")
        ax.axhline(100, color="#888", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("personal data (samples)")
        ax.set_ylabel("energy, % of the battery")
        ax.set_title(device, fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle(f"One adaptation's energy (accelerator and DRAM only) as a share of a {g.BATTERY_MAH:,} mAh, "
                 f"{g.BATTERY_V} V phone battery ({g.BATTERY_J / 1000:.1f} kJ)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
