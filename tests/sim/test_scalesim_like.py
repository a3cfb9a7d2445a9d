"""The SCALE-Sim-like configuration: its arch settings, fold tiles and loop orders, and traffic and cycles by hand."""

from __future__ import annotations

import math

import pytest

from edgesim.arch import ArchSpec, PrecisionMode
from edgesim.compat.scalesim_like import active_half_words, scalesim_like
from edgesim.config.hardware import load_arch
from edgesim.mapping import Dataflow, Mapping
from edgesim.ops import Gemm


def array(rows: int, cols: int) -> ArchSpec:
    """The default accelerator with a rows x cols PE array: the base of a SCALE-Sim-like configuration."""
    return load_arch(None, [f"pe_array.rows={rows}", f"pe_array.cols={cols}"])

SRAM_1KB = {"ifmap_sram_kb": 1, "filter_sram_kb": 1, "ofmap_sram_kb": 1}


def test_arch_is_scalesims_memory_system():
    cfg = scalesim_like(load_arch("bitfusion_32x16"), Gemm(name="g", m=64, n=48, k=40, a_bits=4, b_bits=4),
                        "ws", bandwidth=4, ifmap_sram_kb=2, filter_sram_kb=3, ofmap_sram_kb=1)
    a = cfg.arch
    assert cfg.per_operand
    assert (a.pe_array.rows, a.pe_array.cols) == (32, 16)  # only the array shape is kept
    assert a.dram.bandwidth_bytes_per_cycle == 4.0 and a.dram.latency_cycles == 1
    assert a.global_buffer.bandwidth_bytes_per_cycle == math.inf and a.registers.bandwidth_bytes_per_cycle == math.inf
    assert a.global_buffer.capacity_bytes == 6 * 1024
    assert a.mac.precision_mode == PrecisionMode.FIXED and a.mac.accumulator_bits == 8
    assert (cfg.op.a_bits, cfg.op.b_bits, cfg.op.c_bits) == (8, 8, 8)  # one-byte words


def test_active_half():
    assert active_half_words(1) == 512
    assert active_half_words(8) == 4096


@pytest.mark.parametrize(("df", "expected"), [
    # R=16 rows, C=8 cols; one tile per fold, column folds outer, row folds inner
    ("os", Mapping(dataflow=Dataflow.OS, tile_m=16, tile_n=8, tile_k=40, dram_order="nmk")),
    ("ws", Mapping(dataflow=Dataflow.WS, tile_m=64, tile_n=8, tile_k=16, dram_order="mnk")),
    ("is", Mapping(dataflow=Dataflow.IS, tile_m=8, tile_n=48, tile_k=16, dram_order="nmk")),
])
def test_streamed_operands_get_scalesims_fold_tiles_and_order(df, expected):
    # A = 64x40 = 2560 words and B = 40x48 = 1920 words exceed the 512-word active halves of 1 kB SRAMs
    cfg = scalesim_like(array(16, 8), Gemm(name="g", m=64, n=48, k=40), df, bandwidth=2, **SRAM_1KB)
    assert not cfg.resident and not cfg.spills
    assert cfg.mapping == expected


@pytest.mark.parametrize(("df", "expected"), [
    ("os", Mapping(dataflow=Dataflow.OS, tile_m=64, tile_n=8, tile_k=40, dram_order="nmk")),  # A loaded once
    ("ws", Mapping(dataflow=Dataflow.WS, tile_m=64, tile_n=8, tile_k=16, dram_order="mkn")),  # K folds outermost
    ("is", Mapping(dataflow=Dataflow.IS, tile_m=8, tile_n=48, tile_k=16, dram_order="nkm")),
])
def test_resident_operand_is_loaded_once_and_partial_sums_spill(df, expected):
    # 8 kB SRAMs: 4096-word active halves hold all of A (2560 words) and all of B (1920 words)
    cfg = scalesim_like(array(16, 8), Gemm(name="g", m=64, n=48, k=40), df, bandwidth=2,
                        ifmap_sram_kb=8, filter_sram_kb=8, ofmap_sram_kb=1)
    assert cfg.resident
    assert cfg.spills == (df != "os")
    assert cfg.mapping == expected


