"""Run ZigZag (PyPI ``zigzag-dse`` 3.9.1) on GEMM cases and report its search time, latency and energy.

Must be run with the ZigZag venv's interpreter (ZigZag pins its own dependencies)::

    /work/zigzag-venv/bin/pip install zigzag-dse six
    echo '[{"M":512,"N":4096,"K":4096}]' | /work/zigzag-venv/bin/python benchmarks/zigzag_runner.py

The GEMM (M x K) @ (K x N) is given to ZigZag as the equation O[d][k] += I[d][c] * W[c][k] with D = M, C = K,
K = N (A = ZigZag's I, B = W, C = O), 8-bit operands, 16-bit partial sums and 8-bit final outputs. LOMA searches
the temporal mapping (loop order and memory allocation) for latency unless a fixed ordering is given.

stdin: a JSON list of cases (or one case) with keys

- ``M``, ``N``, ``K``: the GEMM sizes.
- ``accelerator`` (optional): a yaml in zigzag/inputs/hardware, default ``edge_tpu_like`` (an 8x8x4x4 array,
  1024 MACs; the spatial mappings below are written for it).
- ``spatial`` (optional): the spatial mapping (array dim <- layer dim, unrolling):
  ``"runner"`` (default): D1 <- K(=N) 8, D2 <- C(=K) 8, D3 <- D(=M) 4, D4 <- D 1, i.e. 256 of the 1024 MACs;
  ``"full"``: D1 <- K 8, D2 <- C 8, D3 <- D 4, D4 <- D 4, i.e. all 1024 MACs, M unrolled 16 in total.
  A dim not divisible by its unrolling is padded up (ZigZag takes ceil(size / unrolling) temporal iterations).
- ``temporal_ordering`` (optional): a fixed loop order for ZigZag, a list of ``[dim, size]`` pairs innermost
  first in ZigZag layer-dim names (D, C, K, *not* GEMM names), passed as the mapping's ``temporal_ordering``.
  ZigZag only takes it as a fixed ordering when the sizes of each dim multiply to exactly that dim's temporal
  (padded) loop size, ceil(size / spatial unrolling); ZigZag then only allocates the loops to memory levels (no
  LOMA search). Otherwise ZigZag silently uses it as a LOMA constraint (positions of loops) and keeps searching.
  The ``mapping.zigzag_temporal_ordering`` output of a run is in exactly this format and can be fed back.

stdout: ``{"import_seconds": ..., "results": [...]}``; per case the input plus

- ``seconds``: wall time of get_hardware_performance_zigzag (import excluded).
- ``latency_cycles``: ZigZag's total latency (``latency_total2``); ``energy_pj``: total energy (``energy_total``).
- ``spatial``: the spatial mapping name used; ``temporal_ordering_used``: true iff a ``temporal_ordering`` was
  given and ZigZag costed exactly that loop order (checked against the chosen mapping), with
  ``temporal_ordering_note`` explaining a false.
- ``mac_count``: MACs of the (unpadded) layer (``layer.total_mac_count``); ``mac_units``: MACs of the array.
- ``spatial_utilization``: ZigZag's ``mac_spatial_utilization`` = ideal_cycle / ideal_temporal_cycle, i.e. the
  fraction of the array the spatial mapping (with padding) keeps busy; ``mac_utilization``: ideal_cycle /
  latency with stalls (``mac_utilization0``), + onloading (``1``), + offloading (``2``).
- ``latency``: ZigZag's latency components in cycles (CostModelEvaluation attributes):
  ``ideal_cycle``: ceil(MACs / array MACs), the latency at 100% MAC use (independent of the mapping);
  ``ideal_temporal_cycle``: product of all temporal loop sizes (padded), the compute cycles of this mapping;
  ``stall_slack_comb``: extra cycles when memory ports cannot keep up with the compute (max over ports of the
  combined stall/slack, 0 if every transfer fits in its allowed window);
  ``data_onloading_cycle``: cycles to fill the memories before computation starts;
  ``data_offloading_cycle``: cycles to drain the final outputs after computation;
  ``systolic_drain_cycle``: drain cycles along systolic array dims (0 for edge_tpu_like);
  ``latency_total0`` = ideal_temporal + stall, ``latency_total1`` = + onloading,
  ``latency_total2`` = + offloading + systolic drain (= ``latency_cycles``).
- ``accesses``: per operand (A, B, C), per memory level innermost first, ZigZag's ``memory_word_access``:
  ``words`` in each ZigZag ``DataDirection`` (rd_out_to_low: reads serving the level below / the MACs,
  wr_in_by_low: writes from below (outputs only), rd_out_to_high: reads sent up (outputs only), wr_in_by_high:
  writes of data arriving from above); ``word_bits``: the port width a word counts (the level's max bandwidth
  for that operand and direction; ZigZag counts ceil(bits / min_bw) * min_bw / max_bw words per transfer, so
  words are max_bw wide with min_bw granularity); ``elem_bits``: the element precision ZigZag moved in that
  direction (for C: 16 bits while partial sums move, 8 bits for final outputs, 0 if no move); ``bytes`` =
  words * word_bits / 8; ``total_bytes`` summed over the directions.
- ``energy_breakdown``: ``mac_pj`` (``mac_energy`` = MACs * unit energy, 0.04 pJ for edge_tpu_like),
  ``mem_pj`` (``mem_energy``), ``total_pj`` (``energy_total``), and per operand per level ``pj``
  (``mem_energy_breakdown``: words * r_cost or w_cost) with ``by_direction`` (``mem_energy_breakdown_further``).
  mac_pj + sum of all level pj = total_pj.
- ``mapping``: ZigZag's chosen mapping in GEMM terms, see ``neutral_mapping`` (includes ``double_buffer``).

``import_seconds`` once per process.
"""
import contextlib
import json
import os
import sys
import tempfile
import time

