"""The tile simulator on loop nests (`edgesim.sim.nest_tiles`).

Every expected number comes from an independent implementation or from hand:
1. the three-level simulator (`edgesim.sim.pipeline.simulate` over `edgesim.sim.tiles`, itself checked against the
   per-tile event loop of tests/sim/oracle.py) on the loop nests of three-level mappings;
2. the analytic loop-nest model (`edgesim.cost.nest`): the simulator must move its DRAM bytes and perform its compute
   cycles, on ZigZag's edge_tpu_like mirror and on random nests of small hand-built hierarchies (streamed operands,
   systolic folds, padding included); its total must respect the model's lower bounds;
3. two tiles worked out by hand.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from edgesim.config.hardware import load_arch
from edgesim.cost import GemmCost, evaluate_one
from edgesim.cost.hierarchy import nest_of_mapping, of_arch
from edgesim.cost.nest import evaluate_nest, evaluate_nests
from edgesim.hierarchy import ArrayAxis, Hierarchy, Interconnect, Memory, MemoryKind
from edgesim.loopnest import LoopNest
from edgesim.mapping import DATAFLOWS, LOOP_ORDERS, Mapping
from edgesim.mapspace import divisors
from edgesim.nestspace import NestSpace
from edgesim.operands import OperandModel, operand_model
from edgesim.ops import Gemm
from edgesim.sim.nest_tiles import NestTile, double_buffered, nest_tile_tree, simulate_nest
from edgesim.sim.pipeline import CAUSES, simulate
from edgesim.sim.tiles import Node, Seq
from tests.unit.test_cost_hand import tiny_arch

ARCHS = {name: load_arch(name) for name in ("edge_npu_16x16", "mobile_npu_32x32")}
SIZES = st.sampled_from([16, 32, 48, 64, 96, 128, 256, 512])


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), 1.0)


def tree_sum(node: Node, f, memo: dict[int, object] | None = None):
    """Σ over the tiles of a tree of f(tile) (a float or a numpy array), each tile counted as often as it repeats."""
    memo = {} if memo is None else memo
    if id(node) not in memo:
        if isinstance(node, Seq):
            memo[id(node)] = sum(tree_sum(child, f, memo) * reps for child, reps in node.items)
        else:
            memo[id(node)] = f(node)
    return memo[id(node)]


# ---------------------------------------------------------------- 1. the three-level simulator as the oracle
@st.composite
def three_level_cases(draw):
    name = draw(st.sampled_from(sorted(ARCHS)))
    arch = ARCHS[name]
    # DRAM from starved to unlimited, latency from none to long: both simulators read them from the arch
    dram = dataclasses.replace(arch.dram, bandwidth_bytes_per_cycle=draw(st.sampled_from(
        [arch.dram.bandwidth_bytes_per_cycle, 0.3, 2.0, 1e6])), latency_cycles=draw(st.sampled_from([0, 1, 80, 500])))
    arch = dataclasses.replace(arch, dram=dram)
    m, n, k = draw(SIZES), draw(SIZES), draw(SIZES)
    op = Gemm(name="g", m=m, n=n, k=k, batch=draw(st.integers(1, 2)))  # dense 8-bit
    tm, tn, tk = (draw(st.one_of(st.just(d), st.sampled_from(divisors(d)))) for d in (m, n, k))
    mp = Mapping(dataflow=draw(st.sampled_from(DATAFLOWS)), tile_m=tm, tile_n=tn, tile_k=tk,
                 dram_order=draw(st.sampled_from(LOOP_ORDERS)), double_buffer=draw(st.booleans()))
    return arch, op, mp


@settings(max_examples=300, deadline=None)
@given(case=three_level_cases(), per_operand=st.booleans())
def test_three_level_mappings_simulate_as_the_three_level_simulator(case, per_operand):
    arch, op, mp = case
    try:
        nest: LoopNest | None = nest_of_mapping(arch, op, mp)
    except ValueError:  # a tile the array neither divides nor holds in one fold
        nest = None
    assume(nest is not None and isinstance(evaluate_one(arch, op, mp), GemmCost))
    assert nest is not None
    ref = simulate(arch, op, mp, max_events=0, per_operand=per_operand)
    got = simulate_nest(of_arch(arch), op, operand_model(arch, op), nest, max_events=0, per_operand=per_operand)
    assert got.tiles == ref.tiles
    for field in ("total_cycles", "compute_cycles", "dram_bytes", "dram_busy_cycles", "buffer_bytes", "macs"):
        assert close(getattr(got, field), getattr(ref, field)), (field, getattr(got, field), getattr(ref, field))
    for cause in CAUSES:  # differences of event times: exact to rounding relative to the total
        assert abs(got.stall_cycles[cause] - ref.stall_cycles[cause]) <= 1e-9 * max(ref.total_cycles, 1.0), \
            (cause, got.stall_cycles, ref.stall_cycles)


# ---------------------------------------------------------------- 2. totals equal the analytic model
ZZ = load_arch("edge_tpu_like")
ZZ_SPATIAL = ((("n", 8),), (("k", 8),), (("m", 4),), (("m", 4),))


# Measured under cost model v4 (seed 7, 1000 nests each on these three GEMMs and on 512x4096x4096, 64x64x64,
# 1024x1024x1024; 6000 in all, every on-chip port counted per access as the mirror declares; the script:
# for each GEMM, NestSpace(of_arch(ZZ), op, om, (ZZ_SPATIAL,)).sample(np.random.default_rng(7), 1000), the feasible
# nests' simulate_nest(..., max_events=0).total_cycles / evaluate_nests(...).total_cycles, split by double_buffered):
# - double buffered (every memory below DRAM can hold a second tile of its operands), 3974 nests: min 0.784,
#   median 1.000, p90 1.012, p99 1.130, max 1.264 (below 0.9: 21; above 1.1: 100);
# - single buffered (some cannot, so the pipeline does not overlap; the model hides refills in ZigZag's window),
#   2026 nests: min 0.999, median 1.209, p90 1.493, p99 1.826, max 1.969.
# (Before operands held across several DRAM tiles were counted per fill, double buffered: min 0.690, median 0.992,
# p90 1.050, p99 1.406, max 1.718, 730 below 0.9.) The simulator can be below the model (where its tiles differ from
# the model's means). The bounds asserted below are looser than these maxima.
MAX_RATIO = {True: 1.9, False: 2.25}


@pytest.mark.parametrize(("m", "n", "k"), [(512, 512, 1024), (256, 64, 2048), (128, 1024, 256)])
def test_zigzag_mirror_totals_equal_the_analytic_model(m, n, k):
    h = of_arch(ZZ)
    op = Gemm(name="g", m=m, n=n, k=k)
    om = operand_model(ZZ, op)
    space = NestSpace(h, op, om, (ZZ_SPATIAL,))
    ns = space.decode(*space.sample(np.random.default_rng(7), 150))
    c = evaluate_nests(h, op, om, ns)
    seen = {True: 0, False: 0}
    for i in range(len(ns)):
        if not c.feasible[i]:
            continue
        nest = ns.nest(i)
        r = simulate_nest(h, op, om, nest, max_events=0)
        assert r.dram_bytes == c.dram_bytes[i]
        assert r.compute_cycles == c.compute_cycles[i]
        assert r.macs == c.macs[i]
        assert r.total_cycles == pytest.approx(r.compute_cycles + r.stalls_total, rel=1e-12)
        # no schedule beats the array's compute or DRAM's transfer time ...
        floor = max(float(c.compute_cycles[i]), float(c.dram_cycles[i]))
        assert r.total_cycles >= floor * (1 - 1e-12)
        # ... nor any on-chip port's busy time, summed over the tiles
        ports = tree_sum(nest_tile_tree(h, op, om, nest), lambda t: np.array(t.port_cycles))
        assert r.total_cycles >= ports.max() * (1 - 1e-12)
        forced = simulate_nest(h, op, om, nest, max_events=0, single_buffered=False)  # overlap regardless of capacity
        assert forced.total_cycles >= floor * (1 - 1e-12)
        two = double_buffered(h, op, om, nest)
        seen[two] += 1
        assert r.total_cycles <= MAX_RATIO[two] * c.total_cycles[i], (nest.describe(), r.total_cycles / c.total_cycles[i])
    assert seen[True] > 10


# small hand-built hierarchies: 2 x 2 broadcast arrays whose memories hold some operands, and the tiny systolic array
def _dram(latency: int) -> Memory:
    return Memory(name="dram", kind=MemoryKind.DRAM, operands=("A", "B", "C"), capacity_bytes=2**40,
                  served_axes=("X", "Y"), read_bytes_per_cycle=4, write_bytes_per_cycle=4, shared_port=True,
                  read_pj_per_byte=100, write_pj_per_byte=200, latency_cycles=latency)


def _mem(name: str, kind: MemoryKind, operands: tuple[str, ...], served: tuple[str, ...], bw: float, shared: bool,
         capacity: float = 2**30) -> Memory:
    return Memory(name=name, kind=kind, operands=operands, capacity_bytes=capacity, served_axes=served,
                  read_bytes_per_cycle=bw, write_bytes_per_cycle=bw / 2, shared_port=shared, read_pj_per_byte=1,
                  write_pj_per_byte=1)


def small_hierarchy(kind: str, latency: int = 3) -> Hierarchy:
    both = ("X", "Y")
    axes = (ArrayAxis(name="X", size=2), ArrayAxis(name="Y", size=2))
    buf = {
        # tests/cost/test_nest.py's hand hierarchy: a B register per X column, a buffer for everything
        "rf": (_mem("rfB", MemoryKind.REGISTER, ("B",), ("Y",), 1, False),
               _mem("buf", MemoryKind.BUFFER, ("A", "B", "C"), both, 8, False)),
        # C held by DRAM only: it streams
        "stream_c": (_mem("buf", MemoryKind.BUFFER, ("A", "B"), both, 8, True),),
        # A and C stream
        "stream_ac": (_mem("rfB", MemoryKind.REGISTER, ("B",), ("Y",), 1, True),
                      _mem("buf", MemoryKind.BUFFER, ("B",), both, 8, False)),
        # C's MAC-facing memory a buffer serving Y only (one instance per X column)
        "acc": (_mem("accC", MemoryKind.BUFFER, ("C",), ("Y",), 2, True),
                _mem("buf", MemoryKind.BUFFER, ("A", "B", "C"), both, 8, True)),
    }[kind]
    return Hierarchy(axes=axes, interconnect=Interconnect.BROADCAST, memories=(*buf, _dram(latency)))


def small_om(op: Gemm) -> OperandModel:
    """8-bit A, B, C, 16-bit partial sums, dense B."""
    return OperandModel(a_bytes=1, b_bytes=1, c_bytes=1, psum_bytes=2, b_stored_bytes=op.k * op.n, k_kept=1.0, pack=1,
                        stretch=1, mac_energy_pj=1.0, b_format="dense")


@st.composite
def small_cases(draw):
    kind = draw(st.sampled_from(["rf", "stream_c", "stream_ac", "acc", "systolic"]))
    arch = tiny_arch() if kind == "systolic" else None
    # the tiny arch: 2 x 2 systolic; registers, buffer, DRAM all hold A, B and C
    h = of_arch(arch) if arch is not None else small_hierarchy(kind, latency=draw(st.sampled_from([0, 3, 50])))
    spatial = tuple(((d, 2),) if d else () for d in (draw(st.sampled_from(["n", "k", "m", ""])),
                                                     draw(st.sampled_from(["m", "k", "n"]))))
    temporal = tuple(draw(st.lists(st.tuples(st.sampled_from("mnk"), st.integers(1, 3)), max_size=6)))
    L = len(temporal)
    # per operand, bounds growing along its chain (memories that do not hold it: 0, ignored)
    rows = [[0, 0, 0] for _ in h.memories]
    for t, name in enumerate("ABC"):
        chain = h.chain(name)[:-1]
        for j, b in zip(chain, sorted(draw(st.lists(st.integers(0, L), min_size=len(chain), max_size=len(chain)))),
                        strict=True):
            rows[j][t] = b
    rows[-1] = [L, L, L]
    nest = LoopNest(spatial=spatial, temporal=temporal, bounds=tuple(tuple(r) for r in rows),  # type: ignore[misc]
                    double_buffer=draw(st.booleans()))
    # dims the nest covers, sometimes one short of it (padding)
    dims = {d: max(1, nest.factor(d) - draw(st.sampled_from([0, 0, 1]))) for d in "mnk"}
    op = Gemm(name="g", m=dims["m"], n=dims["n"], k=dims["k"], batch=draw(st.integers(1, 2)))
    om = operand_model(arch, op) if arch is not None else small_om(op)
    return h, op, om, nest


@settings(max_examples=400, deadline=None)
@given(case=small_cases(), per_operand=st.booleans())
def test_random_nests_on_small_hierarchies_move_the_models_bytes(case, per_operand):
    h, op, om, nest = case
    c = evaluate_nest(h, op, om, nest)
    r = simulate_nest(h, op, om, nest, max_events=0, per_operand=per_operand)
    assert r.dram_bytes == pytest.approx(float(c.dram_bytes[0]), rel=1e-12)
    assert r.compute_cycles == pytest.approx(float(c.compute_cycles[0]), rel=1e-12)
    assert r.macs == pytest.approx(float(c.macs[0]), rel=1e-12)
    # tiles: the batch times the loops at or above the lowest bound of a memory just below DRAM (0 if one streams)
    lo = min(nest.bounds[h.chain(t)[-2]][i] if len(h.chain(t)) > 1 else 0 for i, t in enumerate("ABC"))
    assert r.tiles == op.batch * math.prod(f for _, f in nest.temporal[lo:])
    # the buffers' traffic and every shared port's busy time are the model's (split ports: at least, per tile maxima)
    buffers = [j for j, m in enumerate(h.memories) if m.kind == MemoryKind.BUFFER]
    assert r.buffer_bytes == pytest.approx(float(sum(c.read_bytes[0][j].sum() + c.write_bytes[0][j].sum()
                                                     for j in buffers)), rel=1e-9, abs=1e-9)
    ports = tree_sum(nest_tile_tree(h, op, om, nest), lambda t: np.array(t.port_cycles))
    for j, m in enumerate(h.memories[:-1]):
        if m.shared_port:
            assert ports[j] == pytest.approx(float(c.port_cycles[0][j]), rel=1e-9, abs=1e-9), m.name
        else:
            assert ports[j] >= float(c.port_cycles[0][j]) * (1 - 1e-9) - 1e-9, m.name
    dram_cycles = r.dram_bytes / h.memories[-1].read_bytes_per_cycle
    assert r.total_cycles >= max(r.compute_cycles, dram_cycles / (3 if per_operand else 1)) * (1 - 1e-12)
    assert r.total_cycles == pytest.approx(r.compute_cycles + r.stalls_total, rel=1e-9)
    assert all(v >= -1e-9 for v in r.stall_cycles.values())


# ---------------------------------------------------------------- 3. by hand
# 2 x 2 broadcast array; one buffer (A, B, C; split ports, 64 B/cycle reads, 32 B/cycle writes) and DRAM (4 B/cycle,
# latency 10). GEMM 4 x 2 x 2: X <- n 2, Y <- m 2; temporal k 2 (inner), m 2 (outer); the buffer holds the k loop
# (bound 1), so the DRAM-level loop is m 2: two tiles.
HAND_H = Hierarchy(axes=(ArrayAxis(name="X", size=2), ArrayAxis(name="Y", size=2)), interconnect=Interconnect.BROADCAST,
                   memories=(_mem("buf", MemoryKind.BUFFER, ("A", "B", "C"), ("X", "Y"), 64, False), _dram(10)))
HAND_OP = Gemm(name="g", m=4, n=2, k=2)
HAND_NEST = LoopNest(spatial=((("n", 2),), (("m", 2),)), temporal=(("k", 2), ("m", 2)),
                     bounds=((1, 1, 1), (2, 2, 2)), double_buffer=False)


def test_two_tiles_by_hand_tile_attributes():
    tree = nest_tile_tree(HAND_H, HAND_OP, small_om(HAND_OP), HAND_NEST)
    # batch 1, then m 2: first and last
    assert len(tree.items) == 1 and isinstance(tree.items[0][0], Seq)
    (t0, r0), (t1, r1) = tree.items[0][0].items
    assert isinstance(t0, NestTile) and isinstance(t1, NestTile) and r0 == r1 == 1
    # A's buffer tile: k 2 x (Y's m 2) = 4 B, indexed by m: loaded by both tiles. B's: k 2 x (X's n 2) = 4 B, not
    # indexed by m: loaded once. C's: X n 2 x Y m 2 = 4 outputs, new at each m: no partial sums come back (no DRAM k
    # loop); it leaves after each tile as final 1 B outputs.
    assert t0.load_parts == (4, 4, 0) and t1.load_parts == (4, 0, 0)
    assert t0.writeback_bytes == t1.writeback_bytes == 4
    # compute: 2 iterations (k) per tile, one cycle each; MACs 2 x 4 PEs.
    assert t0.compute_cycles == t1.compute_cycles == 2 and t0.macs == 8
    # buffer, tile 0: reads A 2 iterations x 2 (m rows) = 4 + B 2 x 2 (n columns) = 4 + C's partial sums read back
    # (4 outputs x 2 B x 2 iterations, the first needs none: 8) + the 4 B drained to DRAM = 20; writes: the fills
    # A 4 + B 4 + the updates 4 x 2 B x 2 = 16 -> 24. Split ports: max(20/64, 24/32) = 0.75. Tile 1: writes 20 -> 0.625.
    assert t0.buffer_traffic == 44 and t1.buffer_traffic == 40
    assert t0.buffer_bytes == pytest.approx(0.75) and t1.buffer_bytes == pytest.approx(0.625)


def test_two_tiles_single_buffered_by_hand():
    r = simulate_nest(HAND_H, HAND_OP, small_om(HAND_OP), HAND_NEST)
    # tile 0: load A + B = 8 B at 4 B/cycle: [0, 2), data at 2 + 10 = 12; compute [12, 14) (the port needs 0.75 < 2)
    #   wait 12: latency 10 + bandwidth 2.
    # tile 1 (single buffered: after compute 0): tile 0's write-back 4 B [14, 15), then A 4 B [15, 16), data at 26;
    #   compute [26, 28); wait 12: latency 10 + bandwidth 2.
    # end: tile 1's write-back [28, 29): bandwidth 1. Total 29 = compute 4 + latency 20 + bandwidth 5.
    assert r.total_cycles == 29 and r.compute_cycles == 4
    assert r.stall_cycles == {"dram_bandwidth": 5, "dram_latency": 20, "buffer_port": 0}
    assert r.dram_bytes == 20 and r.tiles == 2
    events = [(e.lane, e.kind, e.start, e.end) for e in r.timeline]
    assert events == [("dram", "load", 0, 2), ("stall", "dram_bandwidth", 0, 12), ("compute", "compute", 12, 14),
                      ("dram", "writeback", 14, 15), ("dram", "load", 15, 16), ("stall", "dram_bandwidth", 14, 26),
                      ("compute", "compute", 26, 28), ("dram", "writeback", 28, 29), ("stall", "dram_bandwidth", 28, 29)]
    # the analytic model, single buffered: on chip 4 + DRAM 20 B / 4 = 5 + 2 tiles x latency 10 = 29 as well
    assert evaluate_nest(HAND_H, HAND_OP, small_om(HAND_OP), HAND_NEST).total_cycles[0] == 29


def test_two_tiles_double_buffered_by_hand():
    nest = dataclasses.replace(HAND_NEST, double_buffer=True)
    r = simulate_nest(HAND_H, HAND_OP, small_om(HAND_OP), nest)
    # tile 0 as single buffered: compute [12, 14). Tile 1's load (A 4 B) may start once tile -1's buffer half is free
    #   (time 0): the channel is free at 2, [2, 3), data at 13; tile 0's write-back [14, 15) goes after compute 0;
    #   compute 1 starts at max(14, 13, tile -1's write-back 14) = 14: no wait; [14, 16).
    # end: tile 1's write-back [16, 17): bandwidth 1. Total 17 = compute 4 + latency 10 + bandwidth 3.
    assert r.total_cycles == 17
    assert r.stall_cycles == {"dram_bandwidth": 3, "dram_latency": 10, "buffer_port": 0}
    # The analytic model (cost model version 4, edgesim.cost.pipelining), the longer of two paths: per tile A's load
    # x = 1 and C's write-back w = 1 (the m loop indexes both), busy b = 2; B's 4 B once (a burst, 1 cycle).
    # Compute path: the first tile's inputs 8 B / 4 = 2 + latency 10 + on chip 4 + no stalls (two tiles: no two-tile
    # step, and tile 1's load 1 <= b 2) + the last tile's outputs 4 B / 4 = 1, exposed: 17. DRAM path: 20 B / 4 = 5
    # + the idle end, latency 10 + b 2 less tile 0's write-back 1 = 11: 16. So 17, the simulator's figure.
    assert evaluate_nest(HAND_H, HAND_OP, small_om(HAND_OP), nest).total_cycles[0] == 17


def test_nests_that_do_not_cover_the_gemm_are_refused():
    short = dataclasses.replace(HAND_NEST, temporal=(("k", 2),), bounds=((1, 1, 1), (1, 1, 1)))  # m covered 2 of 4
    with pytest.raises(ValueError, match="do not cover"):
        simulate_nest(HAND_H, HAND_OP, small_om(HAND_OP), short)


@pytest.mark.skipif("port_model" not in {f.name for f in dataclasses.fields(Memory)},
                    reason="this hierarchy module has no per-access port model")
def test_two_tiles_with_an_access_counted_port_by_hand():
    # The hand example with the buffer's port counted per access (whole cycles per transfer of one stream; reads
    # 64 B/cycle, writes 32 B/cycle, split). Per tile (2 iterations, k 2):
    #   reads: A 2 B per iteration -> 1 cycle x 2; B likewise 2; C's partial sums read back: 8 B at the second
    #   iteration only (the first update of an output reads nothing) -> 1; the drain of C to DRAM, 4 B -> 1: 6 cycles.
    #   writes: tile 0 A fill 4 B -> 1, B fill 1, C's updates 8 B per iteration -> 2: 4 cycles; tile 1: 3 cycles.
    # The array is held max(compute 2, 6) = 6 cycles per tile: 4 cycles of port stall each.
    buf = dataclasses.replace(HAND_H.memories[0], port_model="access")
    h = dataclasses.replace(HAND_H, memories=(buf, HAND_H.memories[1]))
    tree = nest_tile_tree(h, HAND_OP, small_om(HAND_OP), HAND_NEST)
    (t0, _), (t1, _) = tree.items[0][0].items
    assert t0.port_cycles == (6,) and t1.port_cycles == (6,)
    r = simulate_nest(h, HAND_OP, small_om(HAND_OP), HAND_NEST)
    # single buffered: compute 0 [12, 18); write-back [18, 19), A [19, 20), data at 30; compute 1 [30, 36);
    # write-back [36, 37). Total 37 = compute 4 + port 8 + latency 20 + bandwidth 5.
    assert r.total_cycles == 37
    assert r.stall_cycles == {"dram_bandwidth": 5, "dram_latency": 20, "buffer_port": 8}
    # (The analytic model, as of this writing, rounds up each stream's average transfer instead: C's partial-sum reads,
    # 16 B in 4 iterations, cost it 4 cycles, the 2 first updates that read nothing included, so its buffer port is
    # 14 cycles where the tiles need 12. Not asserted here: that is the model's business, reported to the lead.)


# 4 x 4 x 2 on HAND_H (X <- n 2, Y <- m 2), double buffered; the buffer holds k 2 for A and C (bound 1) and all of B
# (bound 3: k 2 x n 2 x X's n 2 = 8 B), so B is loaded once, with the first tile, though its tile spans all four
# DRAM-level tiles (two loops, m 2 and n 2: two runs of the inner one). Per tile: compute 2 (k 2), C's 4 outputs out
# at 1 B (1 cycle at 4 B/cycle). Cost model v4 used to count B's load also as a per-run burst the prefetch window
# must catch (double counted: it is already in the first load).
@pytest.mark.parametrize(("temporal", "model_before"), [
    # m inner: A (4 B, 1 cycle) moves every tile, B (not indexed by m) once. Simulator: tile 0 loads A + B 12 B [0, 3),
    #   data at 13; tile 1 A [3, 4), data 14; compute 0 [13, 15), 1 [15, 17); tile 0's write-back [15, 16), tile 2's A
    #   [16, 17), data 27, compute [27, 29); tile 1's write-back [17, 18), tile 3's A [18, 19), data 29, compute
    #   [29, 31); write-backs [29, 30) and [31, 32): 32. Model: x = 1, w = 1, b = 2, L = 10: one two-tile step
    #   (T = 4) stalls x + w + L - b = 10, and B's only load catches nothing, so the compute path is x_0 12 B / 4 = 3 +
    #   L 10 + busy 8 + stalls 10 + w_l 1 = 32; DRAM path 40 B / 4 = 10 + idle (L + b - x = 11 at the start, L + b - w
    #   = 11 at the end) = 32. Before the fix B's 2 cycles were also a burst of 2 / 2 runs = 1 in the step: 33.
    ((("k", 2), ("m", 2), ("n", 2)), 33),
    # n inner: it indexes B, yet B's tile spans every tile (loaded once); A (not indexed by n) moves at each run's
    #   start (tiles 0 and 2), C every tile. Simulator: tile 0's A + B [0, 3), data 13; compute 0 [13, 15), 1 [15, 17)
    #   (tile 1 loads nothing); write-back 0 [15, 16), tile 2's A [16, 17), data 27, compute [27, 29); write-back 1
    #   [17, 18); compute 3 [29, 31); write-backs [29, 30), [31, 32): 32. Model: x = 0, w = 1, b = 2: the step stalls
    #   0 + 1 + 10 - 2 = 9 plus the burst it catches, A's second load 1: compute path 3 + 10 + 8 + 10 + 1 = 32; DRAM
    #   path 32 B / 4 = 8 + idle 12 + 11 = 31. Before the fix B counted as moving every tile (x = 2 / 4) and A's bursts
    #   as 2 over 2 runs: 3 + 10 + 8 + (9.5 + 1) + 1 = 32.5.
    ((("k", 2), ("n", 2), ("m", 2)), 32.5),
])
def test_operand_loaded_once_is_not_a_burst_by_hand(temporal, model_before):
    op = Gemm(name="g", m=4, n=4, k=2)
    om = small_om(op)
    nest = LoopNest(spatial=((("n", 2),), (("m", 2),)), temporal=temporal, bounds=((1, 3, 1), (3, 3, 3)),
                    double_buffer=True)
    assert double_buffered(HAND_H, op, om, nest)
    r = simulate_nest(HAND_H, op, om, nest)
    assert r.total_cycles == 32 and r.tiles == 4
    c = evaluate_nest(HAND_H, op, om, nest)
    assert c.total_cycles[0] == 32 != model_before
