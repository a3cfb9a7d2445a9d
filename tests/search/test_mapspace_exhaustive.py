"""The mapspace, exhaustive and random search, and the fixed baselines on hand-checkable cases."""

from __future__ import annotations

import numpy as np

from edgesim.config.hardware import load_arch
from edgesim.cost.model import GemmCost, evaluate_one
from edgesim.errors import Infeasible
from edgesim.mapping import LOOP_ORDERS, Dataflow, Mapping
from edgesim.mapspace import Imperfect, MapspaceOptions, build_mapspace, divisors, extra_tiles, prime_factors
from edgesim.ops import Gemm
from edgesim.search.cpsat import CpSatSearcher
from edgesim.search.exhaustive import ExhaustiveSearcher
from edgesim.search.fixed import FixedSearcher, fixed_mapping
from edgesim.search.random_search import RandomSearcher


def test_factors_and_tiles_by_hand():
    assert prime_factors(11008) == ((2, 8), (43, 1))  # 11008 = 256 * 43
    assert prime_factors(4099) == ((4099, 1),)  # prime
    assert prime_factors(1) == ()
    assert divisors(12) == (1, 2, 3, 4, 6, 12)
    # 4099 is prime: only 1 and 4099 divide it; the array-aligned tiles 16, 32, ..., 4096 are added
    assert extra_tiles(4099, (16,), Imperfect.POW2) == (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    assert extra_tiles(40, (16,), Imperfect.ALIGNED) == (16, 32)  # 16 and 32 do not divide 40
    assert extra_tiles(64, (16,), Imperfect.POW2) == ()  # 16 and 32 divide 64: already divisors
    assert extra_tiles(40, (16,), Imperfect.NONE) == ()


def test_mapspace_size_and_enumeration(default_arch):
    op = Gemm(name="g", m=6, n=5, k=4)  # all dims below the 16-wide array: divisors only
    space = build_mapspace(default_arch, op)
    assert [d.tiles for d in space.dims] == [(1, 2, 3, 6), (1, 5), (1, 2, 4)]
    assert space.size == 3 * 4 * 2 * 3 * 6 * 2
    whole = space.at(np.arange(space.size))
    seen = {whole.mapping(i) for i in range(len(whole))}
    assert len(seen) == space.size  # every flat index is a distinct mapping
    chunks = list(space.chunks(100))
    assert sum(len(c) for c in chunks) == space.size


def test_hand_checked_optimum(default_arch):
    """16x16x16 int8 on the 16x16 edge NPU (800 MHz, 16 B/cycle DRAM, 80-cycle latency, 64 B/cycle buffer).

    os, whole-problem tile, double buffered: compute = 1 fold · (R+C-2 + K) = 30 + 16 = 46 cycles;
    buffer port: reads 256 (A) + 256 (B) + 256 (C out) B, writes 256 + 256 + 1024 (32-bit psums) B
    = 2304 B / 64 = 36; registers 49152 B / 2048 B/cycle = 24; on-chip = 46.
    DRAM 768 B / 16 = 48 cycles: the A+B tile (512 B) 32 cycles in, C (256 B) 16 cycles out. One tile has nothing
    to overlap with (edgesim.cost.pipelining): 32 + 80 latency + 46 + 16 = 174, double buffered or not (single:
    46 + 48 + 80 = 174). ws and is pay 2R+C-2 = 46 fill cycles + 16 = 62 > 46 on chip. Smaller tiles only add folds:
    two tiles pay at least the first tile's load (>= 16) + 80 + their compute (>= 2 x 38 = 76, os halving K; halving
    M or N keeps one fold each, 2 x 46) + the last write-back (>= 8) >= 180. So 174 is optimal.
    """
    op = Gemm(name="g", m=16, n=16, k=16)
    for searcher in (ExhaustiveSearcher(), CpSatSearcher(deterministic_limit=2)):
        res = searcher.best(default_arch, op)
        assert not isinstance(res, Infeasible)
        assert res.cost.total_cycles == 174
        m = res.mapping
        assert (m.dataflow, m.tile_m, m.tile_n, m.tile_k) == (Dataflow.OS, 16, 16, 16)


def test_exhaustive_equals_scalar_enumeration(small_arch):
    """The chunked vectorised search against a plain loop over every mapping with the scalar cost path."""
    op = Gemm(name="g", m=12, n=10, k=6, a_bits=4)
    space = build_mapspace(small_arch, op)
    best = None
    for df in Dataflow:
        for tm in space.dims[0].tiles:
            for tn in space.dims[1].tiles:
                for tk in space.dims[2].tiles:
                    for order in LOOP_ORDERS:
                        for db in (True, False):
                            c = evaluate_one(small_arch, op, Mapping(dataflow=df, tile_m=tm, tile_n=tn, tile_k=tk,
                                                                     dram_order=order, double_buffer=db))
                            if isinstance(c, GemmCost) and (best is None or (c.total_cycles, c.energy_pj) < best):
                                best = (c.total_cycles, c.energy_pj)
    for chunk in (7, 1 << 17):
        res = ExhaustiveSearcher(chunk_size=chunk).best(small_arch, op)
        assert not isinstance(res, Infeasible)
        assert (res.cost.total_cycles, res.cost.energy_pj) == best
        assert res.candidates == space.size


def test_random_is_seeded_and_never_beats_exhaustive(small_arch):
    op = Gemm(name="g", m=40, n=24, k=36)
    a, b = RandomSearcher(budget=50, seed=3).best(small_arch, op), RandomSearcher(budget=50, seed=3).best(small_arch, op)
    ex = ExhaustiveSearcher().best(small_arch, op)
    assert not isinstance(a, Infeasible) and not isinstance(b, Infeasible) and not isinstance(ex, Infeasible)
    assert a.mapping == b.mapping
    assert a.cost.total_cycles >= ex.cost.total_cycles


def test_fixed_baselines_by_hand(default_arch):
    # 64x64x64 int8: the greedy tile doubles the temporal dim, then rows, then columns, from 16: everything fits
    # (2·(64·64·3 B... ) well under 256 KiB), so each baseline takes the whole problem with its natural order
    op = Gemm(name="g", m=64, n=64, k=64)
    for df, order in ((Dataflow.WS, "nkm"), (Dataflow.OS, "mnk"), (Dataflow.IS, "mkn")):
        m = fixed_mapping(default_arch, op, df)
        assert m == Mapping(dataflow=df, tile_m=64, tile_n=64, tile_k=64, dram_order=order, double_buffer=True)
        res = FixedSearcher(df).best(default_arch, op)
        assert not isinstance(res, Infeasible) and res.candidates == 1


def test_fixed_baseline_shrinks_to_fit(small_arch):
    # 2 KiB, double buffered: a 4x4x4 os tile needs 2·(16+16+64) = 192 B, so growth stops by capacity
    op = Gemm(name="g", m=256, n=256, k=256)
    m = fixed_mapping(small_arch, op, Dataflow.OS)
    assert isinstance(m, Mapping)
    need = 2 * (m.tile_m * m.tile_k + m.tile_k * m.tile_n + 4 * m.tile_m * m.tile_n)
    assert need <= 2048
    assert m.tile_k > 4  # grew along K first


def test_infeasible_everywhere():
    arch = load_arch(None, ["global_buffer.capacity_kib=0.001"])  # about 1 byte: not even a 1x1x1 tile fits
    op = Gemm(name="g", m=8, n=8, k=8)
    for s in (ExhaustiveSearcher(), RandomSearcher(budget=20), FixedSearcher(Dataflow.WS), CpSatSearcher(deterministic_limit=1)):
        res = s.best(arch, op)
        assert isinstance(res, Infeasible), s.name
        assert "global_buffer" in res.reason


def test_registers_too_small_is_infeasible():
    arch = load_arch(None, ["registers.capacity_bytes_per_pe=2"])  # a PE needs 1 + 1 + 4 B
    res = ExhaustiveSearcher(MapspaceOptions(imperfect=Imperfect.NONE)).best(arch, Gemm(name="g", m=4, n=4, k=4))
    assert isinstance(res, Infeasible) and "registers" in res.reason
