"""A Gantt picture of a scheduled step (`edgesim tune --overlap ... --gantt FILE.png`): for one decoder layer, its
forward and its backward ops on the PE array, the vector unit and the DRAM channel as scheduled, under the same ops
one after another (serial). Each panel's time starts at the group's first op, in µs or ms, and spans 1.2 times the
group's serial time: a scheduler may defer an op with nothing waiting on it (a weight gradient) far past the rest
of its layer, and the panel's title counts such ops instead of stretching the axis to them."""

from __future__ import annotations

from pathlib import Path

from edgesim.arch import ArchSpec
from edgesim.results import MethodResult, ScheduledOp, StepSchedule

LANES = ("serial", "array", "vector", "DRAM")
COLOURS = {"array": "#55A868", "vector": "#2CA9B7", "prefetch": "#4C72B0", "stream": "#8FB3DE", "none": "#999999"}


def default_layer(results: list[MethodResult]) -> int:
    """The highest decoder layer every method's largest step runs backward through."""
    common: set[int] | None = None
    for r in results:
        layers = {o.layer for o in _largest(r).ops if o.phase != "forward" and o.layer >= 0}
        common = layers if common is None else common & layers
    return max(common) if common else 0


def layers_of(r: MethodResult) -> set[int]:
    return {o.layer for o in _largest(r).ops if o.layer >= 0}


def _largest(r: MethodResult) -> StepSchedule:
    scheds = [c.schedule for c, _ in r.steps if c.schedule is not None]
    return max(scheds, key=lambda s: len(s.ops))


def write_gantt(path: Path, arch: ArchSpec, results: list[MethodResult], layer: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(len(results), 2, figsize=(14, 2.6 * len(results) + 0.6), squeeze=False)
    for row, r in zip(axes, results, strict=True):
        s = _largest(r)
        for ax, forward in zip(row, (True, False), strict=True):
            ops = [o for o in s.ops if o.layer == layer and (o.phase == "forward") == forward]
            title = f"{r.method}, layer {layer} {'forward' if forward else 'backward'}"
            if not ops:
                ax.set_title(f"{title}: no ops in this step", fontsize=9)
                ax.set_axis_off()
                continue
            _panel(ax, ops, arch.clock_mhz, title, s.scheduler)
    handles = [Patch(color=COLOURS[k], label=lbl) for k, lbl in (("array", "PE array"), ("vector", "vector unit"),
                                                                 ("prefetch", "DRAM prefetch"),
                                                                 ("stream", "DRAM stream"))]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"Step-level schedule on {arch.name}: each op's tasks as scheduled, over the same ops one after "
                 "another (serial)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _panel(ax: object, ops: list[ScheduledOp], clock_mhz: float, title: str, scheduler: str) -> None:
    t0 = min(min(o.prefetch[0], o.compute[0]) for o in ops)
    s0 = min(o.serial[0] for o in ops)
    span = max(o.compute[1] for o in ops) - t0
    serial_span = max(o.serial[1] for o in ops) - s0
    us = 1.0 / clock_mhz  # µs per cycle
    unit, scale = ("ms", us / 1e3) if max(span, serial_span) * us >= 1e3 else ("µs", us)
    view = 1.2 * serial_span
    later = sum(1 for o in ops if o.compute[0] - t0 > view)
    y = {lane: len(LANES) - 1 - i for i, lane in enumerate(LANES)}
    bars: dict[str, list[tuple[float, float, str]]] = {lane: [] for lane in LANES}
    for o in ops:
        bars["serial"].append(((o.serial[0] - s0) * scale, (o.serial[1] - o.serial[0]) * scale, COLOURS[o.engine]))
        if o.engine in ("array", "vector"):
            bars[o.engine].append(((o.compute[0] - t0) * scale, (o.compute[1] - o.compute[0]) * scale, COLOURS[o.engine]))
        for kind in ("prefetch", "stream"):
            a, b = getattr(o, kind)
            if b > a:
                bars["DRAM"].append(((a - t0) * scale, (b - a) * scale, COLOURS[kind]))
    for lane, items in bars.items():
        ax.broken_barh([(a, w) for a, w, _ in items], (y[lane] - 0.4, 0.8),  # type: ignore[attr-defined]
                       facecolors=[c for _, _, c in items], edgecolor="white", linewidth=0.3)
    ax.set_yticks([y[lane] for lane in LANES], list(LANES), fontsize=8)  # type: ignore[attr-defined]
    ax.set_xlim(0, view * scale)  # type: ignore[attr-defined]
    ax.set_xlabel(unit, fontsize=8)  # type: ignore[attr-defined]
    ax.tick_params(labelsize=8)  # type: ignore[attr-defined]
    note = f"; {later} op{'s' if later > 1 else ''} deferred past the view" if later else ""
    ax.set_title(f"{title}: serial {serial_span * scale:,.1f} {unit}, {scheduler} from the first op to the last "  # type: ignore[attr-defined]
                 f"{span * scale:,.1f} {unit}{note}", fontsize=9)
