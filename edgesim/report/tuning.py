"""Reports of tuning steps: one row per method, ratios to vanilla LoRA, phase split and peak-memory breakdown."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from edgesim.arch import ArchSpec
from edgesim.llm.trace import compression_text
from edgesim.methods import Method
from edgesim.results import MethodResult
from edgesim.units import GIB, cycles_to_seconds

BREAKDOWN = ("weights", "trainable_params", "gradients", "optimizer_state", "saved_activations", "attention", "workspace")


def _compression_note(header: dict[str, Any]) -> str:
    """The frozen base's compression (--weight-bits, --weight-sparsity), when one was asked for."""
    what = compression_text(header.get("weight_bits"), header.get("weight_sparsity") or 0.0)
    return f" The frozen base weights of lora and partial's frozen layers are {what}." if what else ""


def method_rows(arch: ArchSpec, results: list[MethodResult], *, allow_unfit: bool = False) -> list[dict[str, Any]]:
    """One row per method. A method with ops that cannot run has `complete` False: its totals leave those ops out,
    so no ratio involving it (speed-up, memory or energy reduction vs LoRA) is given. Nor is one involving a method
    whose peak memory does not fit the device's DRAM, unless `allow_unfit`: a user could not run it."""
    base = next((r for r in results if r.method == Method.LORA), None)
    rows = []
    for r in results:
        peak_step = max((c for c, _ in r.steps), key=lambda c: c.memory.peak_bytes)
        ratio = (base is not None and not base.infeasible_ops and not r.infeasible_ops
                 and (allow_unfit or (base.fits and r.fits)))
        row: dict[str, Any] = {
            "method": str(r.method), "complete": not r.infeasible_ops, "seconds": r.seconds, "cycles": r.cycles,
            "energy_pj": r.energy_pj, "dram_bytes": r.dram_bytes, "peak_memory_bytes": r.peak_bytes,
            "fits_dram": r.fits, "trainable_params": r.trainable_params,
            "speedup_vs_lora": base.seconds / r.seconds if base and ratio else None,
            "memory_reduction_vs_lora": base.peak_bytes / r.peak_bytes if base and ratio else None,
            "energy_reduction_vs_lora": base.energy_pj / r.energy_pj if base and ratio else None,
            "infeasible_ops": [{"name": o.name, "reason": o.reason} for o in r.infeasible_ops],
        }
        for phase, v in r.by_phase.items():
            row[f"{phase}_seconds"] = cycles_to_seconds(v["cycles"], arch.clock_mhz)
        for k in BREAKDOWN:
            row[f"peak_{k}_bytes"] = peak_step.memory.breakdown.get(k, 0.0)
        row["per_layer_seconds"] = {str(k): v for k, v in per_layer_seconds(arch, r).items()}
        row["phases"] = [{"label": c.label, "weight": w, "seconds": cycles_to_seconds(c.cycles, arch.clock_mhz),
                          "peak_memory_bytes": c.memory.peak_bytes, "infeasible_ops": [o.name for o in c.infeasible]}
                         for c, w in r.steps]
        if all(c.schedule is not None for c, _ in r.steps):
            row["overlap"] = overlap_summary(arch, r)
        rows.append(row)
    return rows


