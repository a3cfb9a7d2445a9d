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
import excluded), ``latency_cycles``, ``energy_pj``; ``import_seconds`` once per process.
"""
import contextlib
import json
import os
import sys
import tempfile
import time

t0 = time.perf_counter()
with contextlib.redirect_stdout(sys.stderr):
    import yaml
    import zigzag
    from zigzag.api import get_hardware_performance_zigzag
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
    return {**case, "seconds": seconds, "energy_pj": float(res[0]), "latency_cycles": float(res[1])}


def main():
    import logging
    logging.disable(logging.WARNING)
    cases = json.load(sys.stdin)
    if isinstance(cases, dict):
        cases = [cases]
    out = []
    for c in cases:
        try:
            out.append(run_case(c))
        except Exception as e:  # report and keep going
            out.append({**c, "error": f"{type(e).__name__}: {e}"})
    json.dump({"import_seconds": IMPORT_SECONDS, "results": out}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
