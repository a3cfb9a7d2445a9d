"""The `edgesim schedule --nest` report: per op, the searched loop nest (`edgesim.loopnest`) and its cost by the
loop-nest model (`edgesim.cost.nest`) on the accelerator's hierarchy.

Units: cycles, pJ and bytes per op and in total, search time in seconds. The table shows energy in uJ, utilisation
in % (useful MACs / (cycles x PEs)) and bytes in the unit that suits each column (B, KiB, MiB or GiB, named in its
header); the nests follow the table. Ops the loop-nest model cannot cost (zero skipping, Bit Fusion packing) or
for which the search found no feasible nest are NOT MAPPED, with the reason: they are left out of the totals, which
are then marked INCOMPLETE, as `edgesim schedule` marks infeasible ops.

JSON, per op, holds enough to rebuild the `LoopNest`: `nest.spatial` (per array axis, in the hierarchy's order, the
[dim, factor] pairs unrolled on it), `nest.temporal` (the temporal loops as [dim, factor], innermost first),
`nest.bounds` (per memory, innermost first, and per operand it holds: how many of the innermost temporal loops its
tile spans; entries for operands a memory does not hold are left out, the model ignores them) and
`nest.double_buffer`; `traffic` gives per memory and operand the bytes read and written.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from edgesim.api import NestSchedule
from edgesim.arch import ArchSpec
from edgesim.hierarchy import OPERANDS, Hierarchy, MemoryKind
from edgesim.loopnest import LoopNest
from edgesim.search.cache import signature_key

_BYTE_UNITS = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10), ("B", 1))


def hierarchy_fields(h: Hierarchy) -> dict[str, Any]:
    return {"interconnect": str(h.interconnect), "axes": [{"name": a.name, "size": a.size} for a in h.axes],
            "pes": h.pes,
            "memories": [{"name": m.name, "kind": str(m.kind), "operands": list(m.operands),
                          "capacity_bytes": m.capacity_bytes, "served_axes": list(m.served_axes)}
                         for m in h.memories]}


def nest_to_dict(h: Hierarchy, nest: LoopNest) -> dict[str, Any]:
    """The nest as JSON (module docstring): axes and memories by name."""
    return {"spatial": {a.name: [[d, f] for d, f in axis] for a, axis in zip(h.axes, nest.spatial, strict=True)},
            "temporal": [[d, f] for d, f in nest.temporal],
            "bounds": {m.name: {t: row[OPERANDS.index(t)] for t in OPERANDS if t in m.operands}
                       for m, row in zip(h.memories, nest.bounds, strict=True)},
            "double_buffer": nest.double_buffer}


def bounds_text(h: Hierarchy, nest: LoopNest) -> str:
    """Per on-chip memory, the loops its tile of each operand it holds spans, e.g. `rf_1B B0 | sram_2MB A5 C5`."""
    return " | ".join(m.name + " " + " ".join(f"{t}{row[OPERANDS.index(t)]}" for t in OPERANDS if t in m.operands)
                      for m, row in zip(h.memories, nest.bounds, strict=True) if m.kind != MemoryKind.DRAM)


def op_rows(h: Hierarchy, schedules: list[NestSchedule], searcher: str) -> list[dict[str, Any]]:
    """One row per op: its nest and cost (None where not mapped), the search's time and nests scored."""
    rows = []
    for s in schedules:
        op, res, c = s.op, s.result, s.costs
        row: dict[str, Any] = {"op": op.name, "signature": signature_key(op), "m": op.m, "n": op.n, "k": op.k,
                               "batch": op.batch, "a_bits": op.a_bits, "b_bits": op.b_bits,
                               "weight_density": op.weight_density, "weight_format": str(op.weight_format),
                               "mapped": s.mapped, "not_mapped": s.reason,
                               "searcher": res.searcher if res is not None else searcher,
                               "search_seconds": res.wall_seconds if res is not None else 0.0,
                               "nests_scored": res.evaluated if res is not None else 0,
                               "useful_macs": op.macs}
        if s.mapped and res is not None and res.nest is not None and c is not None:
            row.update(total_cycles=float(c.total_cycles[0]), energy_pj=float(c.energy_pj[0]),
                       dram_bytes=float(c.dram_bytes[0]), utilization=float(c.utilization[0]),
                       compute_cycles=float(c.compute_cycles[0]), padded=bool(c.pads[0]),
                       nest=nest_to_dict(h, res.nest), nest_text=res.nest.describe(),
                       bounds_text=bounds_text(h, res.nest),
                       traffic={m.name: {t: {"read_bytes": float(c.read_bytes[0, j, OPERANDS.index(t)]),
                                             "write_bytes": float(c.write_bytes[0, j, OPERANDS.index(t)])}
                                         for t in m.operands}
                                for j, m in enumerate(h.memories)})
        else:
            row.update(total_cycles=None, energy_pj=None, dram_bytes=None, utilization=None, compute_cycles=None,
                       padded=False, nest=None, nest_text="", bounds_text="", traffic=None)
        rows.append(row)
    return rows


