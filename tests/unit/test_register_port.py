"""The PE register-file port: which accesses it carries per dataflow, when it throttles, and how it is configured.

The port carries only the operand a PE holds (B in ws, A in is, nothing in os): one read per MAC plus its writes
when loaded (edgesim/cost/access.py, docs/register-file.md). Energy still counts every register access. Every
expected number is worked out by hand in the comments, not produced by the code under test.
"""

from __future__ import annotations

import pytest

from edgesim.cli import main
from edgesim.config.hardware import load_arch
from edgesim.cost import GemmCost, evaluate_one
from edgesim.mapping import Dataflow, Mapping
from edgesim.ops import Gemm
from edgesim.sim.pipeline import simulate
from tests.conftest import REPO
from tests.unit.test_cost_hand import OP, tiny_arch

PORT = "registers.bandwidth_bytes_per_cycle_per_pe"


def cost(arch, op, mapping) -> GemmCost:
    c = evaluate_one(arch, op, mapping)
    assert isinstance(c, GemmCost), c
    return c


@pytest.mark.parametrize(("dataflow", "port_bytes", "writes"), [
    # os: A and B hop through pipeline registers, the partial sum stays in the accumulator: nothing uses the port.
    (Dataflow.OS, 0, {"A": 64, "B": 64, "C": 256}),
    # ws: 4x4x4 = 64 MACs each read B (1 B) from the PE register file; B (16 B) is written once (one M tile): 80 B.
    (Dataflow.WS, 64 + 16, {"A": 64, "B": 16, "C": 256}),
    # is: the same with A held: 64 reads of 1 B + A's 16 B written once (one N tile).
    (Dataflow.IS, 64 + 16, {"A": 16, "B": 64, "C": 256}),
])
def test_port_carries_only_the_held_operand(dataflow, port_bytes, writes):
    c = cost(tiny_arch(), OP, Mapping(dataflow=dataflow, tile_m=4, tile_n=4, tile_k=4, dram_order="mnk"))
    assert c.rf_port_bytes == port_bytes
    # tiny_arch's port: 1000 B/cycle per PE x 4 PEs
    assert c.rf_cycles == port_bytes / 4000
    # energy still counts every register access: 64 MACs read A, B (1 B each) and a 4-byte partial sum and write the
    # partial sum; streamed operands are written once per MAC (hops), the held one once per load
    assert c.read_bytes["registers"] == {"A": 64, "B": 64, "C": 256}
    assert c.write_bytes["registers"] == writes


# A tall int8 GEMM on the 2x2 array: M=64 streams through a single fold of K=2 x N=2 (256 MACs). DRAM at
# 1000 GB/s = 1000 B/cycle (1 GHz), single buffered, latency 0: total = on-chip + DRAM bytes / 1000.
TALL = Gemm(name="tall", m=64, n=2, k=2)
DRAM_CYCLES = (128 + 4 + 128) / 1000  # A 64x2 read, B 2x2 read, C 64x2 written at 8 bits


@pytest.mark.parametrize(("port", "on_chip"), [
    # ws: compute = 1 fold x (2R + C - 2 + M) = 4 + 64 = 68 cycles (SCALE-Sim). The port carries 256 MACs x 1 B of
    # B reads + B's 4 B written once = 260 B. At 1 B/cycle/PE (4 B/cycle) that is 65 cycles < 68: one int8 MAC per
    # PE per cycle needs only 1 B/cycle, so the port does not bind. At 0.5 B/cycle/PE (2 B/cycle): 130 cycles, binds.
    (1.0, 68),
    (0.5, 130),
])
def test_narrow_port_throttles_ws(port, on_chip):
    arch = tiny_arch(registers__bandwidth_bytes_per_cycle_per_pe=port, dram__bandwidth_gb_per_s=1000)
    c = cost(arch, TALL, Mapping(dataflow=Dataflow.WS, tile_m=64, tile_n=2, tile_k=2, double_buffer=False))
    assert c.compute_cycles == 68
    assert c.rf_port_bytes == 260
    assert c.rf_cycles == 260 / (4 * port)
    assert c.total_cycles == pytest.approx(on_chip + DRAM_CYCLES, rel=1e-12)


