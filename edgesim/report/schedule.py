"""The `edgesim schedule` report: per op, the searched mapping and its cost beside each fixed-dataflow baseline.

Units: cycles, pJ and bytes per op and in total (the same totals as `edgesim simulate --format json`); search
time in seconds. The table shows energy in uJ and DRAM traffic in MiB.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from edgesim.arch import ArchSpec
from edgesim.errors import Infeasible
from edgesim.mapping import DATAFLOWS
from edgesim.results import OpSchedule
from edgesim.search.base import Searcher, SearchResult
from edgesim.search.cache import mapping_to_dict, signature_key
from edgesim.units import MIB


def _cost_fields(res: SearchResult | Infeasible) -> dict[str, Any]:
    if isinstance(res, Infeasible):
        return {"total_cycles": None, "energy_pj": None, "dram_bytes": None, "infeasible": res.reason}
    c = res.cost
    return {"total_cycles": c.total_cycles, "energy_pj": c.energy_pj, "dram_bytes": c.dram_bytes, "infeasible": ""}


def op_rows(schedules: list[OpSchedule]) -> list[dict[str, Any]]:
    """One row per op: the searched mapping, its cost, search time, and each fixed baseline's cost."""
    rows = []
    for s in schedules:
        op, res = s.op, s.result
        row: dict[str, Any] = {"op": op.name, "signature": signature_key(op), "m": op.m, "n": op.n, "k": op.k,
                               "batch": op.batch, "a_bits": op.a_bits, "b_bits": op.b_bits,
                               "weight_density": op.weight_density, "weight_format": str(op.weight_format),
                               **_cost_fields(res)}
        if isinstance(res, SearchResult):
            row.update(mapping=mapping_to_dict(res.mapping), mapping_text=res.mapping.describe(),
                       search_seconds=res.wall_seconds, candidates=res.candidates, cached=res.cached)
        else:
            row.update(mapping=None, mapping_text="", search_seconds=0.0, candidates=0, cached=False)
        for name, br in s.baselines.items():
            row[f"fixed_{name}_cycles"] = None if isinstance(br, Infeasible) else br.cost.total_cycles
            row[f"fixed_{name}_energy_pj"] = None if isinstance(br, Infeasible) else br.cost.energy_pj
            row[f"fixed_{name}_dram_bytes"] = None if isinstance(br, Infeasible) else br.cost.dram_bytes
        rows.append(row)
    return rows


def totals(arch: ArchSpec, name: str, searcher: Searcher, rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if not r["infeasible"]]
    out: dict[str, Any] = {"hardware": arch.name, "hardware_fingerprint": arch.fingerprint(), "workload": name,
                           "searcher": searcher.name, "settings": searcher.settings(), "ops": len(rows),
                           "infeasible_ops": len(rows) - len(ok),
                           "total_cycles": sum(r["total_cycles"] for r in ok), "energy_pj": sum(r["energy_pj"] for r in ok),
                           "dram_bytes": sum(r["dram_bytes"] for r in ok),
                           "search_seconds": sum(r["search_seconds"] for r in rows)}
    for d in DATAFLOWS:
        vals = [r[f"fixed_{d}_cycles"] for r in rows]
        out[f"fixed_{d}_total_cycles"] = sum(vals) if all(v is not None for v in vals) else None
    return out


def to_json(head: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    return json.dumps({**head, "per_op": rows}, indent=2)


def to_csv(rows: list[dict[str, Any]]) -> str:
    flat = [{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
    return str(pd.DataFrame(flat).to_csv(index=False))


def to_table(head: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    def cyc(v: float | None) -> str:
        return "infeasible" if v is None else f"{v:,.0f}"

    lines = []
    for r in rows:
        base = {"op": r["op"], "shape": f"{r['m']}x{r['n']}x{r['k']}" + (f" b{r['batch']}" if r["batch"] > 1 else ""),
                "mapping": r["mapping_text"] or "INFEASIBLE: " + r["infeasible"]}
        if not r["infeasible"]:
            base.update({"cycles": cyc(r["total_cycles"]), "energy uJ": f"{r['energy_pj'] / 1e6:,.2f}",
                         "DRAM MiB": f"{r['dram_bytes'] / MIB:,.2f}"})
        base.update({f"{d} cycles": cyc(r[f"fixed_{d}_cycles"]) for d in DATAFLOWS})
        base["search s"] = f"{r['search_seconds']:.2f}" + (" (cached)" if r["cached"] else "")
        lines.append(base)
    total = "TOTAL" if not head["infeasible_ops"] else f"TOTAL INCOMPLETE ({head['infeasible_ops']} infeasible op(s) left out)"
    lines.append({"op": total, "shape": "", "mapping": "", "cycles": cyc(head["total_cycles"]),
                  "energy uJ": f"{head['energy_pj'] / 1e6:,.2f}", "DRAM MiB": f"{head['dram_bytes'] / MIB:,.2f}",
                  **{f"{d} cycles": cyc(head[f"fixed_{d}_total_cycles"]) for d in DATAFLOWS},
                  "search s": f"{head['search_seconds']:.2f}"})
    title = (f"edgesim schedule: {head['workload']} on {head['hardware']}, searcher {head['searcher']}; "
             f"os/ws/is cycles: the fixed-dataflow baselines (no scheduling)")
    foot = "mapping: dataflow, global-buffer tile MxNxK, DRAM loop order (outer->inner), db/sb = double/single buffered"
    return f"{title}\n\n{pd.DataFrame(lines).fillna('').to_string(index=False)}\n{foot}"
