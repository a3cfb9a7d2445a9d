"""The cost model for one mapping in plain Python: the same formulas as the vectorised model.

numpy costs a few microseconds per call however small the array, and the vectorised model makes
about a hundred calls, so for a single mapping (`evaluate_one`, reports, the simulator) plain
floats are roughly 10x faster. `tests/property` checks that both give identical numbers.
"""

from __future__ import annotations

import math

from edgesim.arch import ArchSpec
from edgesim.cost.access import LEVELS, TENSORS, refetches
from edgesim.cost.pipelining import innermost, pipelined_cycles_scalar
from edgesim.errors import Infeasible
from edgesim.mapping import Dataflow, Mapping
from edgesim.operands import OperandModel, operand_model
from edgesim.ops import Gemm


def _split(dim: int, tile: int) -> tuple[int, int, int]:
    t = min(tile, dim)
    n = -(-dim // t)
    return n, t, dim - (n - 1) * t


def _k_eff(k: int, om: OperandModel) -> int:
    return max(1, -(-math.ceil(k * om.k_kept - 1e-9) // om.pack))


def _folds(n: int, full: int, last: int, extent: int) -> int:
    return (n - 1) * (-(-full // extent)) + (-(-last // extent))


Table = dict[str, dict[str, float]]


def evaluate_scalar(arch: ArchSpec, op: Gemm, mp: Mapping) -> tuple[dict[str, float], Table, Table, str] | Infeasible:
    """(scalars, read bytes, write bytes, B's storage format) of one mapping, or why it cannot run.

    The formulas are those of `edgesim.cost.systolic`, `edgesim.cost.access` and `edgesim.cost.model`.
    """
    om = operand_model(arch, op)
    R, C = arch.pe_array.rows, arch.pe_array.cols
    nm, tm, rm = _split(op.m, mp.tile_m)
    nn, tn, rn = _split(op.n, mp.tile_n)
    nk, tk, rk = _split(op.k, mp.tile_k)
    ke, rke = _k_eff(tk, om), _k_eff(rk, om)
    df = mp.dataflow
    glb, rf, dram = arch.global_buffer, arch.registers, arch.dram

    tile_in = tm * tk * om.a_bytes + tk * tn * om.b_stored_bytes / (op.k * op.n)
    need = (tile_in + tm * tn * om.psum_bytes) * (2.0 if mp.double_buffer else 1.0)
    rf_need = om.pack * (om.a_bytes + om.b_bytes) + om.psum_bytes
    if rf_need > rf.capacity_bytes:
        return Infeasible(f"each PE needs {rf_need:g} B of registers but registers.capacity_bytes_per_pe is "
                          f"{rf.capacity_bytes:g}")
    if need > glb.capacity_bytes:
        return Infeasible(f"global-buffer tile {mp.tile_m}x{mp.tile_n}x{mp.tile_k} needs {need:,.0f} B but "
                          f"global_buffer holds {glb.capacity_bytes:,.0f} B")

    # compute cycles (edgesim.cost.systolic)
    f_m_rows, f_m_cols = _folds(nm, tm, rm, R), _folds(nm, tm, rm, C)
    f_n_cols, f_k_rows = _folds(nn, tn, rn, C), _folds(nk, ke, rke, R)
    if df == Dataflow.OS:
        f_rows, f_cols, n_time, t_sum, overhead = f_m_rows, f_n_cols, nk, (nk - 1) * ke + rke, R + C - 2
    elif df == Dataflow.WS:
        f_rows, f_cols, n_time, t_sum, overhead = f_k_rows, f_n_cols, nm, op.m, 2 * R + C - 2
    else:
        f_rows, f_cols, n_time, t_sum, overhead = f_k_rows, f_m_cols, nn, op.n, 2 * R + C - 2
    compute = float(op.batch * f_rows * f_cols * (overhead * n_time + om.stretch * t_sum))

    # access counts (edgesim.cost.access)
    a_reps = nn if df == Dataflow.IS else f_n_cols
    b_reps = f_m_rows if df == Dataflow.OS else (nm if df == Dataflow.WS else f_m_cols)
    acc = nk if df == Dataflow.OS else f_k_rows
    ref_a, ref_b, ref_c = refetches(mp.dram_order, nm > 1, nn > 1, nk > 1)
    b = op.batch
    a_all, b_all, c_all = b * op.m * op.k * om.a_bytes, b * om.b_stored_bytes, b * op.m * op.n
    psum, macs = c_all * om.psum_bytes, b * op.m * op.n * op.k * om.k_kept
    dram_a, dram_b, dram_c_in = a_all * (nn if ref_a else 1), b_all * (nm if ref_b else 1), psum * (nk - 1 if ref_c else 0)
    dram_c_out = dram_c_in + c_all * om.c_bytes
    glb_a, glb_b = a_all * a_reps, b_all * b_reps
    rf_a, rf_b, rf_c = macs * om.a_bytes, macs * om.b_bytes, macs * om.psum_bytes
    reads = [[rf_a, rf_b, rf_c], [glb_a, glb_b, psum * (acc - 1) + dram_c_out], [dram_a, dram_b, dram_c_in]]
    writes = [[glb_a if df == Dataflow.IS else rf_a, glb_b if df == Dataflow.WS else rf_b, rf_c],
              [dram_a, dram_b, psum * acc + dram_c_in], [0.0, 0.0, dram_c_out]]

    # cycles and energy (edgesim.cost.model)
    level_bytes = [sum(r) + sum(w) for r, w in zip(reads, writes, strict=True)]
    # the register-file port: the stationary input operand's accesses only (edgesim.cost.access.register_port_bytes)
    port_tensor = {Dataflow.WS: 1, Dataflow.IS: 0}.get(df)
    rf_port = 0.0 if port_tensor is None else reads[0][port_tensor] + writes[0][port_tensor]
    rf_cycles = rf_port / (rf.bandwidth_bytes_per_cycle * rf.instances)
    glb_cycles = level_bytes[1] / glb.bandwidth_bytes_per_cycle
    dram_cycles = level_bytes[2] / dram.bandwidth_bytes_per_cycle
    on_chip = max(compute, glb_cycles, rf_cycles)
    tiles = float(nm * nn * nk * b)
    no_overlap = on_chip + dram_cycles + tiles * dram.latency_cycles
    inner, every = innermost(mp.dram_order, nm > 1, nn > 1, nk > 1)
    runs = tiles / (nm, nn, nk, 1)[inner]
    bw = dram.bandwidth_bytes_per_cycle
    loads = (reads[2][0] + reads[2][1] + reads[2][2]) / bw
    every_loads = ((reads[2][0] if every[0] else 0.0) + (reads[2][1] if every[1] else 0.0)
                   + (reads[2][2] if every[2] else 0.0)) / bw
    writebacks = writes[2][2] / bw
    every_writebacks = writebacks if every[2] else 0.0
    first = min(tile_in / bw, loads)
    last_writeback = float(rm * rn) * (om.c_bytes / bw)
    overlap = min(pipelined_cycles_scalar(on_chip, every_loads, loads - every_loads, every_writebacks,
                                          writebacks - every_writebacks, first, last_writeback, tiles, runs,
                                          dram.latency_cycles), no_overlap)
    total = overlap if mp.double_buffer else no_overlap
    level_pj = [sum(r) * lv.read_energy_pj_per_byte + sum(w) * lv.write_energy_pj_per_byte
                for r, w, lv in zip(reads, writes, arch.levels, strict=True)]
    mac_pj = macs * om.mac_energy_pj
    scalars = {"compute_cycles": compute, "glb_cycles": glb_cycles, "rf_cycles": rf_cycles, "rf_port_bytes": rf_port,
               "dram_cycles": dram_cycles,
               "latency_overlap_cycles": overlap, "latency_no_overlap_cycles": no_overlap, "total_cycles": total,
               "mac_energy_pj": mac_pj, "energy_pj": sum(level_pj) + mac_pj, "dram_bytes": level_bytes[2],
               "effective_macs": macs, "utilization": macs / (total * arch.pe_array.pes * om.pack),
               "glb_need_bytes": need, **{f"{lv}_energy_pj": e for lv, e in zip(LEVELS, level_pj, strict=True)}}
    return (scalars, {lv: dict(zip(TENSORS, r, strict=True)) for lv, r in zip(LEVELS, reads, strict=True)},
            {lv: dict(zip(TENSORS, w, strict=True)) for lv, w in zip(LEVELS, writes, strict=True)}, om.b_format)
