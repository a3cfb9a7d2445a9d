"""The sweep report: one self-contained HTML file (jinja2, figures inline as SVG), and the Pareto tables as text.

A sweep with no hardware parameters (the workloads on the base accelerator alone) gets one table of every workload
with its objectives and status, and one latency-energy scatter of them, instead of a front per workload.

Per workload: the Pareto table (parameters and objectives, the knee highlighted), a scatter plot per objective
pair with the front in colour, the front points' time and energy by phase and memory at the peak, and the
median of each objective per parameter value. Numbers are shown to 4 significant digits in the unit the column
names (s, J, mm^2, GiB, tokens/s).
"""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

import edgesim
from edgesim.config.sweep import MAXIMISED
from edgesim.sweep.pareto import Front, fronts
from edgesim.sweep.store import ResultStore
from edgesim.units import GIB

UNITS = {"latency_s": ("latency", "s", 1.0), "energy_j": ("energy", "J", 1.0), "area_mm2": ("area", "mm²", 1.0),
         "peak_memory_bytes": ("peak memory", "GiB", 1 / GIB), "dram_bytes": ("DRAM traffic", "GiB", 1 / GIB),
         "edp": ("energy-delay", "J·s", 1.0), "tokens_per_s": ("throughput", "tokens/s", 1.0)}
PHASE_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")


def header(objective: str) -> str:
    name, unit, _ = UNITS[objective]
    arrow = "↑" if objective in MAXIMISED else "↓"
    return f"{name} ({unit}) {arrow}"


