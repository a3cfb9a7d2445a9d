"""The on-disk schedule cache: round trip, key sensitivity, corruption and atomic writes."""

from __future__ import annotations

import contextlib
import json

from edgesim.config.hardware import load_arch
from edgesim.errors import Infeasible
from edgesim.mapping import Dataflow
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.cache import FORMAT_VERSION, CachedSearcher, ScheduleCache, cache_key
from edgesim.search.exhaustive import ExhaustiveSearcher
from edgesim.search.fixed import FixedSearcher


class Counting:
    """A searcher that counts its calls (wraps exhaustive search)."""

    name = "counting"

    def __init__(self):
        self.calls = 0
        self.inner = ExhaustiveSearcher()

    def settings(self):
        return {"searcher": self.name}

    def best(self, arch, op):
        self.calls += 1
        return self.inner.best(arch, op)


OP = Gemm(name="a", m=48, n=40, k=24)


def test_round_trip_and_one_search_per_signature(tmp_path, small_arch):
    inner = Counting()
    s = CachedSearcher(inner, ScheduleCache(tmp_path))
    first = s.best(small_arch, OP)
    again = s.best(small_arch, Gemm(name="b", m=48, n=40, k=24))  # same signature, other name
    assert inner.calls == 1
    assert isinstance(first, SearchResult) and isinstance(again, SearchResult)
    assert again.cached and again.mapping == first.mapping and again.cost.op.name == "b"
    # a fresh process (new cache object) reads the file
    inner2 = Counting()
    fresh = CachedSearcher(inner2, ScheduleCache(tmp_path)).best(small_arch, OP)
    assert inner2.calls == 0
    assert isinstance(fresh, SearchResult) and fresh.mapping == first.mapping
    assert fresh.cost.total_cycles == first.cost.total_cycles
    assert not list(tmp_path.glob("*.tmp"))  # no temporary files left behind
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_key_depends_on_signature_arch_and_settings(small_arch):
    other_arch = load_arch(None, ["pe_array.rows=8"])
    k = cache_key(small_arch, OP, {"s": 1})
    assert k == cache_key(small_arch, Gemm(name="zzz", m=48, n=40, k=24), {"s": 1})
    assert k != cache_key(small_arch, Gemm(name="a", m=48, n=40, k=24, b_bits=4), {"s": 1})
    assert k != cache_key(other_arch, OP, {"s": 1})
    assert k != cache_key(small_arch, OP, {"s": 2})


def test_corrupt_files_are_misses_and_get_rewritten(tmp_path, small_arch):
    settings = {"searcher": "counting"}
    path = ScheduleCache(tmp_path).path(cache_key(small_arch, OP, settings))
    tmp_path.mkdir(exist_ok=True)
    for garbage in ("{not json", json.dumps({"version": FORMAT_VERSION, "key": "wrong"}),
                    json.dumps({"version": FORMAT_VERSION - 1, "key": path.stem}),
                    json.dumps({"version": FORMAT_VERSION, "key": path.stem, "result": {"mapping": {"dataflow": "xx"}}}),
                    "\x00\xff"):
        path.write_text(garbage, encoding="latin-1")
        cache = ScheduleCache(tmp_path)
        inner = Counting()
        res = CachedSearcher(inner, cache).best(small_arch, OP)
        assert inner.calls == 1 and cache.corrupt == 1
        assert isinstance(res, SearchResult)
        assert json.loads(path.read_text(encoding="utf-8"))["key"] == path.stem  # rewritten whole


def test_interrupted_write_leaves_no_partial_file(tmp_path, small_arch, monkeypatch):
    cache = ScheduleCache(tmp_path)
    res = ExhaustiveSearcher().best(small_arch, OP)

    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("edgesim.search.cache.os.replace", boom)
    with contextlib.suppress(KeyboardInterrupt):
        cache.put(small_arch, OP, {"x": 1}, res)
    assert list(tmp_path.iterdir()) == []
    assert ScheduleCache(tmp_path).get(small_arch, OP, {"x": 1}) is None


def test_infeasible_is_cached(tmp_path):
    arch = load_arch(None, ["global_buffer.capacity_kib=0.001"])
    FixedSearcher(Dataflow.OS)  # noqa: B018 - constructing is enough to check the import path
    inner = Counting()
    first = CachedSearcher(inner, ScheduleCache(tmp_path)).best(arch, OP)
    second = CachedSearcher(inner, ScheduleCache(tmp_path)).best(arch, OP)
    assert isinstance(first, Infeasible) and isinstance(second, Infeasible)
    assert inner.calls == 1 and second.reason == first.reason
