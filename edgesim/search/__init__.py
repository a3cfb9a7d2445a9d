"""Schedulers: searches over an op's mapspace for the fastest mapping (cycles, then energy in pJ).

`base` defines the `Searcher` protocol and `SearchResult`; `heuristic`, `fixed`, `exhaustive`, `random_search`,
`cpsat` and `auto` implement it; `incumbent` keeps a search's running answer; `baselines` offers the mappings
every searcher must beat; `cache` persists results on disk; `factory` builds searchers by name.
"""

from edgesim.search.base import Searcher, SearchResult

__all__ = ["SearchResult", "Searcher"]
