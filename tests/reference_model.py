"""A slow, explicit scalar re-implementation of the cost model, used only to check the vectorised one.

It walks the DRAM loop nest tile by tile, tracking which tile of each tensor is resident in the
global buffer, and walks the array folds inside every tile. No closed forms: the vectorised model's
closed forms must agree with these loops.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from edgesim.arch import ArchSpec
from edgesim.cost.systolic import fold_overhead
from edgesim.mapping import DATAFLOWS, Mapping
from edgesim.operands import operand_model
from edgesim.ops import Gemm


def _sizes(dim: int, tile: int) -> list[int]:
    tile = min(tile, dim)
    out = [tile] * (dim // tile)
    if dim % tile:
        out.append(dim % tile)
    return out


def reference_cost(arch: ArchSpec, op: Gemm, mp: Mapping) -> dict[str, float]:
    om = operand_model(arch, op)
    R, C = arch.pe_array.rows, arch.pe_array.cols
    sizes = {"m": _sizes(op.m, mp.tile_m), "n": _sizes(op.n, mp.tile_n), "k": _sizes(op.k, mp.tile_k)}
    b_el = om.b_stored_bytes / (op.k * op.n)
    ovh = int(fold_overhead(np.array([DATAFLOWS.index(mp.dataflow)]), R, C)[0])
    df = mp.dataflow.value

    dram_r = {"A": 0.0, "B": 0.0, "C": 0.0}
    dram_w_c = 0.0
    glb_r = {"A": 0.0, "B": 0.0, "C": 0.0}
    glb_w_c_array = 0.0
    compute = 0
    work_macs = 0
    resident: dict[str, tuple[int, ...] | None] = {"A": None, "B": None, "C": None}
    visits: dict[tuple[int, int], int] = {}
    nk = len(sizes["k"])

    def evict_c() -> None:
        nonlocal dram_w_c
        key = resident["C"]
        if key is not None:
            sm, sn = sizes["m"][key[0]], sizes["n"][key[1]]
            done = visits[key] == nk
            dram_w_c += sm * sn * (om.c_bytes if done else om.psum_bytes)

    ranges = [range(len(sizes[d])) for d in mp.dram_order]
    for idx in itertools.product(*ranges):
        at = dict(zip(mp.dram_order, idx, strict=True))
        im, in_, ik = at["m"], at["n"], at["k"]
        tm, tn, tk = sizes["m"][im], sizes["n"][in_], sizes["k"][ik]
        if resident["A"] != (im, ik):
            dram_r["A"] += tm * tk * om.a_bytes
            resident["A"] = (im, ik)
        if resident["B"] != (ik, in_):
            dram_r["B"] += tk * tn * b_el
            resident["B"] = (ik, in_)
        if resident["C"] != (im, in_):
            evict_c()
            if visits.get((im, in_), 0) > 0:
                dram_r["C"] += tm * tn * om.psum_bytes  # partial sums come back
            resident["C"] = (im, in_)
        visits[(im, in_)] = visits.get((im, in_), 0) + 1
        # inside the tile: folds of the array
        k_eff = max(1, math.ceil(math.ceil(tk * om.k_kept - 1e-9) / om.pack))
        if df == "os":
            spatial, temporal = (tm, R, tn, C), k_eff
        elif df == "ws":
            spatial, temporal = (k_eff, R, tn, C), tm
        else:
            spatial, temporal = (k_eff, R, tm, C), tn
        rows_dim, r_ext, cols_dim, c_ext = spatial
        for r0 in range(0, rows_dim, r_ext):
            for c0 in range(0, cols_dim, c_ext):
                used_r, used_c = min(r_ext, rows_dim - r0), min(c_ext, cols_dim - c0)
                compute += (ovh + om.stretch * temporal) * op.batch
                work_macs += used_r * used_c * temporal
                if df == "os":
                    glb_r["A"] += used_r * tk * om.a_bytes
                    glb_r["B"] += tk * used_c * b_el
                elif df == "ws":
                    glb_r["A"] += tm * tk * om.a_bytes * (1 if r0 == 0 else 0)
                    glb_w_c_array += tm * used_c * om.psum_bytes
                else:
                    glb_r["B"] += tn * tk * b_el * (1 if r0 == 0 else 0)
                    glb_w_c_array += used_c * tn * om.psum_bytes
        if df == "os":
            glb_w_c_array += tm * tn * om.psum_bytes
        elif df == "ws":
            glb_r["B"] += tk * tn * b_el
        else:
            glb_r["A"] += tm * tk * om.a_bytes
    evict_c()
    scale = op.batch
    return {"dram_read_A": dram_r["A"] * scale, "dram_read_B": dram_r["B"] * scale,
            "dram_read_C": dram_r["C"] * scale, "dram_write_C": dram_w_c * scale,
            "glb_read_A": glb_r["A"] * scale, "glb_read_B": glb_r["B"] * scale,
            "glb_write_C_from_array": glb_w_c_array * scale, "compute_cycles": compute,
            "work_macs": work_macs * scale}
