"""`edgesim simulate --engine scalesim`, through main() as a user runs it.

The goldens are SCALE-Sim 3.0.0's own figures: its COMPUTE_REPORT.csv and DETAILED_ACCESS_REPORT.csv (DRAM reads and
writes) from running it on exactly these files (`scalesim.scale_sim.scalesim(config=..., topology=...,
input_type_gemm=...).run_scale()`), copied here. The tests that run layers need `edgesim.compat.scalesim_engine`'s
replay; the error paths stop before it.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from edgesim.cli import main
from edgesim.cli.simulate import scalesim_arch_of
from edgesim.compat.scalesim_engine import BandwidthMode, ScaleSimArch
from edgesim.compat.scalesim_files import load_scalesim_config, load_scalesim_topology
from edgesim.config.hardware import load_arch
from edgesim.mapping import Dataflow
from tests.conftest import REPO

# Laid out as scalesim-project/scale-sim-v3 configs/google.cfg, with a small array, small SRAMs and distinct
# bandwidths (ifmap 2, filter 3, ofmap 4 words/cycle) so that the second GEMM stalls.
TINY_CFG = """\
[general]
run_name = tiny_8x8_ws

[architecture_presets]
ArrayHeight:    8
ArrayWidth:     8
IfmapSramSzkB:    1
FilterSramSzkB:   1
OfmapSramSzkB:    1
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Dataflow : ws
Bandwidth : 4
ReadRequestBuffer: 128
WriteRequestBuffer: 128

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 2
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 3
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""

# Laid out as scalesim-project/scale-sim-v2 topologies/GEMM_mnk/test_mnk_input.csv (run with SCALE-Sim's -i gemm).
GEMM_CSV = "Layer, M, N, K,\nQK, 20, 12, 16,\nFC, 64, 24, 40,\n"
# Laid out as scalesim-project/scale-sim-v2 topologies/conv_nets/test.csv (SCALE-Sim's default -i conv). C2's
# stride does not divide 10 - 3: SCALE-Sim makes ceil((10 - 3 + 2) / 2) = 5 output rows and columns (M = 25, with
# windows cut at the edge), as for C3's 11 x 11 input; K = 3*3*2 = 18, N = 4.
CONV_CSV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
            "C2, 10, 10, 3, 3, 2, 4, 2,\nC3, 11, 11, 3, 3, 2, 4, 2,\n")

# SCALE-Sim 3.0.0: (layer, M, N, K, "Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles", "Overall Util %",
# "Mapping Efficiency %", "Compute Util %", "DRAM IFMAP Reads", "DRAM Filter Reads", "DRAM OFMAP Writes")
SCALESIM_USER_GEMM = [
    ("QK", 20, 12, 16, 446, 167, 0, 35.92814371257485, 75.0, 30.612244897959183, 320, 258, 480),
    ("FC", 64, 24, 40, 5449, 5065, 3776, 18.95360315893386, 100.0, 68.81720430107526, 10240, 1026, 7683)]
SCALESIM_CALC_GEMM = [
    ("QK", 20, 12, 16, 258, 167, 0, 35.92814371257485, 75.0, 30.612244897959183, 320, 192, 480),
    ("FC", 64, 24, 40, 1403, 1289, 0, 74.47633824670287, 100.0, 68.81720430107526, 7680, 960, 7687)]
SCALESIM_USER_CONV = [
    ("C2", 25, 4, 18, 470, 140, 0, 20.089285714285715, 37.5, 17.361111111111114, 512, 144, 300),
    ("C3", 25, 4, 18, 470, 140, 0, 20.089285714285715, 37.5, 17.361111111111114, 512, 144, 300)]

CSV_COLUMNS = ["layer", "m", "n", "k", "total_cycles_incl_prefetch", "total_cycles", "stall_cycles",
               "overall_util_percent", "mapping_efficiency_percent", "compute_util_percent", "ifmap_dram_reads_words",
               "filter_dram_reads_words", "ofmap_dram_writes_words"]


