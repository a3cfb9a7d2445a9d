"""Regenerate SCALE-Sim v3's figures for edgesim's `--engine scalesim` tests (tests/compat/test_scalesim_engine.py).

Run from the repo root (about a minute on 2 cores):

    "$(bash benchmarks/scalesim_env.sh)" tests/golden/gen_scalesim_memory.py

It runs SCALE-Sim (PyPI ``scalesim`` 3.0.0) through its Python API on small layers with small SRAMs, so its
memory system matters, and writes ``tests/golden/scalesim_memory.csv`` (first line: a ``#`` comment with the
versions). Cases, all seeded:
- USER bandwidth mode, GEMMs: 40 random layers (os/ws/is, arrays 4-16 rows and columns, SRAMs 1-16 kB, 1-8 words
  per cycle per port, sometimes different per port); most are bandwidth-limited;
- CALC bandwidth mode, GEMMs: 16 random layers with small SRAMs;
- convolution layers in both modes: 12 layers (strides 1-3, some that do not divide the input, so SCALE-Sim's
  last window overhangs it).
Columns: the inputs, then SCALE-Sim's COMPUTE_REPORT figures (total_cycles_incl_prefetch, total_cycles,
stall_cycles) and DETAILED_ACCESS_REPORT's DRAM counts (ifmap and filter reads, ofmap writes, in words).
"""
import contextlib
import csv
import importlib.metadata as md
import multiprocessing
import os
import platform
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "scalesim_memory.csv")
sys.path.insert(0, os.path.join(HERE, "..", "..", "benchmarks"))
from scalesim.scale_sim import scalesim  # noqa: E402
from scalesim_runner import _CONFIG  # noqa: E402  (needs the scalesim venv)

COLUMNS = ["kind", "mode", "ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters", "stride", "rows",
           "cols", "dataflow", "ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb", "ifmap_bw", "filter_bw",
           "ofmap_bw", "total_cycles_incl_prefetch", "total_cycles", "stall_cycles", "dram_ifmap_reads",
           "dram_filter_reads", "dram_ofmap_writes"]


def cases():
    rnd = random.Random(2026)
    out = []
    for i in range(40 + 16):
        mode = "USER" if i < 40 else "CALC"
        m, n, k = rnd.choice([16, 33, 64, 100, 128]), rnd.choice([16, 40, 64, 96, 130]), rnd.choice([8, 32, 64, 75, 128])
        bw = rnd.choice([1, 2, 3, 4, 8])
        bws = (bw, bw, bw) if rnd.random() < 0.7 else tuple(rnd.choice([1, 2, 4, 8]) for _ in range(3))
        # GEMM mode is SCALE-Sim's conv with ifmap M x K, filter 1 x K, one channel, N filters
        out.append({"kind": "gemm", "mode": mode, "ifmap_h": m, "ifmap_w": k, "filter_h": 1, "filter_w": k,
                    "channels": 1, "filters": n, "stride": 1, **_arch(rnd, bws)})
    for i in range(12):
        h = rnd.choice([7, 9, 12, 16])
        r = rnd.choice([1, 2, 3])
        bw = rnd.choice([1, 2, 4])
        out.append({"kind": "conv", "mode": "USER" if i % 2 == 0 else "CALC", "ifmap_h": h, "ifmap_w": h + rnd.choice([0, 1]),
                    "filter_h": r, "filter_w": r, "channels": rnd.choice([1, 3, 8]), "filters": rnd.choice([4, 16, 24]),
                    "stride": rnd.choice([1, 2, 3]), **_arch(rnd, (bw, bw, bw))})
    return out


def _arch(rnd, bws):
    return {"rows": rnd.choice([4, 8, 16]), "cols": rnd.choice([4, 8, 16]), "dataflow": rnd.choice(["os", "ws", "is"]),
            "ifmap_sram_kb": rnd.choice([1, 2, 4, 16]), "filter_sram_kb": rnd.choice([1, 2, 4, 16]),
            "ofmap_sram_kb": rnd.choice([1, 2, 8]), "ifmap_bw": bws[0], "filter_bw": bws[1], "ofmap_bw": bws[2]}


def run(case):
    c = case
    with tempfile.TemporaryDirectory(prefix="scalesim_") as d:
        cfg, topo, layout = (os.path.join(d, n) for n in ("s.cfg", "conv.csv", "layout.csv"))
        with open(cfg, "w") as f:
            f.write(_CONFIG.format(mode=c["mode"], rows=c["rows"], cols=c["cols"], dataflow=c["dataflow"],
                                   ifmap_sram_kb=c["ifmap_sram_kb"], filter_sram_kb=c["filter_sram_kb"],
                                   ofmap_sram_kb=c["ofmap_sram_kb"], ifmap_bw=c["ifmap_bw"], filter_bw=c["filter_bw"],
                                   ofmap_bw=c["ofmap_bw"]))
        with open(topo, "w") as f:  # SCALE-Sim's conv format (trailing comma needed)
            f.write("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n")
            f.write("l0, %d, %d, %d, %d, %d, %d, %d,\n" % (c["ifmap_h"], c["ifmap_w"], c["filter_h"], c["filter_w"],
                                                          c["channels"], c["filters"], c["stride"]))
        with open(layout, "w") as f:
            f.write("Layer,\n")
        with contextlib.redirect_stdout(sys.stderr):
            sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout,
                           input_type_gemm=False)
            sim.run_scale(top_path=os.path.join(d, "out"))
        layer = sim.runner.single_layer_sim_object_list[0]
        overall, total, stall = (int(x) for x in layer.get_compute_report_items()[:3])
        det = layer.get_detail_report_items()
    return {**c, "total_cycles_incl_prefetch": overall, "total_cycles": total, "stall_cycles": stall,
            "dram_ifmap_reads": int(det[11]), "dram_filter_reads": int(det[14]), "dram_ofmap_writes": int(det[17])}


def main():
    with multiprocessing.Pool(2) as pool:
        rows = pool.map(run, cases())
    with open(OUT, "w", newline="") as f:
        f.write(f"# scalesim=={md.version('scalesim')} numpy=={md.version('numpy')} python=={platform.python_version()};"
                " regenerate: tests/golden/gen_scalesim_memory.py\n")
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