def overlap_summary(arch: ArchSpec, r: MethodResult) -> dict[str, Any]:
    """A scheduled method's figures, step-weighted over its phases like its totals: serial and scheduled seconds,
    the lower bound, each engine's busy share of the scheduled time, busy seconds per phase, the DRAM traffic kept
    on chip, and the scheduler's time (summed over the phases) and statistics (summed)."""
    total = sum(w for _, w in r.steps)
    scheds = [(c.schedule, w / total) for c, w in r.steps if c.schedule is not None]

    def sec(cycles: float) -> float:
        return cycles_to_seconds(cycles, arch.clock_mhz)

    makespan = sum(s.makespan_cycles * f for s, f in scheds)
    phase_busy: dict[str, dict[str, float]] = {}
    for s, f in scheds:
        for ph, row in s.phase_busy.items():
            out = phase_busy.setdefault(ph, {})
            for eng, cycles in row.items():
                out[eng] = out.get(eng, 0.0) + sec(cycles) * f
    stats: dict[str, float] = {}
    for s, _ in scheds:
        for k, v in s.stats.items():
            stats[k] = stats.get(k, 0.0) + v
    return {
        "scheduler": scheds[0][0].scheduler,
        "serial_seconds": sum(sec(s.serial_cycles) * f for s, f in scheds),
        "seconds": sec(makespan),
        "bound_seconds": sum(sec(s.bound_cycles) * f for s, f in scheds),
        "busy_share": {eng: sum(s.busy[eng] * s.makespan_cycles * f for s, f in scheds) / makespan if makespan else 0.0
                       for eng in ("array", "vector", "dram")},
        "phase_busy_seconds": phase_busy,
        "serial_dram_bytes": sum(s.serial_dram_bytes * f for s, f in scheds),
        "dram_bytes": sum(s.dram_bytes * f for s, f in scheds),
        "kept_tensors": sum(s.kept_tensors for s, _ in scheds),
        "scheduling_seconds": sum(s.seconds for s, _ in scheds),
        "stats": stats,
    }


def _time_unit(seconds: list[float]) -> tuple[str, float]:
    """s, ms or µs, whichever shows the largest of `seconds` as at least 1, and its scale."""
    return _scaled_unit(seconds, ("s", "ms", "µs"), 1e3)


def _scaled_unit(values: list[float], units: tuple[str, str, str], step: float) -> tuple[str, float]:
    """The first of `units` (each `step` times smaller than the one before) showing the largest value as at least 1."""
    top = max(values, default=0.0)
    for i, unit in enumerate(units):
        if top * step**i >= 1 or i == len(units) - 1:
            return unit, step**i
    raise AssertionError("unreachable")


def overlap_table(rows: list[dict[str, Any]]) -> list[str]:
    """The schedule section of the text report (methods with an `overlap` summary)."""
    done = [r for r in rows if "overlap" in r]
    if not done:
        return []
    unit, scale = _time_unit([r["overlap"]["serial_seconds"] for r in done])
    table = []
    for r in done:
        o = r["overlap"]
        st = o["stats"]
        solver = (f"{st['optimal_windows']:.0f}/{st['windows']:.0f} windows proved optimal, "
                  f"{st['repeated_windows']:.0f} repeated, gap {st['solver_gap_cycles'] / 1e6:,.1f}M cycles"
                  if "windows" in st else "")
        table.append({"method": r["method"] + ("" if r["complete"] else " INCOMPLETE"),
                      f"serial {unit}": f"{o['serial_seconds'] * scale:,.3f}",
                      f"{o['scheduler']} {unit}": f"{o['seconds'] * scale:,.3f}",
                      "gain": f"{1 - o['seconds'] / o['serial_seconds']:.1%}" if o["serial_seconds"] else "",
                      f"bound {unit}": f"{o['bound_seconds'] * scale:,.3f}",
                      **{f"{e} busy": f"{o['busy_share'][e]:.0%}" for e in ("array", "vector", "dram")},
                      "DRAM kept on chip": f"{(o['serial_dram_bytes'] - o['dram_bytes']) / 2**20:,.1f} MiB",
                      "scheduling s": f"{o['scheduling_seconds']:,.2f}", **({"CP-SAT": solver} if solver else {})})
    phases = [{"method": r["method"], "phase": ph, **{f"{e} busy {unit}": f"{v.get(e, 0.0) * scale:,.3f}"
                                                      for e in ("array", "vector", "dram")}}
              for r in done for ph, v in r["overlap"]["phase_busy_seconds"].items()]
    return ["", "Step-level schedule: the ops overlapped across the PE array, the vector unit and the DRAM channel "
                "(edgesim.overlap), against one op after another (serial) and the lower bound no schedule beats "
                "(each engine's and DRAM's busy time, the critical path):",
            pd.DataFrame(table).to_string(index=False), "", f"Busy time per phase (step-weighted {unit}; engines "
            "overlap, so a phase's busy times can sum to more than its share of the step):",
            pd.DataFrame(phases).to_string(index=False)]


