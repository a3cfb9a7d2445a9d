"""The oracle for the tile simulator: a plain per-tile event loop over the explicit loop nest.

No tile tree, no closed-form jumps, no state canonicalisation: it enumerates every tile in loop
order, tracks which operand tiles are resident to find loads and write-backs, counts folds one by
one, and plays the pipeline rules of `edgesim.sim.pipeline` with explicit lists of times.
Buffer and register bytes per tile are taken from `tile_attributes` (checked elsewhere against the
cost model's totals).
"""

from __future__ import annotations

import itertools

from edgesim.arch import ArchSpec
from edgesim.mapping import Dataflow, Mapping
from edgesim.operands import operand_model
from edgesim.ops import Gemm
from edgesim.sim.tiles import loop_levels, tile_attributes


def explicit_tiles(arch: ArchSpec, op: Gemm, mp: Mapping) -> list[dict[str, float]]:
    om = operand_model(arch, op)
    levels = loop_levels(op, mp)
    R, C = arch.pe_array.rows, arch.pe_array.cols
    positions = list(itertools.product(*[range(lv.trips) for lv in levels]))
    b_el = om.b_stored_bytes / (op.k * op.n)
    nk = next(lv.trips for lv in levels if lv.dim == "k")

    def coords(pos: tuple[int, ...]) -> dict[str, int]:
        return {lv.dim: i for lv, i in zip(levels, pos, strict=True)}

    def size(lv_dim: str, idx: int) -> int:
        lv = next(x for x in levels if x.dim == lv_dim)
        return lv.last if idx == lv.trips - 1 else lv.full

    out = []
    prev: dict[str, int] | None = None
    for i, pos in enumerate(positions):
        c = coords(pos)
        sm, sn, sk = size("m", c["m"]), size("n", c["n"]), size("k", c["k"])
        key = {"A": (c["b"], c["m"], c["k"]), "B": (c["b"], c["k"], c["n"]), "C": (c["b"], c["m"], c["n"])}
        pkey = None if prev is None else {"A": (prev["b"], prev["m"], prev["k"]), "B": (prev["b"], prev["k"], prev["n"]),
                                          "C": (prev["b"], prev["m"], prev["n"])}
        parts = [0.0, 0.0, 0.0]
        if pkey is None or key["A"] != pkey["A"]:
            parts[0] = sm * sk * om.a_bytes
        if pkey is None or key["B"] != pkey["B"]:
            parts[1] = sk * sn * b_el
        if (pkey is None or key["C"] != pkey["C"]) and c["k"] > 0:
            parts[2] = sm * sn * om.psum_bytes
        nxt = coords(positions[i + 1]) if i + 1 < len(positions) else None
        leaves = nxt is None or (nxt["b"], nxt["m"], nxt["n"]) != key["C"]
        writeback = sm * sn * (om.c_bytes if c["k"] == nk - 1 else om.psum_bytes) if leaves else 0.0
        ke = max(1, -(-int(-(-(sk * om.k_kept - 1e-9) // 1)) // om.pack))
        rows, cols, time, ovh = {Dataflow.OS: (sm, sn, ke, R + C - 2), Dataflow.WS: (ke, sn, sm, 2 * R + C - 2),
                                 Dataflow.IS: (ke, sm, sn, 2 * R + C - 2)}[mp.dataflow]
        compute = 0
        for _r0 in range(0, rows, R):
            for _c0 in range(0, cols, C):
                compute += ovh + om.stretch * time
        first = tuple(x == 0 for x in pos)
        last = tuple(x == lv.trips - 1 for x, lv in zip(pos, levels, strict=True))
        attrs = tile_attributes(arch, op, om, mp, levels, first, last)
        out.append({"load": sum(parts), "parts": parts, "writeback": writeback, "compute": float(compute),
                    "buffer": attrs.buffer_bytes, "register": attrs.register_port_bytes})
        prev = c
    return out


def oracle(arch: ArchSpec, op: Gemm, mp: Mapping, per_operand: bool = False) -> dict[str, float]:
    bw = arch.dram.bandwidth_bytes_per_cycle
    lat = float(arch.dram.latency_cycles)
    glb_bw = arch.global_buffer.bandwidth_bytes_per_cycle
    rf_bw = arch.registers.bandwidth_bytes_per_cycle * arch.registers.instances
    sb = not mp.double_buffer
    tiles = explicit_tiles(arch, op, mp)
    ends: list[float] = []
    wb_sent: list[float] = []  # per step: when the write-back sent in that step (the previous tile's) ended
    free = {"A": 0.0, "B": 0.0, "C": 0.0} if per_operand else {"all": 0.0}
    res = {"compute": 0.0, "dram_bandwidth": 0.0, "dram_latency": 0.0, "buffer_port": 0.0, "dram_bytes": 0.0}

    def send(issue: float, nbytes: float, operand: str) -> float:
        ch = operand if per_operand else "all"
        free[ch] = max(issue, free[ch]) + nbytes / bw
        res["dram_bytes"] += nbytes
        return free[ch]

    for i, t in enumerate(tiles):
        prev_end = ends[i - 1] if i >= 1 else 0.0
        owed = tiles[i - 1]["writeback"] if i >= 1 else 0.0
        need = [prev_end]
        if sb and owed:
            need.append(send(prev_end, owed, "C"))
        if t["load"]:
            slot_free = prev_end if sb else (ends[i - 2] if i >= 2 else 0.0)
            if per_operand:
                need.append(max(send(slot_free, b, x) for x, b in zip("ABC", t["parts"], strict=True) if b) + lat)
            else:
                need.append(send(slot_free, t["load"], "all") + lat)
        sent = 0.0
        if not sb and owed:
            sent = send(prev_end, owed, "C")
        if not sb and i >= 1:
            need.append(wb_sent[i - 1])  # tile i-2's outputs must have left the half tile i writes into
        wb_sent.append(sent)
        start = max(need)
        wait = start - prev_end
        lat_part = min(wait, lat) if t["load"] else 0.0
        res["dram_latency"] += lat_part
        res["dram_bandwidth"] += wait - lat_part
        busy = max(t["compute"], t["buffer"] / glb_bw, t["register"] / rf_bw)
        res["compute"] += t["compute"]
        res["buffer_port"] += busy - t["compute"]
        ends.append(start + busy)
    total = ends[-1]
    if tiles[-1]["writeback"]:
        total = max(total, send(ends[-1], tiles[-1]["writeback"], "C"))
    res["dram_bandwidth"] += total - ends[-1]
    res["total"] = total
    res["tiles"] = len(tiles)
    return res
