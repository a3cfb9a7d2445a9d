"""Reading SCALE-Sim v3's own files: the architecture .cfg and the topology CSV (GEMM and conv formats).

The files below are SCALE-Sim's shipped examples, copied as text (origins in the comments); every expected value is
read off the file's text by hand, and every conv -> GEMM mapping is worked out by hand with SCALE-Sim's formula
(topology_utils.topo_calc_hyperparams): ofmap side = ceil((ifmap side - filter side + stride) / stride).
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesim.compat.scalesim_engine import BandwidthMode, ScaleSimArch
from edgesim.compat.scalesim_files import (
    ConvShape,
    ScaleSimLayer,
    load_scalesim_config,
    load_scalesim_topology,
)
from edgesim.errors import ConfigError
from edgesim.mapping import Dataflow

# scalesim-project/scale-sim-v3, configs/google.cfg (commit 5dce26a), verbatim.
GOOGLE_CFG = """\
[general]
run_name = GoogleTPU_v1_ws

[architecture_presets]
ArrayHeight:    256
ArrayWidth:     256
IfmapSramSzkB:    6144
FilterSramSzkB:   6144
OfmapSramSzkB:    2048
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Dataflow : ws
Bandwidth : 10
ReadRequestBuffer: 128
WriteRequestBuffer: 128

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
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

# scalesim-project/SCALE-Sim, configs/scale.cfg (commit 918413a), verbatim: CALC mode, os, an unused MemoryBanks key.
SCALE_CFG = """\
[general]
run_name = scale_example_run_32x32_ws

[architecture_presets]
ArrayHeight:    32
ArrayWidth:     32
IfmapSramSzkB:   64
FilterSramSzkB:  64
OfmapSramSzkB:   64
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : os
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 100
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 100
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

# scalesim-project/scale-sim-v3, configs/scale.cfg (commit 0cd4d7d), verbatim: no [layout] and no [sparsity], which
# SCALE-Sim 3.0.0's scale_config.read_conf_file reads without defaults (it stops with NoSectionError: 'layout').
V3_SCALE_CFG = """\
[general]
run_name = scale_example_run_32x32_ws

[architecture_presets]
ArrayHeight:    32
ArrayWidth:     32
IfmapSramSzkB:   64 
FilterSramSzkB:  64 
OfmapSramSzkB:   64 
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : os
MemoryBanks:   1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""  # noqa: W291 - the trailing spaces are the file's

# scalesim-project/scale-sim-v2, topologies/GEMM_mnk/test_mnk_input.csv, verbatim (no newline at the end).
GEMM_CSV = "Layer Name, M, N, K,\nTest 1, 256, 128, 256,"

# Laid out as scalesim-project/scale-sim-v2, topologies/sparsity/gemm.csv (with dense ratios, which edgesim runs).
GEMM_SPARSITY_CSV = "Layer Name, M, N, K, Sparsity,\nGEMM_1, 3, 5, 16, 1:1,\nGEMM_2, 1, 5, 16, 4:4,"

# scalesim-project/scale-sim-v2, topologies/conv_nets/alexnet.csv, verbatim.
ALEXNET_CSV = """\
Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
Conv1     ,224         ,224        ,11           ,11          ,3       ,96        ,4      ,
Conv2     ,27         ,27        ,5            ,5           ,96      ,256       ,1      ,
Conv3     ,13          ,13         ,3            ,3           ,256     ,384       ,1      ,
Conv4     ,13          ,13         ,3            ,3           ,384     ,384       ,1      ,
Conv5     ,13          ,13         ,3            ,3           ,384     ,256       ,1      ,
"""

# scalesim-project/scale-sim-v2, topologies/conv_nets/mobilnet_paper.csv, its lines 1-13 and 16, verbatim: a blank
# line after the header, "#dw" after the last comma, line 13 without a trailing comma (SCALE-Sim drops its stride,
# then fails on the missing column) and a tab-indented row.
MOBILENET_CSV = """\
Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,

Conv1, 224, 224, 3, 3, 3, 32, 2,
Conv2_dw, 112, 112, 3, 3, 1, 1, 1,#dw
Conv3, 112, 112, 1, 1, 32, 64, 1,
Conv4_dw, 112, 112, 3, 3, 1, 1, 2,#dw
Conv5, 56, 56, 1, 1, 64, 128, 1,
Conv6_dw, 56, 56, 3, 3, 1, 1, 1,#dw
Conv7, 56, 56, 1, 1, 128, 128, 1,
Conv8_dw, 56, 56, 3, 3, 1, 1, 2,#dw
Conv9,28,28,1,1,128,256,1,
Conv10_dw,28,28,3,3,1,1,1,#dw
Conv11,28,28,1,1,256,256,1
\tConv14_dw_0,14,14,3,3,1,1,1,
"""

CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
HEADERS = ("expected SCALE-Sim's GEMM header 'Layer, M, N, K,' or its conv header 'Layer name, IFMAP Height, IFMAP "
           "Width, Filter Height, Filter Width, Channels, Num Filter, Strides,' (optionally followed by 'Sparsity,')")
BOUND = "expected a positive integer of at most 1,048,576"


def problems(load, path) -> list[str]:
    """The problems a loader finds in `path`, each as the CLI prints it (without the indent)."""
    with pytest.raises(ConfigError) as err:
        load(path)
    return [str(p) for p in err.value.problems]


# ------------------------------------------------------------------------------------------------------- configs


def test_google_cfg(write):
    arch = load_scalesim_config(write("google.cfg", GOOGLE_CFG))
    assert arch == ScaleSimArch(name="GoogleTPU_v1_ws", rows=256, cols=256, ifmap_sram_kb=6144, filter_sram_kb=6144,
                                ofmap_sram_kb=2048, dataflow=Dataflow.WS, bandwidth_mode=BandwidthMode.USER,
                                ifmap_bw=10, filter_bw=10, ofmap_bw=10)


def test_scale_cfg_calc_mode_uses_scalesims_fixed_bandwidths(write):
    # CALC: SCALE-Sim ignores Bandwidth and the bank bandwidths (100 here); it reads at 10 words/cycle and drains the
    # ofmap at ArrayWidth (32) words/cycle (single_layer_sim.py)
    arch = load_scalesim_config(write("scale.cfg", SCALE_CFG))
    assert arch == ScaleSimArch(name="scale_example_run_32x32_ws", rows=32, cols=32, ifmap_sram_kb=64,
                                filter_sram_kb=64, ofmap_sram_kb=64, dataflow=Dataflow.OS,
                                bandwidth_mode=BandwidthMode.CALC, ifmap_bw=10, filter_bw=10, ofmap_bw=32)


def test_user_mode_reads_layout_bandwidths_and_the_first_bandwidth(write):
    text = (GOOGLE_CFG.replace("IfmapSramSzkB:    6144", "ifmapsramszkB = 12")
            .replace("FilterSramSzkB:   6144", "FILTERSRAMSZKB=24").replace("OfmapSramSzkB:    2048", "ofmapSramSzKb : 8")
            .replace("Dataflow : ws", "Dataflow = is").replace("Bandwidth : 10", "Bandwidth : 7, 3")
            .replace("IfmapSRAMBankBandwidth: 10", "IfmapSRAMBankBandwidth: 20")
            .replace("IfmapSRAMBankNum: 10", "IfmapSRAMBankNum: 4")
            .replace("FilterSRAMBankBandwidth: 10", "filtersrambankbandwidth: 6")
            .replace("FilterSRAMBankNum: 10", "FilterSRAMBankNum: 2")
            .replace("ArrayHeight:    256", "ArrayHeight:    8").replace("ArrayWidth:     256", "ArrayWidth:     4"))
    arch = load_scalesim_config(write("user.cfg", text))
    assert arch == ScaleSimArch(name="GoogleTPU_v1_ws", rows=8, cols=4, ifmap_sram_kb=12, filter_sram_kb=24,
                                ofmap_sram_kb=8, dataflow=Dataflow.IS, bandwidth_mode=BandwidthMode.USER,
                                ifmap_bw=20, filter_bw=6, ofmap_bw=7)


def test_shipped_v3_scale_cfg_is_refused_like_scalesim_refuses_it(write):
    path = write("v3scale.cfg", V3_SCALE_CFG)
    missing = "missing section; SCALE-Sim 3.0.0 reads keys from it and has no default for them"
    assert problems(load_scalesim_config, path) == [f"{path}: [layout]: {missing}", f"{path}: [sparsity]: {missing}"]