def test_spill_override():
    op = Gemm(name="g", m=64, n=48, k=40)
    forced = scalesim_like(array(16, 8), op, "ws", bandwidth=2, spill_partial_sums=True, **SRAM_1KB)
    assert forced.spills and forced.mapping.dram_order == "mkn"
    kept = scalesim_like(array(16, 8), op, "ws", bandwidth=2, spill_partial_sums=False, ifmap_sram_kb=8,
                         filter_sram_kb=8, ofmap_sram_kb=1)
    assert not kept.spills and kept.mapping.dram_order == "mnk"


def test_ws_partial_sum_spills_by_hand():
    # 4x4 array, ws, M=4 N=8 K=8: 2 K folds x 2 N folds of (4x4 A, 4x4 B, 4x4 C); A (32 words) fits the
    # 512-word ifmap half, so K folds are outermost: tiles (k0,n0) (k0,n1) (k1,n0) (k1,n1).
    cfg = scalesim_like(array(4, 4), Gemm(name="g", m=4, n=8, k=8), "ws", bandwidth=1, **SRAM_1KB)
    assert cfg.spills
    # A: once per K fold, 2 x 16. B: every tile, 4 x 16. C: every tile writes 16 (2 partial, 2 final):
    # 64 words, SCALE-Sim's ceil(K/R)*M*N; edgesim also reads the 2 partial tiles back: 32 more.
    assert cfg.dram_traffic() == {"A": 32, "B": 64, "C_read": 32, "C_write": 64}
    r = cfg.simulate()
    assert r.dram_bytes == 192
    assert r.compute_cycles == 4 * (2 * 4 + 4 - 2 + 4)  # 4 folds of 2R+C-2+M = 14 cycles
    # One channel per operand at 1 B/cycle, latency 1:
    # t0: A, B 0-16, ready 17, compute 17-31; t1: B 16-32, ready 33, compute 33-47, C psum(t0) 31-47;
    # t2: A 31-47, B 32-48, C read 47-63, ready 64, compute 64-78, C psum(t1) 63-79;
    # t3: B 48-64, C read 79-95, ready 96, compute 96-110, C out(t2) 95-111; C out(t3) 111-127.
    assert r.total_cycles == 127
    assert r.stall_cycles["buffer_port"] == 0


def test_channels_work_in_parallel_by_hand():
    # One os tile 4x4x8 at 1 B/cycle: A (32 B) and B (32 B) on their own channels, ready at 32 + 1;
    # compute R+C-2+K = 14 cycles; C (16 B) written after: 33 + 14 + 16 = 63 (a shared channel: 95).
    cfg = scalesim_like(array(4, 4), Gemm(name="g", m=4, n=4, k=8), "os", bandwidth=1, **SRAM_1KB)
    r = cfg.simulate()
    assert r.total_cycles == 63
    assert r.stall_cycles == {"dram_bandwidth": 48, "dram_latency": 1, "buffer_port": 0}


@pytest.mark.parametrize("sram_kb", [1, 64])  # streamed / resident
@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_compute_is_scalesims_fold_sum(df, sram_kb):
    # M=100, N=37, K=211 on 16 rows x 8 cols: the sum of SCALE-Sim's fold times (its Total Cycles without
    # stalls is this minus one: the index of its last demand line)
    R, C, M, N, K = 16, 8, 100, 37, 211
    folds = {"os": -(-M // R) * -(-N // C) * (R + C - 2 + K),
             "ws": -(-K // R) * -(-N // C) * (2 * R + C - 2 + M),
             "is": -(-K // R) * -(-M // C) * (2 * R + C - 2 + N)}
    cfg = scalesim_like(array(R, C), Gemm(name="g", m=M, n=N, k=K), df, bandwidth=2, ifmap_sram_kb=sram_kb,
                        filter_sram_kb=sram_kb, ofmap_sram_kb=1)
    assert cfg.resident == (sram_kb == 64)
    assert cfg.simulate(max_events=0).compute_cycles == folds[df]
