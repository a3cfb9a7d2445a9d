"""Run ZigZag (PyPI ``zigzag-dse`` 3.9.1) on GEMM cases and report its search time, latency and energy.

Must be run with the ZigZag venv's interpreter (ZigZag pins its own dependencies)::

    /work/zigzag-venv/bin/pip install zigzag-dse six
    echo '[{"M":512,"N":4096,"K":4096}]' | /work/zigzag-venv/bin/python benchmarks/zigzag_runner.py

stdin: a JSON list of cases with keys M, N, K (GEMM (M x K) @ (K x N)), optional ``accelerator``
(a yaml in zigzag/inputs/hardware, default ``edge_tpu_like``). The GEMM is given to ZigZag as the
equation O[d][k] += I[d][c] * W[c][k] with D = M, C = K, K = N, 8-bit operands; spatial mapping on the
8x8x4x4 edge_tpu_like array: D1 <- N (8), D2 <- K (8), D3 <- M (4); LOMA searches the temporal mapping
(loop order and memory allocation) for latency.
stdout: a JSON list: per case the input plus ``seconds`` (wall time of get_hardware_performance_zigzag,
import excluded), ``latency_cycles``, ``energy_pj``, and ``mapping`` (ZigZag's chosen mapping in GEMM terms, see
``neutral_mapping``); ``import_seconds`` once per process.
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


def run_case(case):
    hw = os.path.join(os.path.dirname(zigzag.__file__), "inputs", "hardware", case.get("accelerator", "edge_tpu_like") + ".yaml")
    wl = [{"id": 0, "name": "g", "operator_type": "Gemm", "equation": "O[d][k]+=I[d][c]*W[c][k]",
           "loop_dims": ["D", "C", "K"], "loop_sizes": [int(case["M"]), int(case["K"]), int(case["N"])],
           "operand_precision": {"I": 8, "W": 8, "O": 16, "O_final": 8}, "operand_source": {"I": 0, "W": 0}}]
    mp = [{"name": "default", "spatial_mapping": {"D1": ["K, 8"], "D2": ["C, 8"], "D3": ["D, 4"], "D4": ["D, 1"]},
           "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]
    with tempfile.TemporaryDirectory(prefix="zigzag_") as d:
        with open(os.path.join(d, "m.yaml"), "w") as f:
            yaml.safe_dump(mp, f)
        with contextlib.redirect_stdout(sys.stderr):
            t = time.perf_counter()
            res = get_hardware_performance_zigzag(wl, hw, os.path.join(d, "m.yaml"), opt="latency",
                                                  dump_folder=os.path.join(d, "out"), loma_show_progress_bar=False)
            seconds = time.perf_counter() - t
    out = {**case, "seconds": seconds, "energy_pj": float(res[0]), "latency_cycles": float(res[1])}
    try:
        out["mapping"] = neutral_mapping(res[2][0][1][0][0])
    except Exception as e:  # keep the timing result even if ZigZag's internals change shape
        out["mapping_error"] = f"{type(e).__name__}: {e}"
    return out


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
    return {"spatial": spatial, "temporal": temporal, "loop_order": list(reversed(nest)),
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
