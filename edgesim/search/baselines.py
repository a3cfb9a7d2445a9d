"""The mappings every searcher must beat: the three fixed-dataflow baselines and the heuristic mapping."""

from __future__ import annotations

from edgesim.arch import ArchSpec
from edgesim.cost.model import evaluate
from edgesim.mapping import DATAFLOWS, Mapping, MappingSet
from edgesim.ops import Gemm
from edgesim.search.fixed import fixed_mapping
from edgesim.search.heuristic import heuristic_mapping
from edgesim.search.incumbent import Incumbent


def fixed_baselines(arch: ArchSpec, op: Gemm) -> list[Mapping]:
    """The fixed-dataflow baselines ("no scheduling"), where they fit: a scheduler is never slower than these."""
    return [m for m in (fixed_mapping(arch, op, df) for df in DATAFLOWS) if isinstance(m, Mapping)]


def offer_baselines(inc: Incumbent, arch: ArchSpec, op: Gemm) -> None:
    """Offer the fixed-dataflow baselines (they cap the answer's cycles) and the heuristic mapping."""
    fixed = fixed_baselines(arch, op)
    if fixed:
        maps = MappingSet.of(fixed)
        inc.offer(maps, evaluate(arch, op, maps), baseline=True)
    h = heuristic_mapping(arch, op)
    if isinstance(h, Mapping):
        maps = MappingSet.of([h])
        inc.offer(maps, evaluate(arch, op, maps))
