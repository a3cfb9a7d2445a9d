"""Run SCALE-Sim (PyPI ``scalesim`` 3.0.0) on GEMM cases and report cycles + wall time.

Must be run with the SCALE-Sim venv's interpreter (see ``benchmarks/scalesim_env.sh``)::

    echo '[{"M":64,"N":64,"K":256,"rows":16,"cols":16,"dataflow":"ws"}]' \
        | "$(bash benchmarks/scalesim_env.sh)" benchmarks/scalesim_runner.py

stdin: a JSON list of cases (a single object is accepted too). Keys per case:
  M, N, K            GEMM (M x K) @ (K x N) -> (M x N)
  rows, cols         systolic array height / width
  dataflow           "os" | "ws" | "is"
  dram_bw            optional int, words/cycle. When given, SCALE-Sim runs in USER
                     bandwidth mode and this value is used for *each* operand channel
                     (ifmap, filter, ofmap are separate channels, not a shared bus).
  ifmap_bw, filter_bw, ofmap_bw   optional per-operand overrides (USER mode only)
  ifmap_sram_kb, filter_sram_kb, ofmap_sram_kb   optional SRAM sizes (default
                     6144/6144/2048 kB as in SCALE-Sim's sample config; stalls only
                     appear when the working set does not fit, so use small SRAMs to
                     study bandwidth stalls)

stdout: a JSON list with, per case, the input plus ``total_cycles`` ("Total Cycles"
column of COMPUTE_REPORT.csv), ``stall_cycles``, ``compute_cycles`` (= total - stall),
``total_cycles_incl_prefetch`` (first report column), DRAM access counts, and
``seconds``: wall-clock time of ``scalesim.run_scale()`` only (no interpreter start-up,
no config/topology file writing). A failing case gets an ``error`` entry instead.
SCALE-Sim's own console output is redirected to stderr so stdout stays pure JSON.

Notes on the SCALE-Sim 3.0.0 bandwidth keys (verified in its source):
  * [architecture_presets] Bandwidth (first value) only sets the OFMAP drain rate.
  * [layout] IfmapSRAMBankBandwidth / FilterSRAMBankBandwidth set the ifmap / filter
    DRAM->SRAM prefetch rate in USER mode (despite their names).
  * Without a bandwidth (CALC mode) ifmap/filter never stall and OFMAP drains at
    ``cols`` words/cycle.
"""
import contextlib
import json
import os
import sys
import tempfile
import time

from peer_io import run_cases_from_stdin
from scalesim.scale_sim import scalesim

_CONFIG = """\
[general]
run_name = run

[run_presets]
InterfaceBandwidth = {mode}
UseRamulatorTrace = False

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
ifmapsramszkB = {ifmap_sram_kb}
filtersramszkB = {filter_sram_kb}
ofmapsramszkB = {ofmap_sram_kb}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = {dataflow}
ReadRequestBuffer = 32
WriteRequestBuffer = 32
Bandwidth = {ofmap_bw}

[layout]
IfmapCustomLayout = False
FilterCustomLayout = False
IfmapSRAMBankBandwidth = {ifmap_bw}
IfmapSRAMBankNum = 1
IfmapSRAMBankPort = 2
FilterSRAMBankBandwidth = {filter_bw}
FilterSRAMBankNum = 1
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
"""


def run_case(case):
    """Simulate one GEMM case in a throw-away directory; return a result dict."""
    c = {"ifmap_sram_kb": 6144, "filter_sram_kb": 6144, "ofmap_sram_kb": 2048, **case}
    if c["dataflow"] not in ("os", "ws", "is"):  # scalesim would silently fall back to os
        raise ValueError("dataflow must be os, ws or is, got {!r}".format(c["dataflow"]))
    bw = c.get("dram_bw")
    user = bw is not None or any(k in c for k in ("ifmap_bw", "filter_bw", "ofmap_bw"))
    params = dict(
        mode="USER" if user else "CALC",
        rows=int(c["rows"]), cols=int(c["cols"]), dataflow=c["dataflow"],
        ifmap_sram_kb=int(c["ifmap_sram_kb"]), filter_sram_kb=int(c["filter_sram_kb"]),
        ofmap_sram_kb=int(c["ofmap_sram_kb"]),
        # In CALC mode these values are parsed but unused.
        ifmap_bw=int(c.get("ifmap_bw", 10 if bw is None else bw)),
        filter_bw=int(c.get("filter_bw", 10 if bw is None else bw)),
        ofmap_bw=int(c.get("ofmap_bw", 10 if bw is None else bw)),
    )
    with tempfile.TemporaryDirectory(prefix="scalesim_") as d:
        cfg, topo, layout = (os.path.join(d, n) for n in ("s.cfg", "gemm.csv", "layout.csv"))
        with open(cfg, "w") as f:
            f.write(_CONFIG.format(**params))
        with open(topo, "w") as f:  # gemm format: "Layer, M, N, K," (trailing comma needed)
            f.write("Layer,M,N,K,\ng0,%d,%d,%d,\n" % (c["M"], c["N"], c["K"]))
        with open(layout, "w") as f:  # must exist even when custom layouts are off
            f.write("Layer,\n")
        with contextlib.redirect_stdout(sys.stderr):
            sim = scalesim(save_disk_space=True, verbose=False, config=cfg,
                           topology=topo, layout=layout, input_type_gemm=True)
            t0 = time.perf_counter()
            sim.run_scale(top_path=os.path.join(d, "out"))
            seconds = time.perf_counter() - t0
        layer = sim.runner.single_layer_sim_object_list[0]
        overall, total, stall = (int(x) for x in layer.get_compute_report_items()[:3])
        det = layer.get_detail_report_items()
    return {**case, "bandwidth_mode": params["mode"],
            "total_cycles": total, "stall_cycles": stall, "compute_cycles": total - stall,
            "total_cycles_incl_prefetch": overall,
            "dram_ifmap_reads": int(det[11]), "dram_filter_reads": int(det[14]),
            "dram_ofmap_writes": int(det[17]), "seconds": seconds}


def main():
    json.dump(run_cases_from_stdin(run_case), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
