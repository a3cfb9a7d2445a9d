"""Reports of a simulation: a readable table, CSV or JSON. Units are in every column name."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from edgesim.cost.model import GemmCost
from edgesim.errors import Infeasible
from edgesim.ops import Gemm
from edgesim.results import Engine, OpResult, SimulationResult
from edgesim.sim.pipeline import CAUSES
from edgesim.units import MIB, cycles_to_seconds


def shape_of(op: Any) -> str:
    if isinstance(op, Gemm):
        s = f"{op.m}x{op.n}x{op.k}"
        if op.batch > 1:
            s = f"{op.batch}*" + s
        if op.weight_density < 1:
            s += f" d={op.weight_density:g}"
        return s
    return f"{op.elements:,} el"


def bound_of(r: OpResult) -> str:
    """What limits the op: compute, or the largest stall cause when stalls exceed 10% of the time."""
    stalls = r.stall_cycles
    worst = max(stalls, key=lambda k: stalls[k])
    return worst if stalls[worst] > 0.1 * max(r.total_cycles, 1.0) else "compute"


def op_rows(res: SimulationResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    clock = res.arch.clock_mhz
    for r in res.results:
        op, c = r.op, r.cost
        row: dict[str, Any] = {"op": op.name, "kind": "gemm" if isinstance(op, Gemm) else str(op.kind),
                               "shape": shape_of(op)}
        if isinstance(op, Gemm):
            row.update(m=op.m, n=op.n, k=op.k, batch=op.batch, a_bits=op.a_bits, b_bits=op.b_bits,
                       weight_density=op.weight_density)
        else:
            row.update(elements=op.elements, bits=op.bits)
        if isinstance(c, Infeasible):
            row.update(mapping="", infeasible=c.reason)
            rows.append(row)
            continue
        row.update(mapping=c.mapping.describe() if isinstance(c, GemmCost) else "vector unit",
                   weight_storage=c.b_format if isinstance(c, GemmCost) else "",
                   macs=c.macs, compute_cycles=c.compute_cycles, total_cycles=r.total_cycles,
                   seconds=cycles_to_seconds(r.total_cycles, clock), energy_pj=c.energy_pj,
                   dram_bytes=c.dram_bytes, utilization=_utilization(r),
                   **{f"stall_{k}_cycles": v for k, v in r.stall_cycles.items()}, bound=bound_of(r), infeasible="")
        if r.sim is not None:
            row.update({f"busy_{k}": v for k, v in r.sim.utilization.items()})
        rows.append(row)
    return rows


def _utilization(r: OpResult) -> float:
    """GEMMs: executed MACs / (total cycles x PEs x MACs per PE per cycle); vector ops: vector-unit busy share."""
    c = r.cost
    if isinstance(c, GemmCost):
        return c.utilization * c.total_cycles / max(r.total_cycles, 1e-12)
    if isinstance(c, Infeasible):
        return 0.0
    return c.vector_cycles / max(r.total_cycles, 1e-12)


def totals(res: SimulationResult) -> dict[str, Any]:
    cycles = res.total("total_cycles")
    stalls = {k: float(sum(r.stall_cycles[k] for r in res.results if r.feasible)) for k in CAUSES}
    return {"hardware": res.arch.name, "hardware_fingerprint": res.arch.fingerprint(), "engine": str(res.engine),
            "workload": res.workload_name, "ops": len(res.results), "infeasible_ops": len(res.infeasible),
            "complete": not res.infeasible,
            "macs": int(res.total("macs")), "compute_cycles": res.total("compute_cycles"),
            "total_cycles": cycles, "seconds": res.seconds, "energy_pj": res.total("energy_pj"),
            "dram_bytes": res.total("dram_bytes"),
            "pe_utilization": sum(_utilization(r) * r.total_cycles for r in res.results
                                  if isinstance(r.cost, GemmCost)) / cycles if cycles else 0.0,
            **{f"stall_{k}_cycles": v for k, v in stalls.items()}}


def to_json(res: SimulationResult) -> str:
    out = totals(res)
    out["per_op"] = op_rows(res)
    return json.dumps(out, indent=2)


def to_csv(res: SimulationResult) -> str:
    return str(pd.DataFrame(op_rows(res)).to_csv(index=False))


def _fmt(r: dict[str, Any], sim: bool) -> dict[str, str]:
    out = {"compute cyc": f"{r['compute_cycles']:,.0f}", "total cyc": f"{r['total_cycles']:,.0f}",
           "time us": f"{r['seconds'] * 1e6:,.1f}", "energy uJ": f"{r['energy_pj'] / 1e6:,.2f}",
           "DRAM MiB": f"{r['dram_bytes'] / MIB:,.2f}",
           "util %": f"{100 * r.get('utilization', r.get('pe_utilization', 0.0)):.1f}"}
    if sim:
        out.update({"bw stall": f"{r['stall_dram_bandwidth_cycles']:,.0f}",
                    "lat stall": f"{r['stall_dram_latency_cycles']:,.0f}",
                    "port stall": f"{r['stall_buffer_port_cycles']:,.0f}"})
    if "bound" in r:
        out["bound"] = r["bound"]
    return out


def to_table(res: SimulationResult) -> str:
    t = totals(res)
    a = res.arch
    sim = res.engine == Engine.SIM
    head = [f"edgesim simulate: {t['workload']} on {a.name} "
            f"({a.pe_array.rows}x{a.pe_array.cols} PEs, {a.mac.native_bits}-bit {a.mac.precision_mode}, "
            f"{a.global_buffer.capacity_bytes / 1024:g} KiB buffer, "
            f"{a.dram.bandwidth_bytes_per_cycle * a.clock_mhz / 1e3:g} GB/s DRAM, {a.clock_mhz:g} MHz), "
            f"engine: {t['engine']}", ""]
    rows = []
    for r in op_rows(res):
        base = {"op": r["op"], "shape": r["shape"], "mapping": r["mapping"]}
        if r["infeasible"]:
            rows.append({**base, "mapping": "INFEASIBLE: " + r["infeasible"]})
        else:
            rows.append({**base, **_fmt(r, sim)})
    n_bad = len(res.infeasible)
    rows.append({"op": "TOTAL" if not n_bad else f"TOTAL INCOMPLETE ({n_bad} infeasible op(s) left out)", "shape": "",
                 "mapping": "", **_fmt(t, sim)})
    table = pd.DataFrame(rows).fillna("").to_string(index=False)
    foot = ["", "mapping: dataflow, global-buffer tile MxNxK, DRAM loop order (outer->inner), "
            "db/sb = double/single buffered; heuristic mapper (coarse grid)",
            "util: GEMMs (and TOTAL) executed MACs / (cycles x PEs x MACs per PE per cycle); vector ops vector-unit busy share",
            "bound: the largest stall cause when stalls exceed 10% of an op's time"]
    return "\n".join(head) + table + "\n" + "\n".join(foot)