def test_narrow_port_never_throttles_os():
    # os on the same GEMM: 32 row folds of M x 1 column fold x (R + C - 2 + K) = 32 x 4 = 128 cycles; nothing uses the
    # port, so even 0.01 B/cycle/PE leaves it compute-bound (the old charge of 12 B per MAC would have needed
    # 256 x 12 / 0.04 = 76,800 cycles).
    arch = tiny_arch(registers__bandwidth_bytes_per_cycle_per_pe=0.01, dram__bandwidth_gb_per_s=1000)
    c = cost(arch, TALL, Mapping(dataflow=Dataflow.OS, tile_m=64, tile_n=2, tile_k=2, double_buffer=False))
    assert (c.compute_cycles, c.rf_port_bytes, c.rf_cycles) == (128, 0, 0)
    assert c.total_cycles == pytest.approx(128 + DRAM_CYCLES, rel=1e-12)


@pytest.mark.parametrize(("port", "on_chip"), [(2.0, 68), (1.0, 130)])
def test_fused_macs_need_pack_times_the_bytes(port, on_chip):
    # Bit Fusion 8-bit MACs of 4-bit bricks: w4a4 packs (8/4)(8/4) = 4 MACs per PE per cycle along K, so K=8 takes 2
    # rows: ws compute = 1 fold x (4 + 64) = 68 cycles. 64x2x8 = 1024 MACs read B at 0.5 B each = 512 B, plus B
    # (8x2 at 0.5 B = 8 B) written once: 520 B. At 2 B/cycle/PE (8 B/cycle): 65 cycles, no throttle; at 1: 130.
    arch = tiny_arch(mac__precision_mode="fusion", mac__min_bits=4, mac__energy_pj_per_mac={4: 0.5, 8: 1.0},
                     registers__bandwidth_bytes_per_cycle_per_pe=port, dram__bandwidth_gb_per_s=1000)
    op = Gemm(name="w4a4", m=64, n=2, k=8, a_bits=4, b_bits=4)
    c = cost(arch, op, Mapping(dataflow=Dataflow.WS, tile_m=64, tile_n=2, tile_k=8, double_buffer=False))
    assert c.compute_cycles == 68
    assert c.rf_port_bytes == 520
    # DRAM: A 64x8 and B 8x2 at 0.5 B (256 + 8), C 64x2 written at 8 bits (128)
    assert c.total_cycles == pytest.approx(on_chip + (256 + 8 + 128) / 1000, rel=1e-12)


def test_simulator_charges_the_same_port():
    # The tile simulator plays the one tile of test_narrow_port_throttles_ws at 0.5 B/cycle/PE: load A+B (132 B,
    # 0.132 cycles), occupy the array max(68 compute, 260 B / 2 B/cycle = 130) cycles, so 62 cycles of port stall,
    # then write C (128 B, 0.128 cycles).
    arch = tiny_arch(registers__bandwidth_bytes_per_cycle_per_pe=0.5, dram__bandwidth_gb_per_s=1000)
    r = simulate(arch, TALL, Mapping(dataflow=Dataflow.WS, tile_m=64, tile_n=2, tile_k=2, double_buffer=False))
    assert r.compute_cycles == 68
    assert r.stall_cycles["buffer_port"] == 62
    assert r.total_cycles == pytest.approx(0.132 + 130 + 0.128, rel=1e-12)


# On the default accelerator (16x16 int8, 800 MHz, DRAM 12.8 GB/s = 16 B/cycle, 100 ns = 80 cycles, buffer 64 B/cycle):
# a dense int8 GEMM M=1024, K=16, N=16 in ws, one tile, double buffered.
WIDE = Gemm(name="g", m=1024, n=16, k=16)
WS_ONE_TILE = Mapping(dataflow=Dataflow.WS, tile_m=1024, tile_n=16, tile_k=16)


