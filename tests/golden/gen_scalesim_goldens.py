"""Regenerate SCALE-Sim v3 golden compute-cycle counts for dense GEMMs.

Regenerate with (from the repo root; takes a few minutes on 2 cores):

    bash benchmarks/scalesim_env.sh && /work/scalesim-venv/bin/python tests/golden/gen_scalesim_goldens.py

(use ``"$(bash benchmarks/scalesim_env.sh)" tests/golden/gen_scalesim_goldens.py`` if
$SCALESIM_VENV points elsewhere). It runs SCALE-Sim (PyPI ``scalesim`` 3.0.0) through its
Python API via ``benchmarks/scalesim_runner.py`` in temp dirs, in CALC bandwidth mode with
large SRAMs, so no stalls occur (stall cycles are still recorded and subtracted), and writes
``tests/golden/scalesim_compute_cycles.csv``. The first line of that CSV is a ``#`` comment
with the scalesim / numpy / python versions; skip it when reading (``comment="#"``).

The GEMM is (M x K) @ (K x N) -> (M x N), array R rows x C cols. SCALE-Sim's stall-free
"Total Cycles" (verified exactly against every row written here) is

    cycles = folds * per_fold - 1
    os: rows <- M, cols <- N, time <- K   folds = ceil(M/R)*ceil(N/C)  per_fold =   R + C + K - 2
    ws: rows <- K, cols <- N, time <- M   folds = ceil(K/R)*ceil(N/C)  per_fold = 2*R + C + M - 2
    is: rows <- K, cols <- M, time <- N   folds = ceil(K/R)*ceil(M/C)  per_fold = 2*R + C + N - 2

The trailing ``- 1`` is SCALE-Sim's "ends one cycle early" convention: its memory system
(double_buffered_scratchpad.service_memory_requests) reports the 0-based cycle index of the
last demand line (max of the OFMAP serviced cycles), not the number of cycles.
"""
import csv
import importlib.metadata as md
import math
import multiprocessing
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "benchmarks"))
from scalesim_runner import run_case  # noqa: E402  (needs the scalesim venv)

OUT = os.path.join(HERE, "scalesim_compute_cycles.csv")
ARRAYS = [(16, 16), (8, 32), (32, 8)]
DATAFLOWS = ["os", "ws", "is"]
SHAPES = [  # (M, N, K)
    # very thin: M=1 (GEMV), N=1, K=1 and mixes
    (1, 1, 1), (1, 64, 64), (64, 1, 64), (64, 64, 1), (1, 127, 31), (97, 1, 13),
    (13, 97, 1), (1, 1, 97),
    # smaller than every array dimension
    (2, 3, 5), (5, 11, 3), (7, 7, 7), (8, 8, 8), (15, 15, 15),
    # exactly an array's size along some/all dims
    (16, 16, 16), (8, 32, 8), (32, 8, 32), (8, 8, 32), (32, 32, 8),
    # primes / odd, partly larger than the array
    (13, 13, 13), (17, 17, 17), (31, 31, 31), (33, 33, 33), (127, 13, 7),
    (7, 127, 13), (31, 97, 127), (97, 97, 97), (127, 127, 31),
    # larger than the array, composite
    (64, 64, 64), (100, 50, 75), (48, 80, 96), (65, 33, 129), (96, 200, 40),
    # LLM-ish, scaled down so SCALE-Sim stays fast (it is O(cycles * array edge) in Python)
    (128, 64, 512), (512, 64, 512), (256, 64, 1024), (128, 128, 128), (1, 256, 512), (256, 64, 256), (32, 512, 128),
    (64, 128, 768), (16, 256, 256),
]
COLUMNS = ["M", "N", "K", "rows", "cols", "dataflow", "scalesim_total_cycles",
           "scalesim_stall_cycles", "scalesim_compute_cycles"]


def closed_form(M, N, K, R, C, df):
    """Stall-free SCALE-Sim 'Total Cycles' for a dense GEMM (see module docstring)."""
    spatial_rows, spatial_cols, t = {"os": (M, N, K), "ws": (K, N, M), "is": (K, M, N)}[df]
    folds = math.ceil(spatial_rows / R) * math.ceil(spatial_cols / C)
    per_fold = (R if df == "os" else 2 * R) + C + t - 2
    return folds * per_fold - 1


def _run(case):
    return run_case(case)


def main():
    cases = [dict(M=m, N=n, K=k, rows=r, cols=c, dataflow=df)
             for (m, n, k) in SHAPES for (r, c) in ARRAYS for df in DATAFLOWS]
    # Longest first for better load balance over the 2 workers.
    cases.sort(key=lambda c: -closed_form(c["M"], c["N"], c["K"], c["rows"], c["cols"],
                                          c["dataflow"]) * (c["rows"] + c["cols"]))
    t0 = time.perf_counter()
    with multiprocessing.Pool(min(2, os.cpu_count() or 1)) as pool:
        results = pool.map(_run, cases, chunksize=1)
    wall = time.perf_counter() - t0

    def key(r):
        return (SHAPES.index((r["M"], r["N"], r["K"])), ARRAYS.index((r["rows"], r["cols"])),
                         DATAFLOWS.index(r["dataflow"]))
    results.sort(key=key)
    max_diff = max(abs(r["compute_cycles"] - closed_form(r["M"], r["N"], r["K"], r["rows"],
                                                         r["cols"], r["dataflow"]))
                   for r in results)
    max_stall = max(r["stall_cycles"] for r in results)

    with open(OUT, "w", newline="") as f:
        f.write("# scalesim=={} numpy=={} python=={}; CALC bandwidth mode, SRAM kB "
                "ifmap/filter/ofmap=6144/6144/2048; compute=total-stall; "
                "regenerate: tests/golden/gen_scalesim_goldens.py\n".format(
                    md.version("scalesim"), md.version("numpy"), platform.python_version()))
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in results:
            w.writerow([r["M"], r["N"], r["K"], r["rows"], r["cols"], r["dataflow"],
                        r["total_cycles"], r["stall_cycles"], r["compute_cycles"]])

    sim_s = sum(r["seconds"] for r in results)
    print("wrote %d rows to %s in %.1f s wall (%.1f s inside scalesim)"
          % (len(results), OUT, wall, sim_s))
    print("max |closed_form - scalesim compute cycles| = %d, max stall cycles = %d"
          % (max_diff, max_stall))
    return 0 if max_diff == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
