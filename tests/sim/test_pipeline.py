"""The tile simulator: fast path vs the explicit oracle, agreement with the cost model, stall accounting."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.config.hardware import load_arch
from edgesim.cost import GemmCost, evaluate_one
from edgesim.mapping import DATAFLOWS, LOOP_ORDERS, Mapping
from edgesim.ops import Gemm, WeightFormat
from edgesim.sim.pipeline import CAUSES, simulate
from tests.sim.oracle import oracle

BASE = {n: load_arch(n, ["global_buffer.capacity_kib=1048576"]) for n in ("edge_npu_16x16", "bitfusion_32x16")}


def with_ports(arch, *, dram_bytes_per_cycle=None, latency=None, buffer_bw=None, register_bw=None):
    dram = replace(arch.dram, bandwidth_bytes_per_cycle=dram_bytes_per_cycle or arch.dram.bandwidth_bytes_per_cycle,
                   latency_cycles=arch.dram.latency_cycles if latency is None else latency)
    glb = replace(arch.global_buffer, bandwidth_bytes_per_cycle=buffer_bw or arch.global_buffer.bandwidth_bytes_per_cycle)
    rf = replace(arch.registers, bandwidth_bytes_per_cycle=register_bw or arch.registers.bandwidth_bytes_per_cycle)
    return replace(arch, dram=dram, global_buffer=glb, registers=rf)


@st.composite
def cases(draw, max_dim=96, max_tiles=600):
    name = draw(st.sampled_from(sorted(BASE)))
    density = draw(st.sampled_from([1.0, 0.5, 0.2]))
    op = Gemm(name="g", m=draw(st.integers(1, max_dim)), n=draw(st.integers(1, max_dim)), k=draw(st.integers(1, max_dim)),
              batch=draw(st.integers(1, 3)), a_bits=draw(st.sampled_from([4, 8])), b_bits=draw(st.sampled_from([4, 8])),
              weight_density=density, weight_format=WeightFormat.UNSTRUCTURED if density < 1 else WeightFormat.DENSE)
    mp = Mapping(dataflow=draw(st.sampled_from(DATAFLOWS)), tile_m=draw(st.integers(1, max_dim)),
                 tile_n=draw(st.integers(1, max_dim)), tile_k=draw(st.integers(1, max_dim)),
                 dram_order=draw(st.sampled_from(LOOP_ORDERS)), double_buffer=draw(st.booleans()))
    arch = with_ports(BASE[name],
                      dram_bytes_per_cycle=draw(st.sampled_from([0.01, 0.3, 2.0, 16.0, 1e6])),  # starved .. unlimited
                      latency=draw(st.sampled_from([0, 1, 80, 500])),
                      buffer_bw=draw(st.sampled_from([1.0, 8.0, 64.0, 1e9])))
    return arch, op, mp


def _tiles(op, mp):
    return op.batch * (-(-op.m // min(mp.tile_m, op.m))) * (-(-op.n // min(mp.tile_n, op.n))) * (-(-op.k // min(mp.tile_k, op.k)))


@settings(max_examples=300, deadline=None)
@given(case=cases(), per_operand=st.booleans())
def test_fast_path_matches_per_tile_event_loop(case, per_operand):
    arch, op, mp = case
    if _tiles(op, mp) > 4000:
        mp = replace(mp, tile_m=op.m, tile_n=op.n)
    fast = simulate(arch, op, mp, max_events=0, per_operand=per_operand)
    slow = oracle(arch, op, mp, per_operand=per_operand)
    assert fast.tiles == slow["tiles"]
    assert fast.total_cycles == pytest.approx(slow["total"], rel=1e-8, abs=1e-5)
    assert fast.compute_cycles == pytest.approx(slow["compute"], rel=1e-8)
    assert fast.dram_bytes == pytest.approx(slow["dram_bytes"], rel=1e-8)
    for cause in CAUSES:
        assert fast.stall_cycles[cause] == pytest.approx(slow[cause], rel=1e-8, abs=1e-5), cause


@settings(max_examples=150, deadline=None)
@given(case=cases(max_dim=300))
def test_cycles_are_compute_plus_stalls_and_respect_rooflines(case):
    arch, op, mp = case
    r = simulate(arch, op, mp, max_events=0)
    assert r.total_cycles == pytest.approx(r.compute_cycles + r.stalls_total, rel=1e-8)
    assert all(v >= -1e-9 for v in r.stall_cycles.values())
    assert r.total_cycles >= r.compute_cycles * (1 - 1e-12)
    assert r.total_cycles >= r.dram_bytes / arch.dram.bandwidth_bytes_per_cycle * (1 - 1e-9)
    # the simulator plays exactly the work and traffic the cost model counts
    c = evaluate_one(arch, op, mp)
    assert isinstance(c, GemmCost)
    assert r.compute_cycles == pytest.approx(c.compute_cycles, rel=1e-12)
    assert r.dram_bytes == pytest.approx(c.dram_bytes, rel=1e-8)
    assert r.macs == pytest.approx(op.macs, rel=1e-12)
    buffer_total = sum(c.read_bytes["global_buffer"].values()) + sum(c.write_bytes["global_buffer"].values())
    assert r.buffer_bytes == pytest.approx(buffer_total, rel=1e-8)


@settings(max_examples=150, deadline=None)
@given(case=cases(max_dim=300))
def test_no_contention_equals_cost_model(case):
    """Unlimited bandwidths, no latency, double buffering: simulator = cost model = compute cycles."""
    arch, op, mp = case
    free = with_ports(arch, dram_bytes_per_cycle=1e30, latency=0, buffer_bw=1e30, register_bw=1e30)
    mp = replace(mp, double_buffer=True)
    r = simulate(free, op, mp, max_events=0)
    c = evaluate_one(free, op, mp)
    assert isinstance(c, GemmCost)
    assert r.total_cycles == pytest.approx(c.total_cycles, rel=1e-8)
    assert r.total_cycles == pytest.approx(c.compute_cycles, rel=1e-8)
    assert r.stalls_total == pytest.approx(0.0, abs=1e-5)


def test_starved_dram_is_bandwidth_bound_by_hand():
    # One 16x16x16 tile on the 16x16 array at 1 B/cycle, no latency: load A + B = 512 B -> 512 cycles,
    # compute os 16 + 16 - 2 + 16 = 46 cycles, write C (256 B) -> 256 cycles.
    arch = with_ports(BASE["edge_npu_16x16"], dram_bytes_per_cycle=1.0, latency=0, buffer_bw=1e9, register_bw=1e9)
    op = Gemm(name="g", m=16, n=16, k=16)
    r = simulate(arch, op, Mapping(dataflow=DATAFLOWS[0], tile_m=16, tile_n=16, tile_k=16))
    assert r.compute_cycles == 46
    assert r.stall_cycles == {"dram_bandwidth": 512 + 256, "dram_latency": 0, "buffer_port": 0}
    assert r.total_cycles == 46 + 768
    kinds = [(e.lane, e.kind) for e in r.timeline]
    assert kinds == [("dram", "load"), ("stall", "dram_bandwidth"), ("compute", "compute"),
                     ("dram", "writeback"), ("stall", "dram_bandwidth")]