def totals(arch: ArchSpec, h: Hierarchy, name: str, searcher: str, settings: dict[str, Any],
           rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["mapped"]]
    cycles = sum(r["total_cycles"] for r in ok)
    return {"hardware": arch.name, "hardware_fingerprint": arch.fingerprint(), "workload": name, "model": "loop-nest",
            "hierarchy": hierarchy_fields(h), "searcher": searcher, "settings": settings, "ops": len(rows),
            "mapped_ops": len(ok), "not_mapped_ops": len(rows) - len(ok), "incomplete": len(ok) < len(rows),
            "total_cycles": cycles, "energy_pj": sum(r["energy_pj"] for r in ok),
            "dram_bytes": sum(r["dram_bytes"] for r in ok),
            "utilization": sum(r["useful_macs"] for r in ok) / (cycles * h.pes) if cycles else None,
            "search_seconds": sum(r["search_seconds"] for r in rows),
            "nests_scored": sum(r["nests_scored"] for r in rows)}


def to_json(head: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    return json.dumps({**head, "per_op": rows}, indent=2)


def to_csv(rows: list[dict[str, Any]]) -> str:
    flat = [{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
    return str(pd.DataFrame(flat).to_csv(index=False))


def _num(v: float) -> str:
    """Never prints a nonzero value as zero: thousands separators from 100, two decimals from 1, else 3 digits."""
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def _byte_unit(values: list[float]) -> tuple[str, int]:
    top = max(values, default=0.0)
    return next(((u, size) for u, size in _BYTE_UNITS if top >= size), ("B", 1))


def _size(v: float) -> str:
    unit, size = _byte_unit([v])
    return f"{v / size:g} {unit}"


def _memory_bytes(row: dict[str, Any], memory: str) -> float:
    return float(sum(x["read_bytes"] + x["write_bytes"] for x in row["traffic"][memory].values()))


def table_frame(head: dict[str, Any], rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The table's cells (strings): one row per op, then the totals. An op not mapped reads NOT MAPPED and "-"."""
    ok = [r for r in rows if r["mapped"]]
    on_chip = [m["name"] for m in head["hierarchy"]["memories"] if m["kind"] != str(MemoryKind.DRAM)]
    mem_total = {m: sum(_memory_bytes(r, m) for r in ok) for m in on_chip}
    dram_unit, dram_size = _byte_unit([head["dram_bytes"]])
    mem_col = {m: (f"{m} r+w {u}", size) for m in on_chip for u, size in [_byte_unit([mem_total[m]])]}
    show_batch = any(r["batch"] > 1 for r in rows)

    def costs(cycles: float, energy_pj: float, dram: float, util: float | None, mem: dict[str, float]) -> dict[str, str]:
        return {"cycles": f"{cycles:,.0f}", "energy uJ": _num(energy_pj / 1e6), f"DRAM {dram_unit}": _num(dram / dram_size),
                "util %": "-" if util is None else _num(100 * util),
                **{mem_col[m][0]: _num(mem[m] / mem_col[m][1]) for m in on_chip}}

    def dashes(first: str) -> dict[str, str]:
        return {"cycles": first, "energy uJ": "-", f"DRAM {dram_unit}": "-", "util %": "-",
                **{mem_col[m][0]: "-" for m in on_chip}}

    lines: list[dict[str, str]] = []
    for r in rows:
        line = {"op": r["op"], "M": str(r["m"]), "N": str(r["n"]), "K": str(r["k"])}
        if show_batch:
            line["batch"] = str(r["batch"])
        line["searcher"] = r["searcher"]
        if r["mapped"]:
            line.update(costs(r["total_cycles"], r["energy_pj"], r["dram_bytes"], r["utilization"],
                              {m: _memory_bytes(r, m) for m in on_chip}))
        else:
            line.update(dashes("NOT MAPPED"))
        searched = r["nests_scored"] > 0
        line.update({"search s": _num(r["search_seconds"]) if searched else "-",
                     "nests scored": f"{r['nests_scored']:,}" if searched else "-"})
        lines.append(line)
    missing = len(rows) - len(ok)
    total = {"op": "TOTAL" if not missing else f"TOTAL INCOMPLETE ({missing} op(s) NOT MAPPED, left out)",
             "M": "", "N": "", "K": "", **({"batch": ""} if show_batch else {}), "searcher": ""}
    total.update(costs(head["total_cycles"], head["energy_pj"], head["dram_bytes"], head["utilization"], mem_total)
                 if ok else dashes("-"))
    total.update({"search s": _num(head["search_seconds"]) if head["nests_scored"] else "-",
                  "nests scored": f"{head['nests_scored']:,}" if head["nests_scored"] else "-"})
    lines.append(total)
    return pd.DataFrame(lines)


def hardware_text(head: dict[str, Any]) -> str:
    """E.g. `array 8x8x4x4 broadcast (D1 8, D2 8, D3 4, D4 4); memories, innermost first: rf_1B [B] 1 B, ...`."""
    hi = head["hierarchy"]
    axes = hi["axes"]
    mems = ", ".join(f"{m['name']} [{' '.join(m['operands'])}]"
                     + (f" {_size(m['capacity_bytes'])}" if m["kind"] != str(MemoryKind.DRAM) else "")
                     for m in hi["memories"])
    return (f"array {'x'.join(str(a['size']) for a in axes)} {hi['interconnect']} "
            f"({', '.join(str(a['name']) + ' ' + str(a['size']) for a in axes)}); memories, innermost first: {mems}")


def to_table(head: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    axes = " ".join(a["name"] for a in head["hierarchy"]["axes"])
    title = (f"edgesim schedule --nest: {head['workload']} on {head['hardware']}, searcher {head['searcher']} "
             f"(loop-nest model)")
    summary = (f"{head['ops']} op(s), {head['mapped_ops']} mapped"
               + (f", {head['not_mapped_ops']} NOT MAPPED (left out of the totals: INCOMPLETE)"
                  if head["not_mapped_ops"] else "")
               + f"; {head['hardware']}: {hardware_text(head)}")
    width = max(len(r["op"]) for r in rows)
    nests = []
    for r in rows:
        if r["mapped"]:
            nests.append(f"  {r['op']:<{width}}  {r['nest_text']}" + (" (padded)" if r["padded"] else ""))
            nests.append(f"  {'':<{width}}  tile loops: {r['bounds_text']}")
        else:
            nests.append(f"  {r['op']:<{width}}  NOT MAPPED: {r['not_mapped']}")
    foot = (f"nests: spatial = the dims unrolled on each array axis ({axes}); temporal = the loops, outer->inner; "
            "db/sb = double/single buffered below DRAM;\ntile loops = per on-chip memory and operand it holds, how "
            "many of the innermost temporal loops (from the right) its tile spans")
    table = table_frame(head, rows).to_string(index=False)
    return f"{title}\n{summary}\n\n{table}\n\n{foot}\n" + "\n".join(nests)