# GOOGLE_CFG's lines: 5 ArrayHeight, 6 ArrayWidth, 7 IfmapSramSzkB, 13 Dataflow, 14 Bandwidth, 19 IfmapCustomLayout,
# 20 IfmapSRAMBankBandwidth, 21 IfmapSRAMBankNum, 23 FilterCustomLayout, 29 SparsitySupport, 36 InterfaceBandwidth,
# 37 UseRamulatorTrace
@pytest.mark.parametrize("old, new, expected", [
    ("ArrayHeight:    256\n", "", "[architecture_presets] ArrayHeight: missing required key (SCALE-Sim 3.0.0 reads it "
                                    "and has no default)"),
    ("IfmapSramSzkB:    6144", "IfmapSramSzkB:    6 kB",
     "7: [architecture_presets] IfmapSramSzkB: expected a positive integer, got '6 kB'"),
    ("IfmapSramSzkB:    6144", "IfmapSramSzkB:    64.5",
     "7: [architecture_presets] IfmapSramSzkB: expected a positive integer, got '64.5'"),
    ("ArrayWidth:     256", "ArrayWidth:     0", "6: [architecture_presets] ArrayWidth: expected a positive integer, got 0"),
    ("ArrayHeight:    256", "ArrayHeight:    256 ; rows",
     "5: [architecture_presets] ArrayHeight: expected a positive integer, got '256 ; rows'"),
    ("IfmapOffset:    0", "IfmapOffset:    -5",
     "10: [architecture_presets] IfmapOffset: expected an integer of at least 0, got -5"),
    ("Dataflow : ws", "Dataflow : WS",
     "13: [architecture_presets] Dataflow: expected os, ws or is (SCALE-Sim would warn and run os), got 'WS'"),
    ("Bandwidth : 10", "Bandwidth : 0",
     "14: [architecture_presets] Bandwidth: expected positive integers separated by commas, got '0'"),
    ("Bandwidth : 10", "Bandwidth : 10,",
     "14: [architecture_presets] Bandwidth: expected positive integers separated by commas, got '10,'"),
    ("IfmapSRAMBankBandwidth: 10", "IfmapSRAMBankBandwidth: -1",
     "20: [layout] IfmapSRAMBankBandwidth: expected a positive integer, got -1"),
    ("IfmapSRAMBankNum: 10", "IfmapSRAMBankNum: 3",
     "21: [layout] IfmapSRAMBankNum: IfmapSRAMBankBandwidth (10) must be a multiple of IfmapSRAMBankNum (3): "
     "SCALE-Sim 3.0.0 asserts it (read_buffer.py)"),
    ("IfmapCustomLayout: False", "IfmapCustomLayout: True",
     "19: [layout] IfmapCustomLayout: custom SRAM layouts (bank conflicts) are not modelled by --engine scalesim; "
     "set IfmapCustomLayout to False"),
    ("FilterCustomLayout: False", "FilterCustomLayout: maybe",
     "23: [layout] FilterCustomLayout: expected True or False (or yes/no, on/off, 1/0), got 'maybe'"),
    ("SparsitySupport : false", "SparsitySupport : true",
     "29: [sparsity] SparsitySupport: sparsity is not modelled by --engine scalesim; set SparsitySupport to False"),
    ("SparsitySupport : false", "SparsitySupport : yes",
     "29: [sparsity] SparsitySupport: expected true or false, got 'yes'"),
    ("InterfaceBandwidth: USER", "InterfaceBandwidth: user",
     "36: [run_presets] InterfaceBandwidth: expected USER or CALC (in capitals: SCALE-Sim compares the text), got 'user'"),
    ("UseRamulatorTrace: False", "UseRamulatorTrace: True",
     "37: [run_presets] UseRamulatorTrace: Ramulator DRAM traces are not modelled by --engine scalesim; set "
     "UseRamulatorTrace to False"),
    ("UseRamulatorTrace: False", "UseRamulatorTrace: 0",
     "37: [run_presets] UseRamulatorTrace: expected True or False, got '0'"),
    ("run_name = GoogleTPU_v1_ws", "run_name =", "2: [general] run_name: expected a run name, got ''"),
    ("[layout]", "[Layout]", "[layout]: missing section (found [Layout]: section names are case-sensitive); SCALE-Sim "
                             "3.0.0 reads keys from it and has no default for them"),
    ("ArrayWidth:     256", "ArrayWidth:     256\narraywidth: 16",
     "7: [architecture_presets] arraywidth: appears twice in the section (key names are case-insensitive; "
     "configparser refuses that)"),
    ("ArrayHeight:    256", "ArrayHeight 256", "5: expected 'key = value', 'key : value' or a [section] header, got "
                                                "'ArrayHeight 256'"),
    ("[general]\n", "", "1: expected a section header such as [general] before the first key, got "
                        "'run_name = GoogleTPU_v1_ws'"),
    ("[sparsity]", "[network_presets]\nTopologyCsvLoc: \"t.csv\"\n\n[sparsity]",
     "28: [network_presets]: SCALE-Sim 3.0.0 then reads a quoted TopologyCsvLoc from [architecture_presets] and stops "
     "without it; remove the section and give the topology with --topology"),
])
def test_config_errors(write, old, new, expected):
    assert old in GOOGLE_CFG
    path = write("bad.cfg", GOOGLE_CFG.replace(old, new))
    sep = ":" if expected[0].isdigit() else ": "
    assert problems(load_scalesim_config, path) == [f"{path}{sep}{expected}"]


