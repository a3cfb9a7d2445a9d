"""Reports of a simulation: a readable table, CSV or JSON. Units are in every column name."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from edgesim.api import SimulationResult
from edgesim.cost.model import GemmCost
from edgesim.units import MIB, cycles_to_seconds


def op_rows(res: SimulationResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    clock = res.arch.clock_mhz
    for r in res.results:
        op, c = r.op, r.cost
        row: dict[str, Any] = {"op": op.name, "m": op.m, "n": op.n, "k": op.k, "batch": op.batch,
                               "a_bits": op.a_bits, "b_bits": op.b_bits, "weight_density": op.weight_density}
        if isinstance(c, GemmCost):
            row.update(mapping=c.mapping.describe(), weight_storage=c.b_format, macs=c.macs,
                       compute_cycles=c.compute_cycles, total_cycles=c.total_cycles,
                       seconds=cycles_to_seconds(c.total_cycles, clock), energy_pj=c.energy_pj,
                       dram_bytes=c.dram_bytes, utilization=c.utilization, infeasible="")
        else:
            row.update(mapping="", infeasible=c.reason)
        rows.append(row)
    return rows


def totals(res: SimulationResult) -> dict[str, Any]:
    return {"hardware": res.arch.name, "hardware_fingerprint": res.arch.fingerprint(),
            "workload": res.workload_name, "ops": len(res.results), "infeasible_ops": len(res.infeasible),
            "macs": int(res.total("macs")), "compute_cycles": res.total("compute_cycles"),
            "total_cycles": res.total("total_cycles"), "seconds": res.seconds,
            "energy_pj": res.total("energy_pj"), "dram_bytes": res.total("dram_bytes"),
            "utilization": _utilization(res)}


def _utilization(res: SimulationResult) -> float:
    cycles = res.total("total_cycles")
    if cycles == 0:
        return 0.0
    return sum(c.utilization * c.total_cycles for c in res.costs) / cycles


def to_json(res: SimulationResult) -> str:
    out = totals(res)
    out["per_op"] = op_rows(res)
    return json.dumps(out, indent=2)


def to_csv(res: SimulationResult) -> str:
    return str(pd.DataFrame(op_rows(res)).to_csv(index=False))


def to_table(res: SimulationResult) -> str:
    t = totals(res)
    a = res.arch
    head = [f"edgesim simulate: {t['workload']} on {a.name} "
            f"({a.pe_array.rows}x{a.pe_array.cols} PEs, {a.mac.native_bits}-bit {a.mac.precision_mode}, "
            f"{a.global_buffer.capacity_bytes / 1024:g} KiB buffer, "
            f"{a.dram.bandwidth_bytes_per_cycle * a.clock_mhz / 1e3:g} GB/s DRAM, {a.clock_mhz:g} MHz)", ""]
    rows = []
    for r in op_rows(res):
        if r["infeasible"]:
            rows.append({"op": r["op"], "M x N x K": f"{r['m']}x{r['n']}x{r['k']}", "mapping": "INFEASIBLE: " + r["infeasible"]})
            continue
        rows.append({"op": r["op"], "M x N x K": _shape(r), "mapping": r["mapping"],
                     "compute cyc": f"{r['compute_cycles']:,.0f}", "total cyc": f"{r['total_cycles']:,.0f}",
                     "time us": f"{r['seconds'] * 1e6:,.1f}", "energy uJ": f"{r['energy_pj'] / 1e6:,.2f}",
                     "DRAM MiB": f"{r['dram_bytes'] / MIB:,.2f}", "util %": f"{100 * r['utilization']:.1f}"})
    rows.append({"op": "TOTAL", "M x N x K": "", "mapping": "",
                 "compute cyc": f"{t['compute_cycles']:,.0f}", "total cyc": f"{t['total_cycles']:,.0f}",
                 "time us": f"{t['seconds'] * 1e6:,.1f}", "energy uJ": f"{t['energy_pj'] / 1e6:,.2f}",
                 "DRAM MiB": f"{t['dram_bytes'] / MIB:,.2f}", "util %": f"{100 * t['utilization']:.1f}"})
    table = pd.DataFrame(rows).fillna("").to_string(index=False)
    foot = ["", "mapping: dataflow, global-buffer tile MxNxK, DRAM loop order (outer->inner), "
            "db/sb = double/single buffered; heuristic mapper (coarse grid)",
            "util = executed MACs / (total cycles x PEs x MACs per PE per cycle)"]
    return "\n".join(head) + table + "\n" + "\n".join(foot)


def _shape(r: dict[str, Any]) -> str:
    s = f"{r['m']}x{r['n']}x{r['k']}"
    if r["batch"] > 1:
        s = f"{r['batch']}*" + s
    if r["weight_density"] < 1:
        s += f" d={r['weight_density']:g}"
    return s
