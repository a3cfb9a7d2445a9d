"""The mappings every searcher must beat: the three fixed-dataflow baselines and the heuristic mapping."""

from __future__ import annotations

from edgesim.arch import ArchSpec
from edgesim.heuristic import heuristic_mapping
from edgesim.mapping import DATAFLOWS, Mapping
from edgesim.ops import Gemm
from edgesim.search.fixed import fixed_mapping


def fixed_baselines(arch: ArchSpec, op: Gemm) -> list[Mapping]:
    """The fixed-dataflow baselines ("no scheduling"), where they fit: a scheduler is never slower than these."""
    return [m for m in (fixed_mapping(arch, op, df) for df in DATAFLOWS) if isinstance(m, Mapping)]


def baselines(arch: ArchSpec, op: Gemm) -> list[Mapping]:
    """The fixed-dataflow baselines and the heuristic mapping, where they exist."""
    h = heuristic_mapping(arch, op)
    return fixed_baselines(arch, op) + ([h] if isinstance(h, Mapping) else [])
