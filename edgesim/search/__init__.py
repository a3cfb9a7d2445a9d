"""Schedulers: searches over an op's mapspace for the fastest mapping (cycles, then energy in pJ).

`base` defines the `Searcher` protocol and `SearchResult`; `exhaustive`, `random_search`, `fixed` and
`cpsat` implement it; `cache` persists results on disk.
"""

from edgesim.search.base import Searcher, SearchResult

__all__ = ["SearchResult", "Searcher"]