def csv_report(capsys, *args: str) -> list[tuple[object, ...]]:
    """The CSV report's rows of `edgesim simulate --format csv ARGS`, as SCALE-Sim's columns."""
    assert main(["simulate", *args, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    for r in rows:
        assert int(r["compute_cycles"]) == int(r["total_cycles"]) - int(r["stall_cycles"])
    return [(r["layer"], *(float(r[c]) if "percent" in c else int(r[c]) for c in CSV_COLUMNS[1:])) for r in rows]


def matches(got: list[tuple[object, ...]], expected: list[tuple[object, ...]]) -> bool:
    return got == [tuple(pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for v in row) for row in expected]


def error_of(capsys, *args: str) -> str:
    """stderr of a command that must fail with exit status 2 and a message, not a traceback."""
    assert main(["simulate", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgesim: error:") and "Traceback" not in err
    return err


# ------------------------------------------------------------------------------------- against SCALE-Sim's figures


def test_gemm_topology_user_bandwidth_matches_scalesim(write, capsys):
    got = csv_report(capsys, "--scalesim-config", str(write("tiny.cfg", TINY_CFG)),
                     "--topology", str(write("gemm.csv", GEMM_CSV)))
    assert matches(got, SCALESIM_USER_GEMM)


def test_gemm_topology_calc_bandwidth_matches_scalesim(write, capsys):
    config = write("calc.cfg", TINY_CFG.replace("InterfaceBandwidth: USER", "InterfaceBandwidth: CALC"))
    got = csv_report(capsys, "--engine", "scalesim", "--scalesim-config", str(config),
                     "--topology", str(write("gemm.csv", GEMM_CSV)))
    assert matches(got, SCALESIM_CALC_GEMM)


def test_conv_topology_matches_scalesim(write, capsys):
    got = csv_report(capsys, "--scalesim-config", str(write("tiny.cfg", TINY_CFG)),
                     "--topology", str(write("conv.csv", CONV_CSV)))
    assert matches(got, SCALESIM_USER_CONV)


# ----------------------------------------------------------------------------------------------------- the report


def test_table_names_the_architecture_and_totals_the_layers(write, capsys):
    assert main(["simulate", "--scalesim-config", str(write("tiny.cfg", TINY_CFG)),
                 "--topology", str(write("gemm.csv", GEMM_CSV))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("edgesim simulate: gemm on tiny_8x8_ws (8x8 array, SRAM ifmap/filter/ofmap 1/1/1 kB, "
                          "dataflow ws, USER bandwidth: DRAM reads ifmap 2, filter 3, ofmap writes 4 words/cycle), "
                          "engine: scalesim (SCALE-Sim v3's model)\n")
    lines = out.splitlines()
    assert lines[1].split() == ["layer", "M", "N", "K", "total", "cyc", "stall", "cyc", "span", "cyc", "util", "%",
                                "compute", "util", "%", "ifmap", "rd", "k", "words", "filter", "rd", "k", "words",
                                "ofmap", "wr", "k", "words"]
    # SCALE-Sim's figures; words in thousands (the largest total, 10,560 ifmap words, is at least 1 k)
    assert lines[2].split() == ["QK", "20", "12", "16", "167", "0", "446", "35.9", "30.6", "0.320", "0.258", "0.480"]
    assert lines[3].split() == ["FC", "64", "24", "40", "5,065", "3,776", "5,449", "19.0", "68.8", "10.24", "1.03",
                                "7.68"]
    # TOTAL: the sums; util = (20*12*16 + 64*24*40) MACs / (5,232 cycles x 64 PEs) = 65,280 / 334,848 = 19.5 %
    assert lines[4].split() == ["TOTAL", "5,232", "3,776", "5,895", "19.5", "10.56", "1.28", "8.16"]


def test_json_totals_and_output_file(write, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["simulate", "--scalesim-config", str(write("tiny.cfg", TINY_CFG)), "--topology",
                 str(write("gemm.csv", GEMM_CSV)), "--format", "json", "-o", str(out)]) == 0
    assert capsys.readouterr().err == f"wrote {out}\n"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["architecture"] == {"name": "tiny_8x8_ws", "rows": 8, "cols": 8, "ifmap_sram_kb": 1,
                                    "filter_sram_kb": 1, "ofmap_sram_kb": 1, "dataflow": "ws",
                                    "bandwidth_mode": "USER", "ifmap_bw": 2, "filter_bw": 3, "ofmap_bw": 4}
    assert (data["engine"], data["workload"], data["layers"], data["macs"]) == ("scalesim", "gemm", 2, 65280)
    assert [r["layer"] for r in data["per_layer"]] == ["QK", "FC"]
    for key in ("total_cycles", "stall_cycles", "total_cycles_incl_prefetch", "ifmap_dram_reads_words",
                "filter_dram_reads_words", "ofmap_dram_writes_words"):
        assert data[key] == sum(r[key] for r in data["per_layer"])
    assert (data["total_cycles"], data["ofmap_dram_writes_words"]) == (167 + 5065, 480 + 7683)


def test_repeated_layers_each_get_a_row(write, capsys):
    # a depthwise row is one layer per channel (SCALE-Sim's "<name>Channel_<i>"); identical layers give identical rows
    topology = write("dp.csv", CONV_CSV.splitlines()[0] + "\nDP_C3, 11, 11, 3, 3, 2, 4, 2,\n")
    got = csv_report(capsys, "--scalesim-config", str(write("tiny.cfg", TINY_CFG)), "--topology", str(topology))
    # each channel alone: M = 25, N = 4, K = 3*3*1 = 9
    assert [row[:4] for row in got] == [("DP_C3Channel_0", 25, 4, 9), ("DP_C3Channel_1", 25, 4, 9)]
    assert got[0][4:] == got[1][4:]


# ------------------------------------------------------------------------------- the architecture without a .cfg


def test_architecture_derived_from_edgesim_hardware():
    # edge-npu-16x16: 16x16 PEs, a 256 KiB global buffer, 12.8 GB/s DRAM at 800 MHz = 16 B/cycle
    # SRAMs: 256 / 3 = 85.3 -> 85 kB each; ports: 16 / 3 = 5.3 -> 5 words/cycle each
    assert scalesim_arch_of(load_arch(), Dataflow.WS) == ScaleSimArch(
        name="edge-npu-16x16", rows=16, cols=16, ifmap_sram_kb=85, filter_sram_kb=85, ofmap_sram_kb=85,
        dataflow=Dataflow.WS, bandwidth_mode=BandwidthMode.USER, ifmap_bw=5, filter_bw=5, ofmap_bw=5)


def test_derived_architecture_has_at_least_1_kb_and_1_word_per_cycle():
    # 2 KiB / 3 = 0.67 kB -> at least 1; 1.6 GB/s at 800 MHz = 2 B/cycle, / 3 = 0.67 -> at least 1
    hw = load_arch(None, ["global_buffer.capacity_kib=2", "dram.bandwidth_gb_per_s=1.6", "pe_array.cols=8"])
    arch = scalesim_arch_of(hw, Dataflow.OS)
    assert (arch.rows, arch.cols, arch.ifmap_sram_kb, arch.ofmap_sram_kb, arch.ifmap_bw, arch.ofmap_bw,
            arch.dataflow) == (16, 8, 1, 1, 1, 1, Dataflow.OS)


def test_derived_architecture_is_named_on_stderr(capsys):
    assert main(["simulate", "--engine", "scalesim", "--gemm", "16,8,24", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("edgesim: --engine scalesim without --scalesim-config: derived from edge-npu-16x16: 16x16 "
                            "array, SRAM ifmap/filter/ofmap 85 kB each (the 256 KiB global buffer in three), 5 "
                            "words/cycle per DRAM port (the 16 B/cycle DRAM channel in three), dataflow ws (default), "
                            "USER bandwidth\n")
    data = json.loads(captured.out)
    assert data["architecture"]["ifmap_bw"] == 5 and data["workload"] == "gemm_16x8x24"
    assert [(r["layer"], r["m"], r["n"], r["k"]) for r in data["per_layer"]] == [("gemm_16x8x24", 16, 8, 24)]


def test_dataflow_flag_sets_the_derived_dataflow(capsys):
    assert main(["simulate", "--engine", "scalesim", "--gemm", "16,8,24", "--dataflow", "os", "--format", "json",
                 "--set", "pe_array.rows=4"]) == 0
    captured = capsys.readouterr()
    assert "derived from edge-npu-16x16: 4x16 array" in captured.err and ", dataflow os, USER" in captured.err
    assert json.loads(captured.out)["architecture"]["dataflow"] == "os"


def test_workload_gemms(write, capsys):
    workload = write("w.csv", "name,m,n,k\nup,32,16,8\ndown,8,16,32\n")
    got = csv_report(capsys, "--scalesim-config", str(write("tiny.cfg", TINY_CFG)), "--workload", str(workload))
    assert [row[:4] for row in got] == [("up", 32, 16, 8), ("down", 8, 16, 32)]


# ----------------------------------------------------------------------------------------------------- the errors


def test_workload_gemms_scalesim_cannot_run_are_refused(write, capsys):
    workload = write("w.csv", "name,m,n,k,batch,a_bits,weight_density\nok,4,4,4,1,8,1\nheads,4,4,4,8,16,0.5\n")
    err = error_of(capsys, "--engine", "scalesim", "--workload", str(workload))
    why = "--engine scalesim runs unbatched, dense 8-bit GEMMs (SCALE-Sim's word is one byte); heads has"
    assert err == (f"edgesim: error: 3 problems:\n  {workload}: gemms[1].a_bits: {why} a_bits 16\n"
                   f"  {workload}: gemms[1].batch: {why} batch 8\n"
                   f"  {workload}: gemms[1].weight_density: {why} weight_density 0.5\n")


@pytest.mark.parametrize("args, message", [
    (["--engine", "scalesim"], "--engine scalesim: needs the layers: give --topology FILE.csv (a SCALE-Sim topology), "
                               "--gemm M,N,K or --workload FILE"),
    (["--engine", "analytic", "--scalesim-config", "{cfg}", "--gemm", "4,4,4"],
     "--scalesim-config: goes with --engine scalesim, not --engine analytic"),
    (["--engine", "sim", "--scalesim-config", "{cfg}", "--gemm", "4,4,4"],
     "--scalesim-config: goes with --engine scalesim, not --engine sim"),
    (["--scalesim-config", "{cfg}", "--hw", "edge_npu_16x16", "--gemm", "4,4,4"],
     "--hw: not with --scalesim-config: {cfg} sets the architecture and dataflow"),
    (["--scalesim-config", "{cfg}", "--set", "pe_array.rows=4", "--gemm", "4,4,4"],
     "--set: not with --scalesim-config: {cfg} sets the architecture and dataflow"),
    (["--scalesim-config", "{cfg}", "--dataflow", "os", "--gemm", "4,4,4"],
     "--dataflow: not with --scalesim-config: {cfg} sets the architecture and dataflow"),
    (["--scalesim-config", "{cfg}", "--timeline", "{tmp}/t.png", "--gemm", "4,4,4"],
     "--timeline: needs --engine sim (--engine scalesim has no timeline)"),
    (["--engine", "scalesim", "--mappings", "m.json", "--gemm", "4,4,4"],
     "--mappings: goes with --engine analytic or sim (SCALE-Sim's mapping is its dataflow's fixed fold order)"),
    (["--engine", "scalesim", "--layer", "tiny"],
     "--layer: goes with --engine analytic or sim: SCALE-Sim runs unbatched 8-bit GEMMs, and a layer's attention is "
     "batched over heads; give --engine scalesim --topology, --gemm or --workload"),
    (["--engine", "scalesim", "--gemm", "4,0,4"], "--gemm 4,0,4: expected three positive integers M,N,K"),
])
def test_flag_errors(write, tmp_path, capsys, args, message):
    cfg = str(write("tiny.cfg", TINY_CFG))
    err = error_of(capsys, *(a.format(cfg=cfg, tmp=tmp_path) for a in args))
    assert message.format(cfg=cfg) in err


def test_bad_config_file_is_every_problem_and_exit_2(write, capsys):
    cfg = write("bad.cfg", TINY_CFG.replace("Dataflow : ws", "Dataflow : WS").replace("[sparsity]", "[Sparsity]"))
    err = error_of(capsys, "--scalesim-config", str(cfg), "--gemm", "4,4,4")
    assert err == ("edgesim: error: 2 problems:\n"
                   f"  {cfg}:13: [architecture_presets] Dataflow: expected os, ws or is (SCALE-Sim would warn and run "
                   "os), got 'WS'\n"
                   f"  {cfg}: [sparsity]: missing section (found [Sparsity]: section names are case-sensitive); "
                   "SCALE-Sim 3.0.0 reads keys from it and has no default for them\n")


def test_bad_topology_file_exit_2(write, capsys):
    topology = write("bad.csv", GEMM_CSV + "L3, 4, 4, 4\n")
    err = error_of(capsys, "--engine", "scalesim", "--topology", str(topology))
    assert err == (f"edgesim: error: 1 problem:\n  {topology}:4: SCALE-Sim drops the text after a row's last comma "
                   "('4'); end the row with a comma\n")


def test_command_line_error_has_no_traceback(tmp_path):
    missing = tmp_path / "missing.cfg"
    out = subprocess.run([sys.executable, "-m", "edgesim", "simulate", "--scalesim-config", str(missing), "--gemm",
                          "4,4,4"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == f"edgesim: error: 1 problem:\n  {missing}: cannot read file: No such file or directory\n"


# --------------------------------------------------------------------------- a topology on edgesim's own engines


def test_topology_runs_on_the_analytic_engine_as_8_bit_gemms(write, capsys):
    assert main(["simulate", "--topology", str(write("conv.csv", CONV_CSV)), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["engine"] == "analytic" and data["workload"] == "conv"
    assert [(r["op"], r["m"], r["n"], r["k"], r["a_bits"], r["b_bits"]) for r in data["per_op"]] == [
        ("C2", 25, 4, 18, 8, 8), ("C3", 25, 4, 18, 8, 8)]


def test_shipped_scalesim_files(capsys):
    """workloads/scalesim/: the config as written there, and the conv shapes as SCALE-Sim derives them by hand:
    conv1 64x64x3, 3x3, stride 2: ceil((64 - 3 + 2) / 2) = 32 rows and columns, M = 1024, K = 27, N = 32;
    conv3 32x32x64, stride 2: ceil(31 / 2) = 16, M = 256, K = 576; fc: a 1x1 input, M = 1, K = 2048, N = 10."""
    cfg = REPO / "workloads" / "scalesim" / "edge_npu_ws.cfg"
    arch = load_scalesim_config(cfg)
    assert (arch.rows, arch.cols, arch.ifmap_sram_kb, arch.filter_sram_kb, arch.ofmap_sram_kb) == (16, 16, 96, 96, 64)
    assert (arch.dataflow, arch.bandwidth_mode, arch.ifmap_bw, arch.filter_bw, arch.ofmap_bw) == \
        (Dataflow.WS, BandwidthMode.USER, 4, 4, 4)
    layers = {x.name: (x.m, x.k, x.n) for x in load_scalesim_topology(REPO / "workloads/scalesim/small_cnn_conv.csv")}
    assert (layers["conv1"], layers["conv3"], layers["fc"]) == ((1024, 27, 32), (256, 576, 64), (1, 2048, 10))
    gemms = load_scalesim_topology(REPO / "workloads/scalesim/tinyllama_layer_gemm.csv")
    assert [(x.m, x.n, x.k) for x in gemms][-1] == (128, 2048, 5632)
    assert main(["simulate", "--scalesim-config", str(cfg), "--topology",
                 str(REPO / "workloads/scalesim/small_cnn_conv.csv"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["layer"] for r in report["per_layer"]] == ["conv1", "conv2", "conv3", "conv4", "fc"]
