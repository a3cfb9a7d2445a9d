"""Hypothesis properties of the cost model, and the vectorised model against the scalar reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.config.hardware import load_arch
from edgesim.cost import evaluate_one
from edgesim.cost.access import LEVELS, TENSORS
from edgesim.cost.model import evaluate, fits
from edgesim.errors import Infeasible
from edgesim.mapping import DATAFLOWS, LOOP_ORDERS, Mapping, MappingSet
from edgesim.ops import Gemm, WeightFormat
from tests.reference_model import reference_cost

ARCHS = {name: load_arch(name) for name in ("edge_npu_16x16", "mobile_npu_32x32", "bitfusion_32x16")}
BIG_BUFFER = {name: load_arch(name, ["global_buffer.capacity_kib=1048576"]) for name in ARCHS}

dims = st.integers(min_value=1, max_value=300)
bits = st.sampled_from([2, 4, 8, 16])


@st.composite
def gemms(draw, sparse: bool = True) -> Gemm:
    density = draw(st.sampled_from([1.0, 0.9, 0.5, 0.3, 0.1])) if sparse else 1.0
    return Gemm(name="g", m=draw(dims), n=draw(dims), k=draw(dims), batch=draw(st.integers(1, 3)),
                a_bits=draw(bits), b_bits=draw(bits), c_bits=draw(st.sampled_from([8, 16])),
                weight_density=density,
                weight_format=WeightFormat.UNSTRUCTURED if density < 1 else WeightFormat.DENSE)


@st.composite
def mappings(draw, op: Gemm | None = None) -> Mapping:
    return Mapping(dataflow=draw(st.sampled_from(DATAFLOWS)), tile_m=draw(st.integers(1, 320)),
                   tile_n=draw(st.integers(1, 320)), tile_k=draw(st.integers(1, 320)),
                   dram_order=draw(st.sampled_from(LOOP_ORDERS)), double_buffer=draw(st.booleans()))


arch_names = st.sampled_from(sorted(ARCHS))


@settings(max_examples=150, deadline=None)
@given(name=arch_names, op=gemms(), mp=mappings())
def test_vectorised_matches_scalar_reference(name, op, mp):
    arch = BIG_BUFFER[name]
    ca = evaluate(arch, op, MappingSet.of([mp]))
    ref = reference_cost(arch, op, mp)
    r, w = ca.read_bytes[0], ca.write_bytes[0]
    assert ca.compute_cycles[0] == ref["compute_cycles"]
    np.testing.assert_allclose([r[2, 0], r[2, 1], r[2, 2], w[2, 2]],
                               [ref["dram_read_A"], ref["dram_read_B"], ref["dram_read_C"], ref["dram_write_C"]],
                               rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose([r[1, 0], r[1, 1]], [ref["glb_read_A"], ref["glb_read_B"]], rtol=1e-9)
    om_psum = arch.mac.accumulator_bits / 8
    array_c_writes = w[1, 2] - r[2, 2]  # what the array wrote, not the DRAM refills
    np.testing.assert_allclose(array_c_writes, ref["glb_write_C_from_array"], rtol=1e-9)
    assert om_psum > 0


@settings(max_examples=100, deadline=None)
@given(name=arch_names, op=gemms(sparse=False), mp=mappings())
def test_macs_conserved_over_tiles_and_folds(name, op, mp):
    """The scalar walk over tiles and folds performs exactly M·N·K MACs per batch on a dense op."""
    arch = BIG_BUFFER[name]
    op8 = Gemm(name="g", m=op.m, n=op.n, k=op.k, batch=op.batch)  # 8-bit: no fusion packing
    assert reference_cost(arch, op8, mp)["work_macs"] == op8.macs
    assert evaluate(arch, op8, MappingSet.of([mp])).effective_macs == op8.macs


@settings(max_examples=100, deadline=None)
@given(name=arch_names, op=gemms(), mp=mappings())
def test_energy_nonnegative_and_latency_bounds(name, op, mp):
    arch = ARCHS[name]
    ca = evaluate(arch, op, MappingSet.of([mp]))
    assert (ca.energy_pj >= 0).all() and (ca.level_energy_pj >= 0).all()
    assert (ca.read_bytes >= 0).all() and (ca.write_bytes >= 0).all()
    dram_bound = ca.dram_bytes / arch.dram.bandwidth_bytes_per_cycle
    assert ca.total_cycles[0] >= ca.compute_cycles[0]
    assert ca.total_cycles[0] >= dram_bound[0] * (1 - 1e-12)
    assert ca.latency_no_overlap_cycles[0] >= ca.latency_overlap_cycles[0] - 1e-6


@settings(max_examples=100, deadline=None)
@given(op=gemms(sparse=False), mp=mappings(), a=bits, w=bits, da=st.sampled_from([0, 1]), dw=st.sampled_from([0, 1]))
def test_fusion_fewer_bits_never_slower(op, mp, a, w, da, dw):
    arch = BIG_BUFFER["bitfusion_32x16"]
    wide = Gemm(name="g", m=op.m, n=op.n, k=op.k, batch=op.batch, a_bits=a, b_bits=w)
    narrow = Gemm(name="g", m=op.m, n=op.n, k=op.k, batch=op.batch, a_bits=max(1, a // (1 + da)),
                  b_bits=max(1, w // (1 + dw)))
    cw = evaluate(arch, wide, MappingSet.of([mp]))
    cn = evaluate(arch, narrow, MappingSet.of([mp]))
    assert cn.compute_cycles[0] <= cw.compute_cycles[0]
    assert cn.total_cycles[0] <= cw.total_cycles[0] + 1e-6


@settings(max_examples=100, deadline=None)
@given(name=arch_names, op=gemms(sparse=False), mp=mappings(),
       d=st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=2, max_size=2))
def test_more_sparsity_never_more_weight_traffic(name, op, mp, d):
    arch = ARCHS[name]
    lo, hi = sorted(d)

    def weight_dram_bytes(density: float) -> float:
        g = Gemm(name="g", m=op.m, n=op.n, k=op.k, weight_density=density,
                 weight_format=WeightFormat.UNSTRUCTURED if density < 1 else WeightFormat.DENSE)
        return float(evaluate(arch, g, MappingSet.of([mp])).read_bytes[0, 2, 1])

    assert weight_dram_bytes(lo) <= weight_dram_bytes(hi) + 1e-9


@settings(max_examples=80, deadline=None)
@given(name=arch_names, op=gemms(), maps=st.lists(mappings(), min_size=1, max_size=20))
def test_scalar_path_equals_vectorised(name, op, maps):
    """evaluate_one (plain Python) and evaluate (numpy, many candidates) give the same numbers."""
    arch = ARCHS[name]
    batch = evaluate(arch, op, MappingSet.of(maps))
    for i, mp in enumerate(maps):
        single = evaluate_one(arch, op, mp)
        if isinstance(single, Infeasible):
            assert not batch.feasible[i]
            continue
        assert batch.feasible[i]
        for field in ("compute_cycles", "glb_cycles", "rf_cycles", "rf_port_bytes", "dram_cycles", "latency_overlap_cycles",
                      "latency_no_overlap_cycles", "total_cycles", "energy_pj", "utilization"):
            assert getattr(single, field) == pytest.approx(float(getattr(batch, field)[i]), rel=1e-12), field
        assert single.mac_energy_pj == pytest.approx(float(batch.mac_energy_pj[i]), rel=1e-12)
        for li, lv in enumerate(LEVELS):
            assert single.level_energy_pj[lv] == pytest.approx(float(batch.level_energy_pj[i, li]), rel=1e-12)
            for ti, t in enumerate(TENSORS):
                assert single.read_bytes[lv][t] == pytest.approx(float(batch.read_bytes[i, li, ti]), rel=1e-12)
                assert single.write_bytes[lv][t] == pytest.approx(float(batch.write_bytes[i, li, ti]), rel=1e-12)


@settings(max_examples=300, deadline=None)
@given(name=arch_names, op=gemms(), mp=mappings(), kib=st.sampled_from([1, 4, 32, 256]))
def test_fits_is_exactly_the_cost_models_feasibility(name, op, mp, kib):
    """`fits` (the fixed baselines' cheap check) decides as `evaluate(...).feasible` does, at buffer sizes where
    both answers occur."""
    arch = load_arch(name, [f"global_buffer.capacity_kib={kib}"])
    assert fits(arch, op, mp) == bool(evaluate(arch, op, MappingSet.of([mp])).feasible[0])