def per_layer_seconds(arch: ArchSpec, r: MethodResult) -> dict[int, float]:
    """Step-weighted seconds per decoder layer (-1: embedding, heads, loss and optimizer)."""
    total = sum(w for _, w in r.steps)
    out: dict[int, float] = {}
    for c, w in r.steps:
        for layer, cycles in c.by_layer.items():
            out[layer] = out.get(layer, 0.0) + cycles_to_seconds(cycles, arch.clock_mhz) * w / total
    return dict(sorted(out.items()))


def per_layer_table(arch: ArchSpec, results: list[MethodResult]) -> str:
    layers = sorted({layer for r in results for layer in per_layer_seconds(arch, r)})
    rows = []
    for layer in layers:
        row = {"layer": "heads/loss/opt" if layer < 0 else str(layer)}
        for r in results:
            row[f"{r.method} s"] = f"{per_layer_seconds(arch, r).get(layer, 0.0):,.3f}"
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)


def to_json(arch: ArchSpec, header: dict[str, Any], results: list[MethodResult], *, allow_unfit: bool = False) -> str:
    return json.dumps({**header, "hardware": arch.name, "hardware_fingerprint": arch.fingerprint(),
                       "dram_capacity_bytes": arch.dram.capacity_bytes,
                       "methods": method_rows(arch, results, allow_unfit=allow_unfit)}, indent=2)


def to_csv(arch: ArchSpec, results: list[MethodResult], *, allow_unfit: bool = False) -> str:
    rows = [{**{k: v for k, v in r.items() if k not in ("phases", "infeasible_ops", "overlap")},
             "infeasible_ops": len(r["infeasible_ops"]), **_overlap_columns(r.get("overlap"))}
            for r in method_rows(arch, results, allow_unfit=allow_unfit)]
    return str(pd.DataFrame(rows).to_csv(index=False))


def _overlap_columns(o: dict[str, Any] | None) -> dict[str, Any]:
    """A schedule summary as flat CSV columns (none without --overlap)."""
    if o is None:
        return {}
    return {"scheduler": o["scheduler"], "serial_seconds": o["serial_seconds"], "bound_seconds": o["bound_seconds"],
            **{f"{e}_busy_share": v for e, v in o["busy_share"].items()},
            "serial_dram_bytes": o["serial_dram_bytes"], "kept_tensors": o["kept_tensors"],
            "scheduling_seconds": o["scheduling_seconds"]}


def _x(v: float | None, fits: bool = True) -> str:
    if not fits:
        return "does not fit"
    return "" if v is None else f"{v:.2f}x"


