"""Timelines of simulated ops: rows with absolute times, CSV, and a matplotlib picture.

Ops run back to back, so an op's events are offset by the end of the op before it. Lanes: `dram`
(loads, write-backs, vector-op streams), `compute` (array or vector unit), `stall` (coloured by
cause). Runs the simulator jumped over in closed form are one bar per lane whose height is the
resource's busy (or stall) share over the run; the CSV keeps the share and a label.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from edgesim.cost.vector import VectorCost
from edgesim.results import OpResult, SimulationResult, vector_stalls

COLOURS = {"load": "#4C72B0", "writeback": "#8172B3", "stream": "#4C72B0", "compute": "#55A868",
           "vector": "#2CA9B7", "dram_bandwidth": "#C44E52", "dram_latency": "#DD8452",
           "buffer_port": "#CCB974"}
LANES = ("stall", "compute", "dram")


@dataclass(frozen=True, slots=True)
class Row:
    op: str
    lane: str
    start: float
    end: float
    kind: str
    label: str = ""
    share: float = 1.0


def _vector_rows(name: str, c: VectorCost, t0: float) -> list[Row]:
    lat = c.total_cycles - max(c.vector_cycles, c.dram_cycles, c.glb_cycles)
    rows = [Row(name, "dram", t0, t0 + c.dram_cycles, "stream"),
            Row(name, "compute", t0 + lat, t0 + lat + c.vector_cycles, "vector")]
    cursor = t0 + lat + c.vector_cycles
    if lat > 0:
        rows.append(Row(name, "stall", t0, t0 + lat, "dram_latency"))
    for cause, cycles in vector_stalls(c).items():
        if cause != "dram_latency" and cycles > 0:
            rows.append(Row(name, "stall", cursor, cursor + cycles, cause))
            cursor += cycles
    return rows


def op_rows(r: OpResult, t0: float) -> list[Row]:
    name = r.op.name
    if r.sim is not None:
        return [Row(name, e.lane, t0 + e.start, t0 + e.end, e.kind, e.label, e.share) for e in r.sim.timeline]
    if isinstance(r.cost, VectorCost):
        return _vector_rows(name, r.cost, t0)
    return [Row(name, "compute", t0, t0 + r.total_cycles, "compute")] if r.feasible else []


def timeline_rows(res: SimulationResult) -> tuple[list[Row], list[tuple[str, float, float]]]:
    """All event rows, and each op's (name, start, end) span."""
    rows: list[Row] = []
    spans: list[tuple[str, float, float]] = []
    t = 0.0
    for r in res.results:
        rows += op_rows(r, t)
        spans.append((r.op.name, t, t + r.total_cycles))
        t += r.total_cycles
    return rows, spans


def to_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["op", "lane", "start_cycle", "end_cycle", "kind", "busy_share", "label"])
    for r in rows:
        w.writerow([r.op, r.lane, f"{r.start:.1f}", f"{r.end:.1f}", r.kind, f"{r.share:.4f}", r.label])
    return buf.getvalue()


def plot(res: SimulationResult, path: str | Path) -> None:
    """Two panels: per-op time split (compute vs stall causes), and the DRAM/compute/stall lanes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows, spans = timeline_rows(res)
    total = max((e for _, _, e in spans), default=1.0)
    fig, (ax_ops, ax_lanes) = plt.subplots(2, 1, figsize=(14, 6.5), sharex=True,
                                           gridspec_kw={"height_ratios": [1.3, 1.0]})
    for i, r in enumerate(res.results):
        _, start, end = spans[i]
        parts = [("compute", r.cost.compute_cycles if r.feasible else 0.0)]  # type: ignore[union-attr]
        parts += list(r.stall_cycles.items())
        x = start
        for kind, cycles in parts:
            if cycles > 0:
                ax_ops.barh(0, cycles, left=x, color=COLOURS[kind], edgecolor="none", height=0.8)
                x += cycles
        if end - start > 0.012 * total:
            ax_ops.text((start + end) / 2, 0.5, r.op.name, rotation=60, ha="left", va="bottom", fontsize=7)
    ax_ops.set_yticks([])
    ax_ops.set_ylim(-0.5, 1.9)
    ax_ops.set_title(f"{res.workload_name} on {res.arch.name}: per-op time split (compute, then stalls by cause)",
                     fontsize=10)
    for lane_y, lane in enumerate(LANES):
        by_kind: dict[tuple[str, float], list[tuple[float, float]]] = {}
        for row in rows:
            if row.lane == lane and row.end > row.start:
                # a jumped run is drawn with its height scaled by the resource's busy share
                height = round(0.8 * min(1.0, max(row.share, 0.03)), 2)
                by_kind.setdefault((row.kind, height), []).append((row.start, row.end - row.start))
        for (kind, height), bars in by_kind.items():
            ax_lanes.broken_barh(bars, (lane_y - 0.4, height), facecolors=COLOURS.get(kind, "grey"), edgecolor="none")
    for _, start, _ in spans:
        ax_lanes.axvline(start, color="black", lw=0.3, alpha=0.4)
    ax_lanes.set_yticks(range(len(LANES)), [lane.upper() for lane in LANES])
    ax_lanes.set_xlabel(f"cycles at {res.arch.clock_mhz:g} MHz (total {total:,.0f})")
    ax_lanes.set_xlim(0, total)
    legend = [Patch(color=c, label=k.replace("_", " ")) for k, c in COLOURS.items()]
    fig.legend(handles=legend, loc="lower center", ncol=len(legend), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=130)
    plt.close(fig)