def fmt(objective: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return f"{float(value) * UNITS[objective][2]:.4g}"


def _front_table(f: Front, params: tuple[str, ...]) -> tuple[list[str], list[dict[str, Any]]]:
    columns = ["#", *params, *(header(o) for o in f.objectives)]
    rows = []
    for i, (_, r) in enumerate(f.points.iterrows(), start=1):
        cells = [str(i), *(f"{r[p]:g}" if isinstance(r[p], float) else str(r[p]) for p in params),
                 *(fmt(o, r[o]) for o in f.objectives)]
        rows.append({"cells": cells, "knee": r["point_id"] == f.knee})
    return columns, rows


def pareto_text(found: list[Front], params: tuple[str, ...], fmt_name: str = "table") -> str:
    """`edgesim sweep pareto`: each workload's front, one row per front point."""
    if fmt_name == "json":
        return json.dumps([{"workload": f.workload, "hypervolume": f.hypervolume, "competing": f.competing,
                            "knee": f.knee, "points": [{**{p: r[p] for p in params}, **{o: r[o] for o in f.objectives},
                                                        "point_id": r["point_id"]} for _, r in f.points.iterrows()]}
                           for f in found], indent=2, default=str)
    if fmt_name == "csv":
        frames = [f.points[["workload", *params, *f.objectives, "point_id"]] for f in found]
        return str(pd.concat(frames).to_csv(index=False)) if frames else ""
    out = []
    for f in found:
        columns, rows = _front_table(f, params)
        table = pd.DataFrame([r["cells"] for r in rows], columns=columns)
        knee = next((r["cells"][0] for r in rows if r["knee"]), "-")
        out.append(f"{f.workload}: {len(rows)} Pareto points of {f.competing} done; hypervolume {f.hypervolume:.4f} "
                   f"(normalised, reference 1.1); knee #{knee}\n" + (table.to_string(index=False) if rows else "(empty)"))
    return "\n\n".join(out)


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _scatter(df: pd.DataFrame, f: Front) -> list[Any]:
    import matplotlib.pyplot as plt

    done = df[(df["workload"] == f.workload) & (df["status"] == "done")]
    figs = []
    for a, b in itertools.combinations(f.objectives, 2):
        fig, ax = plt.subplots(figsize=(5.2, 3.8))
        sa, sb = UNITS[a][2], UNITS[b][2]
        ax.scatter(done[a] * sa, done[b] * sb, s=14, color="#bbbbbb", label="done")
        front = f.points.sort_values(a)
        ax.scatter(front[a] * sa, front[b] * sb, s=26, color="#C44E52", label="Pareto front (all objectives)", zorder=3)
        knee = front[front["point_id"] == f.knee]
        ax.scatter(knee[a] * sa, knee[b] * sb, s=120, marker="*", color="#E5A50A", label="knee", zorder=4)
        ax.set_xlabel(header(a))
        ax.set_ylabel(header(b))
        ax.set_title(f"{f.workload}", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        figs.append(fig)
    return figs


def _breakdown(f: Front) -> tuple[Any, list[str], list[dict[str, Any]]]:
    import matplotlib.pyplot as plt

    pts = f.points
    phases = list(dict.fromkeys(k for ph in pts["phases"] if ph for k in ph))
    mems = list(dict.fromkeys(k for m in pts["memory"] if m for k in m))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    labels = [f"#{i}" for i in range(1, len(pts) + 1)]
    for ax, what, keys, scale, unit in ((axes[0], "phases", phases, 1.0, "s"), (axes[1], "phases", phases, 1.0, "J"),
                                        (axes[2], "memory", mems, 1 / GIB, "GiB")):
        bottom = [0.0] * len(pts)
        for k, colour in zip(keys, itertools.cycle(PHASE_COLOURS)):
            if what == "phases":
                vals = [(ph or {}).get(k, {}).get("seconds" if unit == "s" else "energy_j", 0.0) for ph in pts["phases"]]
            else:
                vals = [(m or {}).get(k, 0.0) * scale for m in pts["memory"]]
            ax.bar(labels, vals, bottom=bottom, color=colour, label=k.replace("_", " "))
            bottom = [x + y for x, y in zip(bottom, vals, strict=True)]
        ax.set_ylabel({"s": "step time (s)", "J": "energy (J)", "GiB": "memory at the peak (GiB)"}[unit])
        ax.legend(fontsize=6)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"{f.workload}: Pareto points (# as in the table)", fontsize=9)
    fig.tight_layout()
    columns = ["#", *(f"{p} s" for p in phases), *(f"{p} J" for p in phases), *(f"{m} GiB" for m in mems)]
    rows = []
    for i, (_, r) in enumerate(pts.iterrows(), start=1):
        ph, mem = r["phases"] or {}, r["memory"] or {}
        cells = [str(i), *(f"{ph.get(p, {}).get('seconds', 0.0):.4g}" for p in phases),
                 *(f"{ph.get(p, {}).get('energy_j', 0.0):.4g}" for p in phases),
                 *(f"{mem.get(m, 0.0) / GIB:.4g}" for m in mems)]
        rows.append({"cells": cells, "knee": r["point_id"] == f.knee})
    return fig, columns, rows


def _sensitivity(df: pd.DataFrame, workload: str, params: tuple[str, ...], objectives: tuple[str, ...]) -> list[dict[str, Any]]:
    done = df[(df["workload"] == workload) & (df["status"] == "done")]
    out = []
    for p in params:
        rows = []
        for value, g in done.groupby(p, sort=True):
            rows.append([f"{value:g}" if isinstance(value, float) else str(value),
                         *(fmt(o, g[o].median()) for o in objectives), str(len(g))])
        out.append({"param": p, "rows": rows})
    return out


def _workload_table(df: pd.DataFrame, objectives: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """A workload sweep's table: every row with its objectives and peak memory, status and error (a failed row's
    objectives empty); its columns and rows."""
    shown = [o for o in dict.fromkeys((*objectives, "peak_memory_bytes")) if o in UNITS]
    rows = [[r["workload"], r["status"], *(fmt(o, r[o]) for o in shown), r["error"] or ""] for _, r in df.iterrows()]
    return ["workload", "status", *(header(o) for o in shown), "error"], rows


def _workload_scatter(df: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for status, colour, marker in (("done", "#4C72B0", "o"), ("infeasible", "#C44E52", "x")):
        g = df[(df["status"] == status) & (df["latency_s"] > 0) & (df["energy_j"] > 0)]
        ax.scatter(g["latency_s"], g["energy_j"], s=14, color=colour, marker=marker, label=f"{status} ({len(g)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(header("latency_s"))
    ax.set_ylabel(header("energy_j"))
    ax.set_title("every workload on the base accelerator (one point each)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_report(store: ResultStore, html: Path, *, plots_dir: Path | None = None) -> list[Path]:
    """Write the HTML report (and, with `plots_dir`, every figure as PNG); return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "edgesim"  # the same report for the same results, byte for byte
    import matplotlib.pyplot as plt

    spec = store.spec_json()
    objectives = tuple(spec["objectives"])
    params = store.params
    df = store.frame()
    counts = {s: int((df["status"] == s).sum()) for s in ("done", "infeasible", "failed")}
    counts["total"] = len(df)
    failures = [{"workload": r["workload"], "point": ", ".join(f"{p}={r[p]}" for p in params), "error": r["error"]}
                for _, r in df[df["status"] == "failed"].iterrows()]
    written: list[Path] = []
    workloads = []
    table: dict[str, Any] | None = None
    if not params:  # one accelerator, many workloads: a table and a scatter of them, not a front per workload
        fig = _workload_scatter(df)
        names, cells = _workload_table(df, objectives)
        table = {"columns": names, "rows": cells, "figure": _svg(fig)}
        if plots_dir is not None:
            plots_dir.mkdir(parents=True, exist_ok=True)
            written.append(plots_dir / "workloads.png")
            fig.savefig(written[-1], dpi=130, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
    for n, f in enumerate(fronts(df, objectives) if params else [], start=1):
        columns, rows = _front_table(f, params)
        figs = _scatter(df, f)
        bfig, bcols, brows = _breakdown(f)
        if plots_dir is not None:
            plots_dir.mkdir(parents=True, exist_ok=True)
            for i, fig in enumerate([*figs, bfig], start=1):
                path = plots_dir / f"workload{n}_{'breakdown' if fig is bfig else f'pair{i}'}.png"
                fig.savefig(path, dpi=130, bbox_inches="tight", metadata={"Software": None})
                written.append(path)
        workloads.append({"label": f.workload, "front_size": len(f.points), "competing": f.competing,
                          "hypervolume": f.hypervolume, "columns": columns, "rows": rows,
                          "scatter": [_svg(fig) for fig in figs], "breakdown_figure": _svg(bfig),
                          "breakdown_columns": bcols, "breakdown_rows": brows,
                          "sensitivity": _sensitivity(df, f.workload, params, objectives)})
        for fig in [*figs, bfig]:
            plt.close(fig)
    env = jinja2.Environment(loader=jinja2.PackageLoader("edgesim.report", "templates"), autoescape=True)
    text = env.get_template("sweep.html.j2").render(
        name=spec["name"], description=f"base accelerator {Path(spec['hardware']).stem}; sampler {spec['sampler']['kind']}; "
        f"mapper {spec['mapper']}; {len(params)} swept parameter(s)", counts=counts, failures=failures,
        workloads=workloads, objectives=[header(o) for o in objectives], table=table,
        spec_text=json.dumps(spec, indent=2),
        version=edgesim.__version__, db=store.path.name)
    html.write_text(text, encoding="utf-8")
    return [html, *written]