def to_table(arch: ArchSpec, header: dict[str, Any], results: list[MethodResult], per_layer: bool = False, *,
             allow_unfit: bool = False) -> str:
    rows = method_rows(arch, results, allow_unfit=allow_unfit)
    # units under which each column's largest value is at least 1 (no column of zeros for a small model)
    tu, ts = _time_unit([r["seconds"] for r in rows])
    eu, es = _scaled_unit([r["energy_pj"] / 1e12 for r in rows], ("J", "mJ", "µJ"), 1e3)
    mu, ms = _scaled_unit([r["peak_memory_bytes"] / GIB for r in rows], ("GiB", "MiB", "KiB"), 1024)
    du, ds = _scaled_unit([r["dram_bytes"] / GIB for r in rows], ("GiB", "MiB", "KiB"), 1024)
    millions = max((r["trainable_params"] for r in rows), default=0) >= 1e5

    def t(v: float) -> str:
        return f"{v * ts:,.2f}"

    main = pd.DataFrame([{
        "method": r["method"] + ("" if r["complete"] else " INCOMPLETE"),
        f"step {tu}": t(r["seconds"]), "speedup": _x(r["speedup_vs_lora"], r["fits_dram"] or allow_unfit),
        f"energy {eu}": f"{r['energy_pj'] / 1e12 * es:,.2f}", f"peak {mu}": f"{r['peak_memory_bytes'] / GIB * ms:,.2f}",
        "mem cut": _x(r["memory_reduction_vs_lora"], r["fits_dram"] or allow_unfit),
        f"DRAM {du}": f"{r['dram_bytes'] / GIB * ds:,.1f}",
        "fits": "yes" if r["fits_dram"] else "NO",
        "trainable": f"{r['trainable_params'] / 1e6:,.1f}M" if millions else f"{r['trainable_params'] / 1e3:,.1f}K",
        f"fwd {tu}": t(r["forward_seconds"]), f"bwd-data {tu}": t(r["backward_data_seconds"]),
        f"bwd-weight {tu}": t(r["backward_weight_seconds"]), f"optim {tu}": t(r["optimizer_seconds"]),
        **({f"recompute {tu}": t(r["recompute_seconds"])} if any(x["recompute_seconds"] for x in rows) else {})}
        for r in rows]).to_string(index=False)
    bu, bs = _scaled_unit([r[f"peak_{k}_bytes"] / GIB for r in rows for k in BREAKDOWN], ("GiB", "MiB", "KiB"), 1024)
    mem = pd.DataFrame([{"method": r["method"], **{k.replace("_", " "): f"{r[f'peak_{k}_bytes'] / GIB * bs:,.2f}"
                                                   for k in BREAKDOWN}}
                        for r in rows]).to_string(index=False)
    a = arch
    lines = [f"edgesim tune: {header['model']} (seq {header['seq']}, batch {header['batch']}) on {a.name} "
             f"({a.pe_array.rows}x{a.pe_array.cols} PEs @ {a.clock_mhz:g} MHz, "
             f"{a.global_buffer.capacity_bytes / 1024:g} KiB buffer, {a.dram.capacity_bytes / GIB:g} GiB DRAM), "
             f"engine: {header['engine']}, mappings: {header.get('mapper', 'heuristic')}",
             f"trace: {header['trace']}", "", "One tuning step per method:", main, "",
             f"Peak memory breakdown ({bu}) at each method's peak:", mem, "",
             "speedup / mem cut: vanilla LoRA's step time / peak memory over the method's. "
             f"Vanilla methods run at {header['base_bits']}-bit weights and activations; gradients at {header['grad_bits']} bits."
             + _compression_note(header),
             "edge-llm: step-weighted mean over its phases (time, energy, traffic), maximum over phases (memory)."]
    lines += overlap_table(rows)
    for r in rows:
        if not r["complete"]:
            ops = r["infeasible_ops"]
            lines.append(f"INCOMPLETE {r['method']}: {len(ops):,} op(s) cannot run on this hardware and are left out of "
                         f"its time, energy and traffic (e.g. {ops[0]['name']}: {ops[0]['reason']}); no ratio is given.")
    unfit = [r for r in rows if not r["fits_dram"]]
    if unfit and not allow_unfit:
        cap = arch.dram.capacity_bytes / GIB
        lines.append(", ".join(f"{r['method']} ({r['peak_memory_bytes'] / GIB:,.2f} GiB)" for r in unfit)
                     + f" do{'es' if len(unfit) == 1 else ''} not fit this device's {cap:g} GiB of DRAM: no ratio "
                       "involves " + ("it" if len(unfit) == 1 else "them") + " (--allow-unfit gives them anyway).")
    if per_layer:
        lines += ["", "Seconds per layer per step:", per_layer_table(arch, results)]
    return "\n".join(lines)