def test_bank_count_need_not_divide_the_bandwidth_in_calc_mode(write):
    # SCALE-Sim's divisibility assert is in the USER-mode read buffer only (CALC uses read_buffer_estimate_bw.py)
    arch = load_scalesim_config(write("c.cfg", SCALE_CFG.replace("IfmapSRAMBankNum: 10", "IfmapSRAMBankNum: 3")))
    assert arch.ifmap_bw == 10


def test_calc_mode_does_not_read_bandwidth(write):
    arch = load_scalesim_config(write("c.cfg", SCALE_CFG.replace("Bandwidth : 10\n", "")))
    assert arch.ofmap_bw == 32


def test_every_config_problem_is_reported_at_once(write):
    path = write("bad.cfg", GOOGLE_CFG.replace("Dataflow : ws", "Dataflow : xs").replace("ArrayWidth:     256",
                                                                                         "ArrayWidth:     -4"))
    with pytest.raises(ConfigError) as err:
        load_scalesim_config(path)
    assert str(err.value).startswith("2 problems:\n")
    assert [p.line for p in err.value.problems] == [6, 13]


def test_percent_in_a_value_is_configparsers_interpolation(write):
    path = write("bad.cfg", GOOGLE_CFG.replace("run_name = GoogleTPU_v1_ws", "run_name = 100%_util"))
    (message,) = problems(load_scalesim_config, path)
    assert message.startswith(f"{path}:2: [general] run_name: cannot read '100%_util': ")
    assert message.endswith("(configparser, as SCALE-Sim uses it, treats '%' as a reference)")


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: tmp / "missing.cfg", "cannot read file: No such file or directory"),
    (lambda tmp: tmp, "is a directory; expected a file"),
])
def test_unreadable_config(tmp_path, make, expected):
    path = make(tmp_path)
    assert problems(load_scalesim_config, path) == [f"{path}: {expected}"]


# ---------------------------------------------------------------------------------------------------- topologies


def test_gemm_topology(write):
    assert load_scalesim_topology(write("test_mnk_input.csv", GEMM_CSV)) == [
        ScaleSimLayer(name="Test 1", m=256, n=128, k=256)]


def test_gemm_topology_with_dense_sparsity_ratios(write):
    assert load_scalesim_topology(write("gemm.csv", GEMM_SPARSITY_CSV)) == [
        ScaleSimLayer(name="GEMM_1", m=3, n=5, k=16), ScaleSimLayer(name="GEMM_2", m=1, n=5, k=16)]


def test_alexnet_conv_to_gemm_by_hand(write):
    layers = load_scalesim_topology(write("alexnet.csv", ALEXNET_CSV))
    # M = ofmap pixels, N = filters, K = R*S*C:
    # Conv1: ceil((224 - 11 + 4) / 4) = ceil(54.25) = 55 per side (a floor formula would give 54): M = 3025, K = 363
    # Conv2: 27 - 5 + 1 = 23: M = 529, K = 5*5*96 = 2400; Conv3-5: 13 - 3 + 1 = 11: M = 121, K = 9*256 or 9*384
    assert [(x.name, x.m, x.n, x.k) for x in layers] == [
        ("Conv1", 3025, 96, 363), ("Conv2", 529, 256, 2400), ("Conv3", 121, 384, 2304), ("Conv4", 121, 384, 3456),
        ("Conv5", 121, 256, 3456)]
    assert layers[0].conv == ConvShape(ifmap_h=224, ifmap_w=224, filter_h=11, filter_w=11, channels=3, num_filters=96,
                                       stride=4)