def test_default_port_does_not_bind_a_dense_int8_gemm(default_arch):
    # compute = 1 fold x (2x16 + 16 - 2 + 1024) = 1070 cycles. Port: 1024x16x16 = 262,144 MACs x 1 B + B's 256 B
    # = 262,400 B over 8 B/cycle x 256 PEs = 2048 B/cycle: 128.125 cycles, far below compute.
    c = cost(default_arch, WIDE, WS_ONE_TILE)
    assert c.compute_cycles == 1070
    assert c.rf_port_bytes == 262_400
    assert c.rf_cycles == 262_400 / 2048


@pytest.mark.parametrize("how", ["yaml", "set"])
def test_a_yaml_with_a_narrow_port_throttles(how, write):
    # 0.25 B/cycle/PE x 256 PEs = 64 B/cycle: the 262,400 port bytes take 4100 cycles, above compute (1070) and the
    # buffer (A 16,384 B read + written, B 256 read + written, C 16,384 B read for the write-back and 65,536 B of
    # 4-byte partial sums written: 115,200 B / 64 = 1800 cycles). DRAM: A 16,384 + B 256 + C 16,384 = 33,024 B, 2064
    # cycles; the first tile's inputs (16,640 B) take 1040 of them, its outputs (16,384 B) 1024. One tile, double
    # buffered (edgesim.cost.pipelining): 1040 first load + 80 latency + 4100 on-chip + 1024 write-back = 6244 cycles.
    if how == "yaml":
        text = (REPO / "hw_configs" / "edge_npu_16x16.yaml").read_text(encoding="utf-8")
        narrow = text.replace("  bandwidth_bytes_per_cycle_per_pe: 8\n", "  bandwidth_bytes_per_cycle_per_pe: 0.25\n")
        assert narrow != text
        arch = load_arch(str(write("narrow.yaml", narrow)))
    else:
        arch = load_arch(None, [f"{PORT}=0.25"])
    assert arch.registers.bandwidth_bytes_per_cycle == 0.25
    c = cost(arch, WIDE, WS_ONE_TILE)
    assert (c.compute_cycles, c.glb_cycles, c.rf_cycles) == (1070, 1800, 4100)
    assert c.total_cycles == 1040 + 80 + 4100 + 1024
    # os holds the partial sum in the accumulator: the same narrow port costs it nothing
    os = cost(arch, WIDE, Mapping(dataflow=Dataflow.OS, tile_m=1024, tile_n=16, tile_k=16))
    assert os.rf_cycles == 0


@pytest.mark.parametrize(("value", "shown"), [("0", "0"), ("-8", "-8"), ("wide", "'wide'"), (".inf", "inf"),
                                              ("2000000", "2000000"), ("[8]", "[8]")])
def test_bad_port_values_exit_2_naming_the_field(value, shown, capsys):
    code = main(["simulate", "--gemm", "8,8,8", "--set", f"{PORT}={value}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert (f"--set {PORT}={value}: {PORT}: expected a positive number (bytes/cycle, at most 1,000,000), "
            f"got {shown}") in err


def test_bad_port_in_a_file_names_file_and_line(write, capsys):
    text = (REPO / "hw_configs" / "edge_npu_16x16.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    line = next(i for i, s in enumerate(lines, 1) if s.strip().startswith("bandwidth_bytes_per_cycle_per_pe:"))
    path = write("bad.yaml", text.replace("  bandwidth_bytes_per_cycle_per_pe: 8\n", "  bandwidth_bytes_per_cycle_per_pe: 0\n"))
    code = main(["simulate", "--hw", str(path), "--gemm", "8,8,8"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"bad.yaml:{line}: {PORT}: expected a positive number (bytes/cycle, at most 1,000,000), got 0" in err
