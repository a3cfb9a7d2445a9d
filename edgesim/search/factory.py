"""Searchers by name: the one place that builds concrete searchers for the CLI, experiments and benchmarks.

Two vocabularies:
- mappers (`edgesim tune --mapper`): how a tuning step's GEMMs are mapped, behind the schedule cache;
- searchers (`edgesim schedule --searcher`): one named search, with its knobs.
"""

from __future__ import annotations

from pathlib import Path

from edgesim.mapping import Dataflow
from edgesim.search.auto import AutoSearcher
from edgesim.search.base import Searcher
from edgesim.search.cache import CachedSearcher, ScheduleCache
from edgesim.search.cpsat import CpSatSearcher
from edgesim.search.exhaustive import ExhaustiveSearcher
from edgesim.search.fixed import FixedSearcher
from edgesim.search.genetic import GeneticSearcher
from edgesim.search.heuristic import HeuristicSearcher
from edgesim.search.random_search import RandomSearcher

MAPPERS = ("auto", "exhaustive", "cpsat", "fixed-ws", "fixed-os", "fixed-is", "heuristic")
SEARCHERS = ("cpsat", "exhaustive", "random", "genetic", "fixed-ws", "fixed-os", "fixed-is")


def make_mapper(name: str, cache_dir: Path | None, tolerance: float = 0.0) -> Searcher:
    """The searcher behind `--mapper NAME`: the scheduler's searchers go behind the schedule cache when `cache_dir`
    is given; the heuristic grid is cheap and never cached. `tolerance` is the latency band (a fraction in [0, 1))."""
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be a fraction in [0, 1), got {tolerance}")
    inner: Searcher
    if name == "heuristic":
        return HeuristicSearcher()
    if name == "auto":
        inner = AutoSearcher(tolerance=tolerance)
    elif name == "exhaustive":
        inner = ExhaustiveSearcher(tolerance=tolerance)
    elif name == "cpsat":
        inner = CpSatSearcher(deterministic_limit=3.0, tolerance=tolerance)
    elif name in ("fixed-ws", "fixed-os", "fixed-is"):
        inner = FixedSearcher(Dataflow(name.removeprefix("fixed-")))
    else:
        raise ValueError(f"unknown mapper {name!r}; expected one of {', '.join(MAPPERS)}")
    return inner if cache_dir is None else CachedSearcher(inner, ScheduleCache(directory=cache_dir.expanduser()))


def make_searcher(name: str, *, deterministic_limit: float = 3.0, budget: int = 2000, seed: int = 0,
                  raw: bool = False) -> Searcher:
    """The searcher behind `edgesim schedule --searcher NAME` (no cache: the caller decides). `deterministic_limit`
    is CP-SAT's budget per op in OR-Tools deterministic time units (not seconds), split over the dataflows; `raw`
    (cpsat only) is the solver's own answer without polish or injected candidates."""
    if raw and name != "cpsat":
        raise ValueError(f"only cpsat has a raw mode, not {name!r}")
    if name == "cpsat":
        return CpSatSearcher(deterministic_limit=deterministic_limit, seed=seed, raw=raw)
    if name == "exhaustive":
        return ExhaustiveSearcher()
    if name == "random":
        return RandomSearcher(budget=budget, seed=seed)
    if name == "genetic":
        return GeneticSearcher(trials=budget, seed=seed)
    if name in ("fixed-ws", "fixed-os", "fixed-is"):
        return FixedSearcher(Dataflow(name.removeprefix("fixed-")))
    raise ValueError(f"unknown searcher {name!r}; expected one of {', '.join(SEARCHERS)}")