def test_mobilenet_as_shipped_is_refused_at_the_row_scalesim_cannot_read(write):
    path = write("mobilnet_paper.csv", MOBILENET_CSV)
    assert problems(load_scalesim_topology, path) == [
        f"{path}:13: SCALE-Sim drops the text after a row's last comma ('1'); end the row with a comma"]


def test_mobilenet_blank_lines_comments_and_indents(write):
    layers = load_scalesim_topology(write("m.csv", MOBILENET_CSV.replace("256,256,1\n", "256,256,1,\n")))
    assert len(layers) == 12 and layers[-1].name == "Conv14_dw_0"
    # Conv1: ceil((224 - 3 + 2) / 2) = ceil(111.5) = 112 per side: M = 12544, K = 3*3*3 = 27, N = 32
    # Conv2_dw ("#dw" dropped): 112 - 3 + 1 = 110: M = 12100, K = 9, N = 1
    # Conv4_dw: ceil((112 - 3 + 2) / 2) = ceil(55.5) = 56: M = 3136, K = 9, N = 1
    # Conv14_dw_0 (tab-indented): 14 - 3 + 1 = 12: M = 144, K = 9, N = 1
    picked = {x.name: (x.m, x.n, x.k) for x in layers}
    assert picked["Conv1"] == (12544, 32, 27)
    assert picked["Conv2_dw"] == (12100, 1, 9)
    assert picked["Conv4_dw"] == (3136, 1, 9)
    assert picked["Conv14_dw_0"] == (144, 1, 9)


def test_depthwise_row_is_one_layer_per_channel(write):
    # topology_utils.load_arrays_conv: "DP" in the name -> one layer per channel, each with 1 channel
    # ceil((9 - 3 + 2) / 2) = 4 per side: M = 16, K = 3*3*1 = 9, N = 5
    layers = load_scalesim_topology(write("dp.csv", CONV_HEADER + "DP1, 9, 9, 3, 3, 3, 5, 2,\n"))
    assert [(x.name, x.m, x.n, x.k, x.conv.channels if x.conv else 0) for x in layers] == [
        (f"DP1Channel_{i}", 16, 5, 9, 1) for i in range(3)]


GEMM_HEAD = "Layer, M, N, K,\n"


@pytest.mark.parametrize("text, expected", [
    ("", f"1: {HEADERS}, the file is empty"),
    ("\nL, 1, 2, 3,\n", f"1: {HEADERS}, got an empty line"),
    ("name, a, b,\nL, 1, 2, 3,\n", f"1: {HEADERS}, got 'name, a, b,'"),
    (GEMM_HEAD, " no layers: expected rows after the header line"),
    (GEMM_HEAD + "\n\n", " no layers: expected rows after the header line"),
    (GEMM_HEAD + "L1, 1, 2,\n",
     "2: expected 4 columns (Layer, M, N, K), optionally a Sparsity ratio N:M, each followed by a comma; got 3: "
     "'L1, 1, 2,'"),
    (GEMM_HEAD + "L1, 1, 2, 3, 1:1, 7,\n",
     "2: expected 4 columns (Layer, M, N, K), optionally a Sparsity ratio N:M, each followed by a comma; got 6: "
     "'L1, 1, 2, 3, 1:1, 7,'"),
    (GEMM_HEAD + "L1, 64, x, 8,\n", f"2: N (column 3): {BOUND}, got 'x'"),
    (GEMM_HEAD + "L1, 0, 4, 8,\n", f"2: M (column 2): {BOUND}, got '0'"),
    (GEMM_HEAD + "L1, 4, 4, -8,\n", f"2: K (column 4): {BOUND}, got '-8'"),
    (GEMM_HEAD + "L1, 4, 4, 2.5,\n", f"2: K (column 4): {BOUND}, got '2.5'"),
    (GEMM_HEAD + "L1, 4, 4, 2000000,\n", f"2: K (column 4): {BOUND}, got '2000000'"),
    (GEMM_HEAD + ", 4, 4, 4,\n", "2: Layer (column 1): expected a layer name, got ''"),
    (GEMM_HEAD + "L1, 64, 64, 64\n", "2: SCALE-Sim drops the text after a row's last comma ('64'); end the row with a "
                                     "comma"),
    (GEMM_HEAD + "L1, 4, 4, 4, 2:4,\n", "2: Sparsity (column 5): expected a dense ratio N:N such as 1:1 (sparsity is "
                                        "not modelled by --engine scalesim), got '2:4'"),
    (GEMM_HEAD + "L1, 4, 4, 4, 8,\n", "2: Sparsity (column 5): expected a dense ratio N:N such as 1:1 (sparsity is "
                                      "not modelled by --engine scalesim), got '8'"),
    (CONV_HEADER + "C1, 3, 3, 5, 3, 1, 1, 1,\n", "2: Filter Height (column 4): Filter Height 5 is larger than IFMAP "
                                                 "Height 3"),
    (CONV_HEADER + "C1, 3, 2, 3, 3, 1, 1, 1,\n", "2: Filter Width (column 5): Filter Width 3 is larger than IFMAP "
                                                 "Width 2"),
    (CONV_HEADER + "C1, 8, 8, 3, 3, 1, 4, 0,\n", f"2: Strides (column 8): {BOUND}, got '0'"),
    (CONV_HEADER + "C1, 8, 8, 3, 3, 1, 4,\n",
     "2: expected 8 columns (Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
     "Strides), optionally a Sparsity ratio N:M, each followed by a comma; got 7: 'C1, 8, 8, 3, 3, 1, 4,'"),
    (CONV_HEADER + "C1, 4096, 4096, 1, 1, 1, 4, 1,\n",
     "2: its GEMM's M (ofmap pixels) = 16,777,216 is above edgesim's bound of 1,048,576 per dimension"),
    (CONV_HEADER + "DP, 1, 1, 1, 1, 70000, 1, 1,\n",
     "2: Channels (column 6): a depthwise (DP) row becomes one layer per channel: expected at most 65,536 channels, "
     "got 70,000"),
])
def test_topology_errors(write, text, expected):
    path = write("bad.csv", text)
    assert problems(load_scalesim_topology, path) == [f"{path}:{expected}"]


