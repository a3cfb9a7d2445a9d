"""Exhaustive search: the exact best mapping of the op's mapspace under the vectorised cost model (cycles, pJ).

Every candidate is accounted for, but not every one is scored in full. The search runs in two passes:
1. Each (dataflow, tile) choice, shared by its 12 loop-order and buffering variants, gets its compute cycles and its
   buffer need (`compute_bound`). Compute cycles are a lower bound on a candidate's total cycles. A choice that fits
   no variant in the global buffer is infeasible in every variant.
2. An upper bound U on the fewest cycles comes from the baselines and from a probe: the variants of the
   `PROBE_TILES` fitting choices with the fewest compute cycles, scored in full. The answer lies within the band
   `fewest cycles · (1 + tolerance)`, so a choice whose compute cycles exceed U · (1 + tolerance) cannot hold it.
   The rest are scored in full, in mapspace order, `chunk_size` at a time, and offered to the `Incumbent`.

The result equals scoring every candidate (tests/search/test_exhaustive_exact.py checks this against a brute-force
scan); it typically scores a few percent of the mapspace in full. Memory stays bounded: 16 B per fitting choice
and about 1 kB per candidate in flight.
"""

from __future__ import annotations

import time

import numpy as np

from edgesim.arch import ArchSpec
from edgesim.cost.model import compute_bound, evaluate, registers_shortfall
from edgesim.errors import Infeasible
from edgesim.mapspace import MapspaceOptions, build_mapspace
from edgesim.operands import operand_model
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.baselines import baseline_offers
from edgesim.search.heuristic import grid_within
from edgesim.search.incumbent import Incumbent

PROBE_TILES = 32  # (dataflow, tile) choices scored in full to bound the fewest cycles before the main pass


class ExhaustiveSearcher:
    name = "exhaustive"

    def __init__(self, options: MapspaceOptions | None = None, chunk_size: int = 1 << 17, tolerance: float = 0.0):
        self.options = options or MapspaceOptions()
        self.chunk_size = chunk_size
        self.tolerance = tolerance  # latency band within which energy decides (see Incumbent)

    def settings(self) -> dict[str, object]:
        out: dict[str, object] = {"searcher": self.name, "mapspace": self.options.settings()}
        if self.tolerance:
            out["latency_tolerance"] = self.tolerance
        return out

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        t0 = time.perf_counter()
        space = build_mapspace(arch, op, self.options)
        if reason := registers_shortfall(arch, operand_model(arch, op)):
            return Infeasible(reason)
        capacity = arch.global_buffer.capacity_bytes
        db_choices = np.array(space.double_buffer, dtype=bool)
        least_factor = 2.0 if db_choices.all() else 1.0  # the smallest buffer a choice's variants need, per single

        # pass 1: compute cycles and buffer need per (dataflow, tile) choice; keep the choices some variant fits
        kept_t, kept_comp, kept_need = [], [], []
        inc = Incumbent(tolerance=self.tolerance)
        for start in range(0, space.tile_count, self.chunk_size):
            tflat = np.arange(start, min(start + self.chunk_size, space.tile_count), dtype=np.int64)
            comp, need = compute_bound(arch, op, space.tiles_at(tflat))
            inc.min_need_bytes = min(inc.min_need_bytes, float(need.min()) * least_factor)
            fit = need * least_factor <= capacity
            kept_t.append(tflat[fit])
            kept_comp.append(comp[fit])
            kept_need.append(need[fit])
        tiles, comp, need = np.concatenate(kept_t), np.concatenate(kept_comp), np.concatenate(kept_need)

        # the baselines are offered last, as they always were; here they only bound the fewest cycles
        offers = baseline_offers(arch, op, heuristic=not grid_within(arch, op, space))
        bound = min((float(ca.total_cycles[ca.feasible].min()) for _, ca, _ in offers if ca.feasible.any()),
                    default=float("inf"))
        if tiles.size:
            probe = np.sort(tiles[np.argsort(comp, kind="stable")[:PROBE_TILES]])
            ca = evaluate(arch, op, space.at(space.expand(probe)))
            if ca.feasible.any():
                bound = min(bound, float(ca.total_cycles[ca.feasible].min()))
            live = comp <= bound * (1 + self.tolerance)
            tiles, need = tiles[live], need[live]

        # pass 2: every variant of the remaining choices that fits, scored in full in mapspace order
        flat = space.expand(tiles)
        fits = np.repeat(need, space.size // space.tile_count) * np.where(db_choices[flat % len(db_choices)], 2.0, 1.0) <= capacity
        flat = flat[fits]
        for start in range(0, len(flat), self.chunk_size):
            maps = space.at(flat[start:start + self.chunk_size])
            inc.offer(maps, evaluate(arch, op, maps))
        for maps, ca, baseline in offers:
            inc.offer(maps, ca, baseline=baseline)
        return inc.result(arch, op, self.name, time.perf_counter() - t0, space.size)