from peer_io import run_cases_from_stdin

t0 = time.perf_counter()
with contextlib.redirect_stdout(sys.stderr):
    import yaml
    import zigzag
    from zigzag.api import get_hardware_performance_zigzag
    from zigzag.hardware.architecture.memory_port import DataDirection
IMPORT_SECONDS = time.perf_counter() - t0


# spatial mappings (array dim -> [layer dim, unrolling]) for the 8x8x4x4 edge_tpu_like array
SPATIAL = {
    "runner": {"D1": ["K, 8"], "D2": ["C, 8"], "D3": ["D, 4"], "D4": ["D, 1"]},  # 256 of 1024 MACs
    "full": {"D1": ["K, 8"], "D2": ["C, 8"], "D3": ["D, 4"], "D4": ["D, 4"]},  # all 1024 MACs (D unrolled 16)
}


def parse_temporal_ordering(to):
    """``[[dim, size], ...]`` innermost first in ZigZag dim names -> the yaml list ZigZag's mapping parser takes."""
    out = []
    for pair in to:
        d, s = pair
        if str(d) not in DIM:
            raise ValueError(f"temporal_ordering dim {d!r} is not a ZigZag layer dim ({', '.join(DIM)})")
        out.append([str(d), int(s)])
    return out


def run_case(case):
    hw = os.path.join(os.path.dirname(zigzag.__file__), "inputs", "hardware", case.get("accelerator", "edge_tpu_like") + ".yaml")
    wl = [{"id": 0, "name": "g", "operator_type": "Gemm", "equation": "O[d][k]+=I[d][c]*W[c][k]",
           "loop_dims": ["D", "C", "K"], "loop_sizes": [int(case["M"]), int(case["K"]), int(case["N"])],
           "operand_precision": {"I": 8, "W": 8, "O": 16, "O_final": 8}, "operand_source": {"I": 0, "W": 0}}]
    spatial = case.get("spatial", "runner")
    if spatial not in SPATIAL:
        raise ValueError(f"spatial must be one of {sorted(SPATIAL)}, got {spatial!r}")
    mp = [{"name": "default", "spatial_mapping": SPATIAL[spatial],
           "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]
    ordering = case.get("temporal_ordering")
    if ordering:
        # ZigZag 3.9.1 honours this: TemporalMappingGeneratorStage skips LOMA and only runs the MemoryAllocator on
        # the given order when its loop sizes match the temporal loops exactly (else it becomes LOMA constraints).
        mp[0]["temporal_ordering"] = parse_temporal_ordering(ordering)
    with tempfile.TemporaryDirectory(prefix="zigzag_") as d:
        with open(os.path.join(d, "m.yaml"), "w") as f:
            yaml.safe_dump(mp, f)
        with contextlib.redirect_stdout(sys.stderr):
            t = time.perf_counter()
            res = get_hardware_performance_zigzag(wl, hw, os.path.join(d, "m.yaml"), opt="latency",
                                                  dump_folder=os.path.join(d, "out"), loma_show_progress_bar=False)
            seconds = time.perf_counter() - t
    out = {**case, "seconds": seconds, "energy_pj": float(res[0]), "latency_cycles": float(res[1]),
           "spatial": spatial}
    cme = None
    try:
        cme = res[2][0][1][0][0]
        out["mapping"] = neutral_mapping(cme)
    except Exception as e:  # keep the timing result even if ZigZag's internals change shape
        out["mapping_error"] = f"{type(e).__name__}: {e}"
    if cme is not None:
        try:
            out.update(cost_details(cme))
        except Exception as e:
            out["details_error"] = f"{type(e).__name__}: {e}"
    if ordering:
        want = [x for x in parse_temporal_ordering(ordering) if x[1] > 1]
        got = out.get("mapping", {}).get("zigzag_temporal_ordering")
        out["temporal_ordering_used"] = got == want
        if got != want:
            out["temporal_ordering_note"] = (
                "ZigZag did not cost the given order (its loop sizes per dim must multiply to ceil(size / spatial "
                f"unrolling)); it searched with the order as constraints and chose {got}")
    else:
        out["temporal_ordering_used"] = False
    return out


def _levels(cme, op):
    mem_op = cme.memory_operand_links.layer_to_mem_op(op)
    return mem_op, cme.accelerator.memory_hierarchy.get_memory_levels(mem_op=mem_op)


def cost_details(cme):
    """ZigZag's latency components, memory word accesses and energy breakdown in GEMM terms (see module doc)."""
    from zigzag.mapping.data_movement import DataMoveAttr

    latency = {k: float(getattr(cme, k)) for k in (
        "ideal_cycle", "ideal_temporal_cycle", "stall_slack_comb", "data_onloading_cycle", "data_offloading_cycle",
        "systolic_drain_cycle", "latency_total0", "latency_total1", "latency_total2")}
    accesses, energy = {}, {}
    for op, acc_levels in cme.memory_word_access.items():
        mem_op, levels = _levels(cme, op)
        rows, erows = [], []
        for lv, (acc, level) in enumerate(zip(acc_levels, levels, strict=True)):
            prec = cme.mapping.unit_mem_data_movement[op][lv].get_attribute(DataMoveAttr.DATA_PRECISION)
            words = {str(dd): int(acc.get(dd)) for dd in DataDirection}
            bits = {str(dd): int(level.get_max_bandwidth(mem_op, dd) or 0) for dd in DataDirection}
            nbytes = {k: words[k] * bits[k] / 8 for k in words}
            rows.append({"level": level.name, "words": words, "word_bits": bits,
                         "elem_bits": {str(dd): int(prec.get(dd)) for dd in DataDirection},
                         "bytes": nbytes, "total_bytes": sum(nbytes.values())})
            further = cme.mem_energy_breakdown_further[op][lv]
            erows.append({"level": level.name, "pj": float(cme.mem_energy_breakdown[op][lv]),
                          "by_direction": {str(dd): float(further.get(dd)) for dd in DataDirection}})
        accesses[OPERAND[str(op)]] = rows
        energy[OPERAND[str(op)]] = erows
    return {
        "mac_count": int(cme.layer.total_mac_count),
        "mac_units": int(cme.accelerator.operational_array.total_unit_count),
        "spatial_utilization": float(cme.mac_spatial_utilization),
        "mac_utilization": {"stalls": float(cme.mac_utilization0), "stalls_onloading": float(cme.mac_utilization1),
                            "stalls_onloading_offloading": float(cme.mac_utilization2)},
        "latency": latency,
        "accesses": accesses,
        "energy_breakdown": {"mac_pj": float(cme.mac_energy), "mem_pj": float(cme.mem_energy),
                             "total_pj": float(cme.energy_total), "operands": energy},
    }


# ZigZag layer dims and operands -> GEMM names (O[d][k] += I[d][c] * W[c][k] with D = M, C = K, K = N)
DIM = {"D": "M", "C": "K", "K": "N"}
OPERAND = {"I": "A", "W": "B", "O": "C"}


def neutral_mapping(cme):
    """ZigZag's chosen mapping in GEMM terms (M, N, K; A = M x K input, B = K x N weight, C = output).

    - ``spatial``: per array dimension, the GEMM dims unrolled on it and by how much (``{"D1": {"N": 8}, ...}``).
    - ``temporal``: per operand, its memory levels innermost first, each with its name and the temporal loops
      that sit at that level (innermost first, ``[dim, size]``). ZigZag pads non-divisible dims, so the loop
      sizes multiply to the padded size.
    - ``loop_order``: all temporal loops outermost first (one loop nest shared by the operands; each operand
      cuts it into levels differently).
    - ``dram_loops``: outermost first, the loops above the innermost DRAM boundary, i.e. the loops at the DRAM
      level for at least one operand; ``onchip_tile``: per dim, spatial unrolling times the temporal loops
      below that boundary (padded), i.e. the largest tile every operand keeps on chip.
    - ``dram_loops_per_operand``: outermost first, the loops at each operand's own DRAM level.
    - ``double_buffer``: ZigZag's per-operand, per-level double-buffering flags.
    - ``zigzag_temporal_ordering``: ``loop_order`` innermost first in ZigZag dim names (D, C, K), the format of
      the ``temporal_ordering`` input (feed it back to cost exactly this loop order).
    - ``dram_bytes``: per operand, the bytes ZigZag's model moves at the DRAM level (word accesses times the
      port width, all four directions).
    """
    spatial = {str(oa): {DIM[str(d)]: int(f) for d, f in m.items()} for oa, m in cme.layer.spatial_mapping.items()}
    tm = cme.temporal_mapping.mapping_dic_origin
    temporal, boundary, dram_per_op = {}, None, {}
    nest = None
    for op, levels in tm.items():
        mem_op = cme.memory_operand_links.layer_to_mem_op(op)
        names = [m.name for m in cme.accelerator.mem_hierarchy_dict[mem_op]]
        temporal[OPERAND[str(op)]] = [{"level": names[i], "loops": [[DIM[str(d)], int(f)] for d, f in lv]}
                                      for i, lv in enumerate(levels)]
        flat = [[DIM[str(d)], int(f)] for lv in levels for d, f in lv]  # innermost first
        nest = nest or flat
        below = sum(len(lv) for lv in levels[:-1])  # loops under this operand's top (DRAM) level
        boundary = below if boundary is None else min(boundary, below)
        dram_per_op[OPERAND[str(op)]] = [list(x) for x in reversed(levels[-1] and flat[below:])]
    tile = {d: 1 for d in "MNK"}
    for m in spatial.values():
        for d, f in m.items():
            tile[d] *= f
    for d, f in nest[:boundary]:
        tile[d] *= f
    dram_bytes = {}
    for op, acc in cme.memory_word_access.items():
        mem_op = cme.memory_operand_links.layer_to_mem_op(op)
        top = cme.accelerator.mem_hierarchy_dict[mem_op][len(acc) - 1]
        dram_bytes[OPERAND[str(op)]] = sum(acc[-1].get(dd) * (top.get_max_bandwidth(mem_op, dd) or 0) / 8
                                           for dd in DataDirection)
    zz = {v: k for k, v in DIM.items()}
    return {"spatial": spatial, "temporal": temporal, "loop_order": list(reversed(nest)),
            "zigzag_temporal_ordering": [[zz[d], f] for d, f in nest],
            "dram_loops": list(reversed(nest[boundary:])), "onchip_tile": tile,
            "dram_loops_per_operand": dram_per_op,
            "dram_bytes": dram_bytes,
            "double_buffer": {OPERAND[str(op)]: [bool(x) for x in v] for op, v in cme.double_buffer_true.items()}}


def main():
    import logging
    logging.disable(logging.WARNING)
    out = run_cases_from_stdin(run_case)
    json.dump({"import_seconds": IMPORT_SECONDS, "results": out}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
