"""Precision modes and sparsity support change cycles, traffic and energy as DESIGN.md section 3 says."""

from __future__ import annotations

import pytest

from edgesim.config.hardware import load_arch
from edgesim.cost import GemmCost, evaluate_one
from edgesim.mapping import Dataflow, Mapping
from edgesim.operands import operand_model
from edgesim.ops import Gemm, WeightFormat
from tests.unit.test_cost_hand import tiny_arch

BF = load_arch("bitfusion_32x16")  # fusion, native 8, min 2
NM = load_arch("mobile_npu_32x32")  # fixed int8, 2:4
FP16 = load_arch("fp16_npu_32x32")  # split, native 16, min 4


@pytest.mark.parametrize("a, w, pack", [(8, 8, 1), (4, 8, 2), (8, 4, 2), (4, 4, 4), (2, 2, 16), (3, 8, 2), (2, 4, 8)])
def test_fusion_pack_factor(a, w, pack):
    # Bit Fusion: (8/a)(8/w) products per cycle, operands rounded up to 2, 4 or 8 bits (3 -> 4).
    assert operand_model(BF, Gemm(name="g", m=1, n=1, k=1, a_bits=a, b_bits=w)).pack == pack


def test_fusion_cuts_k_time_and_energy_per_mac():
    mp = Mapping(dataflow=Dataflow.OS, tile_m=32, tile_n=16, tile_k=256)
    c8 = evaluate_one(BF, Gemm(name="g", m=32, n=16, k=256), mp)
    c4 = evaluate_one(BF, Gemm(name="g", m=32, n=16, k=256, a_bits=4, b_bits=4), mp)
    assert isinstance(c8, GemmCost) and isinstance(c4, GemmCost)
    # one fold (32x16 outputs on 32x16 PEs): time 256 vs 256/4 = 64 K steps, same fill/drain overhead
    assert c8.compute_cycles - c4.compute_cycles == 256 - 64
    assert c4.mac_energy_pj == pytest.approx(32 * 16 * 256 * 0.11)  # the 4-bit table entry
    assert c4.read_bytes["dram"]["A"] == c8.read_bytes["dram"]["A"] / 2


@pytest.mark.parametrize("a, w, pack, pj", [(16, 16, 1, 2.0), (8, 8, 2, 0.3), (8, 16, 1, 2.0), (4, 8, 2, 0.3),
                                           (4, 4, 4, 0.15), (2, 2, 4, 0.15), (6, 4, 2, 0.3)])
def test_split_lanes_follow_the_wider_operand(a, w, pack, pj):
    # A100-style lane split on a 16-bit MAC: 16 / max(a, w) lanes, operands rounded up to 4, 8 or 16 bits (6 -> 8);
    # unlike fusion, int4 x int4 is 4 lanes, not (16/4)^2 = 16. The energy is the table entry of the lane width.
    om = operand_model(FP16, Gemm(name="g", m=1, n=1, k=1, a_bits=a, b_bits=w))
    assert (om.pack, om.stretch, om.mac_energy_pj) == (pack, 1, pj)


def test_split_fp16_runs_at_half_the_int8_rate():
    mp = Mapping(dataflow=Dataflow.OS, tile_m=32, tile_n=32, tile_k=512)
    c16 = evaluate_one(FP16, Gemm(name="g", m=32, n=32, k=512, a_bits=16, b_bits=16), mp)
    c8 = evaluate_one(FP16, Gemm(name="g", m=32, n=32, k=512), mp)
    assert isinstance(c16, GemmCost) and isinstance(c8, GemmCost)
    # one fold of 32x32 outputs: K steps 512 at fp16, 512/2 = 256 at int8, same fill and drain
    assert c16.compute_cycles - c8.compute_cycles == 512 - 256


def test_fixed_precision_low_bits_save_bytes_not_cycles():
    arch = tiny_arch()
    mp = Mapping(dataflow=Dataflow.OS, tile_m=4, tile_n=4, tile_k=4)
    c8 = evaluate_one(arch, Gemm(name="g", m=4, n=4, k=4), mp)
    c4 = evaluate_one(arch, Gemm(name="g", m=4, n=4, k=4, a_bits=4, b_bits=4), mp)
    assert isinstance(c8, GemmCost) and isinstance(c4, GemmCost)
    assert c4.compute_cycles == c8.compute_cycles
    assert c4.read_bytes["dram"]["A"] == 8 and c8.read_bytes["dram"]["A"] == 16