def test_every_topology_problem_is_reported_at_once(write):
    path = write("bad.csv", GEMM_HEAD + "A, 1, 1, 1,\nB, x, 1, 1,\nC, 1, 1, 0,\n")
    assert problems(load_scalesim_topology, path) == [f"{path}:3: M (column 2): {BOUND}, got 'x'",
                                                      f"{path}:4: K (column 4): {BOUND}, got '0'"]


def test_topology_not_utf8(write, tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xffLayer, M, N, K,\n")
    assert problems(load_scalesim_topology, path) == [f"{path}: is not UTF-8 text: byte 0xff at offset 0"]


# ------------------------------------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CELL = st.text(alphabet="0123456789 :-+_.#DPxé\t", max_size=8) | st.integers(-3, 300).map(str)


def only_config_errors(load, path, data: bytes) -> None:
    path.write_bytes(data)
    with contextlib.suppress(ConfigError):
        load(path)


@FUZZ
@given(data=st.binary(max_size=300))
def test_topology_random_bytes(tmp_path, data):
    only_config_errors(load_scalesim_topology, tmp_path / "t.csv", data)


@FUZZ
@given(header=st.sampled_from([GEMM_HEAD, CONV_HEADER, "Layer, M, N, K, Sparsity,\n", "x\n"]),
       rows=st.lists(st.tuples(st.lists(CELL, max_size=11), st.sampled_from(["", ",", ",#dw", "\r"])), max_size=6),
       names=st.lists(st.sampled_from(["L", "DP", "Conv_DP", "", " a "]), min_size=6, max_size=6))
def test_topology_random_rows(tmp_path, header, rows, names):
    text = header + "\n".join(",".join([name, *cells]) + end for name, (cells, end) in zip(names, rows, strict=False))
    only_config_errors(load_scalesim_topology, tmp_path / "t.csv", text.encode("utf-8"))


@FUZZ
@given(data=st.binary(max_size=300))
def test_config_random_bytes(tmp_path, data):
    only_config_errors(load_scalesim_config, tmp_path / "c.cfg", data)


@FUZZ
@given(key=st.sampled_from(["ArrayHeight", "IfmapSramSzkB", "Dataflow", "Bandwidth", "IfmapSRAMBankNum",
                            "IfmapCustomLayout", "SparsitySupport", "InterfaceBandwidth", "UseRamulatorTrace",
                            "run_name"]),
       value=st.text(max_size=10))
def test_config_random_values(tmp_path, key, value):
    lines = GOOGLE_CFG.split("\n")
    mutated = [f"{key} = {value}" if line.split(":")[0].split("=")[0].strip().lower() == key.lower() else line
               for line in lines]
    only_config_errors(load_scalesim_config, tmp_path / "c.cfg", "\n".join(mutated).encode("utf-8"))
