"""The mappings every searcher must beat: the three fixed-dataflow baselines and the heuristic mapping."""

from __future__ import annotations

from edgesim.arch import ArchSpec
from edgesim.cost.model import CostArrays, evaluate
from edgesim.mapping import DATAFLOWS, Mapping, MappingSet
from edgesim.ops import Gemm
from edgesim.search.fixed import fixed_mapping
from edgesim.search.heuristic import heuristic_mapping
from edgesim.search.incumbent import Incumbent


def fixed_baselines(arch: ArchSpec, op: Gemm) -> list[Mapping]:
    """The fixed-dataflow baselines ("no scheduling"), where they fit: a scheduler is never slower than these."""
    return [m for m in (fixed_mapping(arch, op, df) for df in DATAFLOWS) if isinstance(m, Mapping)]


def baseline_offers(arch: ArchSpec, op: Gemm, *, heuristic: bool = True) -> list[tuple[MappingSet, CostArrays, bool]]:
    """The offers `offer_baselines` makes, scored: (candidates, costs, whether they cap the answer's cycles)."""
    out: list[tuple[MappingSet, CostArrays, bool]] = []
    fixed = fixed_baselines(arch, op)
    if fixed:
        maps = MappingSet.of(fixed)
        out.append((maps, evaluate(arch, op, maps), True))
    h = heuristic_mapping(arch, op) if heuristic else None
    if isinstance(h, Mapping):
        maps = MappingSet.of([h])
        out.append((maps, evaluate(arch, op, maps), False))
    return out


def offer_baselines(inc: Incumbent, arch: ArchSpec, op: Gemm, *, heuristic: bool = True) -> None:
    """Offer the fixed-dataflow baselines (they cap the answer's cycles) and the heuristic mapping (unless
    `heuristic` is False: a search whose space holds the heuristic's whole grid has already offered it)."""
    for maps, ca, baseline in baseline_offers(arch, op, heuristic=heuristic):
        inc.offer(maps, ca, baseline=baseline)