def test_wider_than_native_takes_passes():
    om = operand_model(tiny_arch(), Gemm(name="g", m=1, n=1, k=1, a_bits=16, b_bits=16))
    assert (om.pack, om.stretch) == (1, 4)  # ceil(16/8) * ceil(16/8) passes
    assert om.mac_energy_pj == 4.0  # 4 passes of a 1 pJ 8-bit MAC


def test_serial_cycles_scale_with_weight_bits():
    arch = tiny_arch(mac__precision_mode="serial")
    assert operand_model(arch, Gemm(name="g", m=1, n=1, k=1, b_bits=8)).stretch == 8
    assert operand_model(arch, Gemm(name="g", m=1, n=1, k=1, b_bits=2)).stretch == 2
    mp = Mapping(dataflow=Dataflow.WS, tile_m=4, tile_n=4, tile_k=4)
    slow = evaluate_one(arch, Gemm(name="g", m=4, n=4, k=4, b_bits=8), mp)
    fast = evaluate_one(arch, Gemm(name="g", m=4, n=4, k=4, b_bits=2), mp)
    assert isinstance(slow, GemmCost) and isinstance(fast, GemmCost)
    # ws: 2 K-folds x 2 N-folds, each streaming M=4 rows: time per fold 4*8 vs 4*2 -> 4*(32-8) = 96 fewer
    assert slow.compute_cycles - fast.compute_cycles == 96


def test_nm_on_nm_hardware():
    op = Gemm(name="g", m=1, n=64, k=64, weight_density=0.5, weight_format=WeightFormat.NM, nm=(2, 4))
    om = operand_model(NM, op)
    assert om.k_kept == 0.5 and om.b_format == "2:4"
    assert om.b_stored_bytes == 64 * 64 * 0.5 * (1 + 2 / 8)  # values + 2-bit index per nonzero
    # 1:4 fits the 2:4 datapath (at 2:4 cost); 1:8 has no matching group size
    om14 = operand_model(NM, Gemm(name="g", m=1, n=64, k=64, weight_density=0.25, weight_format=WeightFormat.NM, nm=(1, 4)))
    assert om14.k_kept == 0.5
    om18 = operand_model(NM, Gemm(name="g", m=1, n=64, k=64, weight_density=0.125, weight_format=WeightFormat.NM, nm=(1, 8)))
    assert (om18.k_kept, om18.b_format) == (1.0, "dense")


def test_unstructured_on_nm_only_hardware_is_dense():
    om = operand_model(NM, Gemm(name="g", m=1, n=64, k=64, weight_density=0.3, weight_format=WeightFormat.UNSTRUCTURED))
    assert (om.k_kept, om.b_format, om.b_stored_bytes) == (1.0, "dense", 64 * 64)


def test_unstructured_skipping_with_efficiency_and_csr():
    arch = tiny_arch(sparsity={"mode": "unstructured", "metadata_format": "csr", "efficiency": 0.5})
    op = Gemm(name="g", m=4, n=64, k=256, weight_density=0.2, weight_format=WeightFormat.UNSTRUCTURED)
    om = operand_model(arch, op)
    assert om.k_kept == pytest.approx(0.4)  # 0.2 density / 0.5 efficiency
    # CSR: 0.2*256*64 = 3276.8 values (1 B) + 8-bit row index each (log2 256) + 65 32-bit column pointers
    assert om.b_stored_bytes == pytest.approx(3276.8 + 3276.8 + 65 * 4)
    assert om.b_format == "csr"


def test_no_sparsity_support_stores_and_multiplies_zeros():
    om = operand_model(BF, Gemm(name="g", m=4, n=64, k=64, weight_density=0.2, weight_format=WeightFormat.UNSTRUCTURED))
    assert (om.k_kept, om.b_stored_bytes) == (1.0, 64 * 64)
