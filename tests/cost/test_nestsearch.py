"""The loop-nest mapspace (`edgesim.nestspace`) and its searchers (`edgesim.nestsearch`).

The raw CP-SAT model is checked against brute force: every order of the loops and every allocation (all monotone
bounds of every operand at every on-chip memory), enumerated here in the test with itertools and scored by the
nest cost model. CP-SAT must reach that optimum, its own objective must equal the cost model's latency of the
nest it returns (up to its stated floor rounding), and the decoded nest must be legal.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from edgesim.config.hardware import load_arch
from edgesim.cost.hierarchy import of_arch
from edgesim.cost.nest import evaluate_nest, evaluate_nests
from edgesim.hierarchy import OPERANDS, ArrayAxis, Hierarchy, Interconnect, Memory, MemoryKind, PortModel
from edgesim.loopnest import DIMS, LoopNest, NestSet
from edgesim.nestsearch.auto import auto_search
from edgesim.nestsearch.cpsat import CYCLE_SCALE, NestExactModel, cpsat_search
from edgesim.nestsearch.genetic import genetic_search
from edgesim.nestsearch.random_search import random_search
from edgesim.nestspace import NestSpace, default_spatials, split_loops
from edgesim.operands import operand_model
from edgesim.ops import Gemm

TPU = load_arch("edge_tpu_like")
ZZ_SPATIAL = ((("n", 8),), (("k", 8),), (("m", 4),), (("m", 4),))


def small_hierarchy(port_model: PortModel = PortModel.BYTES) -> Hierarchy:
    """2 x 2 broadcast array; a per-column B register, a small shared buffer (so that capacity binds), DRAM."""
    both = ("X", "Y")
    return Hierarchy(
        axes=(ArrayAxis(name="X", size=2), ArrayAxis(name="Y", size=2)), interconnect=Interconnect.BROADCAST,
        memories=(
            Memory(name="rfB", kind=MemoryKind.REGISTER, operands=("B",), capacity_bytes=2, served_axes=("Y",),
                   read_bytes_per_cycle=1, write_bytes_per_cycle=1, shared_port=False,
                   read_pj_per_byte=0.1, write_pj_per_byte=0.1),
            Memory(name="buf", kind=MemoryKind.BUFFER, operands=("A", "B", "C"), capacity_bytes=96,
                   served_axes=both, read_bytes_per_cycle=8, write_bytes_per_cycle=8, shared_port=False,
                   read_pj_per_byte=1, write_pj_per_byte=2, port_model=port_model),
            Memory(name="dram", kind=MemoryKind.DRAM, operands=("A", "B", "C"), capacity_bytes=2**30,
                   served_axes=both, read_bytes_per_cycle=2, write_bytes_per_cycle=2, shared_port=True,
                   read_pj_per_byte=50, write_pj_per_byte=60, latency_cycles=3)))


def brute_force(space: NestSpace, s: int) -> float:
    """The least feasible latency over every distinct loop order and every allocation."""
    h = space.hierarchy
    loops = space.loops(s)
    L = len(loops)
    chains = {t: h.chain(name)[:-1] for t, name in enumerate(OPERANDS)}
    nests = []
    for order in set(itertools.permutations(loops)):
        temporal = tuple((DIMS[d], f) for d, f in order)
        per_op = [list(itertools.combinations_with_replacement(range(L + 1), len(chains[t]))) for t in range(3)]
        for choice in itertools.product(*per_op):
            bounds = [[0, 0, 0] for _ in h.memories]
            for t in range(3):
                for j, b in zip(chains[t], choice[t], strict=True):
                    bounds[j][t] = b
            bounds[-1] = [L, L, L]
            nests.append(LoopNest(spatial=space.spatials[s], temporal=temporal,
                                  bounds=tuple((r[0], r[1], r[2]) for r in bounds), double_buffer=True))
    c = evaluate_nests(h, space.op, space.om, NestSet.of(nests))
    return float(np.where(c.feasible, c.total_cycles, np.inf).min())


@pytest.mark.parametrize("port_model", list(PortModel))
@pytest.mark.parametrize(("m", "n", "k"), [(8, 4, 8), (4, 8, 4), (16, 2, 4), (6, 4, 9)])
def test_raw_cpsat_reaches_the_brute_force_optimum(m, n, k, port_model):
    h = small_hierarchy(port_model)
    op = Gemm(name="g", m=m, n=n, k=k)
    om = operand_model(TPU, op)  # 8-bit operands, 16-bit partial sums
    space = NestSpace(h, op, om, (((("n", 2),), (("m", 2),)),), loops_per_dim=3)
    best = brute_force(space, 0)
    em = NestExactModel(space, 0)
    from ortools.sat.python import cp_model
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = 30.0
    assert solver.solve(em.model) == cp_model.OPTIMAL
    nest = em.decode(solver)
    got = evaluate_nest(h, op, om, nest)
    assert got.feasible[0]
    # the solver's own value is the cost model's latency, each of its few divisions flooring by < 1/CYCLE_SCALE
    assert solver.objective_value / CYCLE_SCALE == pytest.approx(got.total_cycles[0], abs=8 / CYCLE_SCALE)
    assert got.total_cycles[0] == pytest.approx(best, abs=8 / CYCLE_SCALE)


def test_split_loops_merges_the_smallest_factors():
    # 2^12: the two smallest merged each time: twelve 2s -> six 4s (6 merges, 6 loops) -> 16, 4, 4, 4, 4 -> 16, 16, 4, 4
    assert split_loops(4096, 4) == [16, 16, 4, 4]
    # 1376 = 2^5 * 43: 43 2 2 2 2 2 -> 43 4 2 2 2 -> 43 4 4 2
    assert split_loops(11008 // 8, 4) == [43, 4, 4, 2]
    assert split_loops(127, 4) == [127]
    assert math.prod(split_loops(1020, 2)) == 1020


def test_decoded_points_cover_the_dims_and_are_allocated_greedily():
    op = Gemm(name="g", m=512, n=4096, k=4096)
    h = of_arch(TPU)
    space = NestSpace(h, op, operand_model(TPU, op), (ZZ_SPATIAL,))
    rng = np.random.default_rng(1)
    ns = space.decode(*space.sample(rng, 300))
    costs = evaluate_nests(h, op, space.om, ns)
    assert costs.feasible.all()  # the allocation never overfills a memory
    assert not costs.pads.any()  # 512 / 16, 4096 / 8 and 4096 / 8 split exactly
    # greedy: raising any operand's bound at an on-chip memory by one loop overfills it or passes its outer bound
    for i in range(0, 300, 37):
        nest = ns.nest(i, axes=4)
        for j, mem in enumerate(h.memories[:-1]):
            for t in (OPERANDS.index(x) for x in mem.operands):
                b = nest.bounds[j][t]
                if b == len(nest.temporal):
                    continue
                rows = [list(r) for r in nest.bounds]
                rows[j][t] = b + 1
                grown = LoopNest(spatial=nest.spatial, temporal=nest.temporal,
                                 bounds=tuple((r[0], r[1], r[2]) for r in rows), double_buffer=True)
                c = evaluate_nest(h, op, space.om, grown)
                outer = [rows[jj][t] for jj in h.chain(OPERANDS[t]) if jj > j][0]
                assert not c.feasible[0] or b + 1 > outer or c.need_bytes[0, j] > 0.5 * mem.capacity_bytes


def test_default_spatials_put_full_unrollings_first():
    op = Gemm(name="g", m=512, n=4096, k=4096)
    sp = default_spatials(of_arch(TPU), op)
    assert len(sp) == 3 ** 4  # one dim per axis, every assignment distinct here
    first = sp[0]
    assert math.prod(f for axis in first for _, f in axis) == 1024  # fills all 8 x 8 x 4 x 4 MACs
    # rf_1B holds one weight byte shared over D3 and D4: only unrollings of m (which B does not use) on D3 and D4
    # fit it; rf_2B holds one 2-byte partial sum shared over D2: only k (which C does not use) on D2; so 3 x 1 x 1 x 1
    fitting = default_spatials(of_arch(TPU), op, operand_model(TPU, op))
    assert len(fitting) == 3 and all(s[1] == (("k", 8),) and s[2] == (("m", 4),) and s[3] == (("m", 4),)
                                     for s in fitting)


@pytest.mark.parametrize("search", [random_search, genetic_search])
def test_seeded_searches_repeat(search):
    op = Gemm(name="g", m=512, n=8, k=4096)
    space = NestSpace(of_arch(TPU), op, operand_model(TPU, op), (ZZ_SPATIAL,))
    a, b = search(space, budget=400, seed=3), search(space, budget=400, seed=3)
    assert a.nest == b.nest and a.cycles == b.cycles and a.evaluated == b.evaluated == 400
    assert evaluate_nest(space.hierarchy, op, space.om, a.nest).total_cycles[0] == a.cycles


def test_cpsat_search_returns_the_nest_it_scored():
    op = Gemm(name="g", m=64, n=64, k=256)
    space = NestSpace(of_arch(TPU), op, operand_model(TPU, op), (ZZ_SPATIAL,))
    r = cpsat_search(space, deterministic_limit=2.0)
    assert r.nest is not None
    c = evaluate_nest(space.hierarchy, op, space.om, r.nest)
    assert c.feasible[0] and c.total_cycles[0] == r.cycles
    # no order of 64 x 64 x 256 on 1024 MACs beats its compute: 64*64*256 / 1024 = 4096 cycles
    assert r.cycles >= 4096


def test_auto_is_never_worse_than_its_random_search_and_repeats():
    """auto = random search over every unrolling, then CP-SAT on the two best: never worse than the random search it
    ran (same points, same seed), the same answer twice (both budgets are counts, not clock time)."""
    op = Gemm(name="g", m=128, n=256, k=512)
    h = of_arch(TPU)
    space = NestSpace(h, op, operand_model(TPU, op), tuple(default_spatials(h, op, operand_model(TPU, op))[:6]))
    a = auto_search(space, points=1_000, deterministic_limit=1.0)
    b = auto_search(space, points=1_000, deterministic_limit=1.0)
    rnd = random_search(space, budget=1_000, seed=0)
    assert a.cycles <= rnd.cycles
    assert (a.nest, a.cycles, a.searcher) == (b.nest, b.cycles, b.searcher)
    assert evaluate_nest(h, op, space.om, a.nest).total_cycles[0] == a.cycles
