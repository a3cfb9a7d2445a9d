"""The on-disk schedule cache: round trip, key sensitivity, corruption, atomic writes, the check of every entry
before use (tampered entries are recomputed, rewritten and reported in one warning) and unwritable caches."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import subprocess
import sys

import pytest

from edgesim.config.hardware import load_arch
from edgesim.cost.model import COST_MODEL_VERSION
from edgesim.errors import Infeasible
from edgesim.mapping import Dataflow
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.cache import FORMAT_VERSION, CachedSearcher, ScheduleCache, cache_key, mapping_to_dict
from edgesim.search.exhaustive import ExhaustiveSearcher
from edgesim.search.fixed import FixedSearcher


class Counting:
    """A searcher that counts its calls (wraps exhaustive search, or the searcher given)."""

    name = "counting"

    def __init__(self, inner=None):
        self.calls = 0
        self.inner = inner or ExhaustiveSearcher()

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


def test_infeasible_is_cached(tmp_path, caplog):
    arch = load_arch(None, ["global_buffer.capacity_kib=0.001"])  # not even a 1x1x1 tile fits: credible on its own
    inner = Counting()
    first = CachedSearcher(inner, ScheduleCache(tmp_path)).best(arch, OP)
    cache = ScheduleCache(tmp_path)
    with CachedSearcher(inner, cache) as s:
        second = s.best(arch, OP)
    assert isinstance(first, Infeasible) and isinstance(second, Infeasible)
    assert inner.calls == 1 and second.reason == first.reason and cache.corrupt == 0
    assert warnings_about(caplog, tmp_path) == []


def warnings_about(caplog, directory):
    """The warnings that name `directory` (a finalizer of another test's cache cannot leak into them)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and str(directory) in r.getMessage()]


def warm(tmp_path, arch, op):
    """Search `op` once through a cache in `tmp_path`; (its file, the record it holds, the uncached answer)."""
    cold = Counting().best(arch, op)
    CachedSearcher(Counting(), ScheduleCache(tmp_path)).best(arch, op)
    path = ScheduleCache(tmp_path).path(cache_key(arch, op, Counting().settings()))
    return path, json.loads(path.read_text(encoding="utf-8")), cold


def _other_dataflow(r):  # a legal, fitting mapping of another dataflow, with the old mapping's cost
    m = r["result"]["mapping"]
    m["dataflow"] = next(d for d in ("os", "ws", "is") if d != m["dataflow"])


def _smaller_tile(r):  # a smaller tile (it fits), with the old cost
    r["result"]["mapping"]["tile_k"] = 1


def _cycles_edited(r):
    r["result"]["total_cycles"] *= 0.5


def _energy_edited(r):
    r["result"]["energy_pj"] *= 0.9


def _claims_infeasible(r):  # "infeasible" for an op that fits
    del r["result"]
    r["infeasible"] = "a 1x1x1 tile needs 12 B but global_buffer holds 1 B"


def _does_not_fit(r):  # the whole op as one double-buffered tile: far beyond the 2 KiB buffer
    r["result"]["mapping"].update(tile_m=OP.m, tile_n=OP.n, tile_k=OP.k, double_buffer=True)


def _tile_beyond_dim(r):
    r["result"]["mapping"]["tile_m"] = OP.m + 1


def _no_energy(r):
    del r["result"]["energy_pj"]


TAMPERED = [(_other_dataflow, "differs from the cost model"), (_smaller_tile, "differs from the cost model"),
            (_cycles_edited, "stored total_cycles"), (_energy_edited, "stored energy_pj"),
            (_claims_infeasible, "says infeasible"), (_does_not_fit, "does not fit the hardware"),
            (_tile_beyond_dim, "exceeds the op's dim"), (_no_energy, "energy_pj")]


@pytest.mark.parametrize(("tamper", "why"), TAMPERED, ids=[t.__name__.strip("_") for t, _ in TAMPERED])
def test_tampered_entry_is_recomputed_rewritten_and_reported_once(tmp_path, small_arch, caplog, tamper, why):
    path, record, cold = warm(tmp_path, small_arch, OP)
    assert isinstance(cold, SearchResult)
    tamper(record)
    tampered = json.dumps(record)
    path.write_text(tampered, encoding="utf-8")
    inner, cache = Counting(), ScheduleCache(tmp_path)
    with CachedSearcher(inner, cache) as s:
        res = s.best(small_arch, OP)
        s.best(small_arch, Gemm(name="b", m=OP.m, n=OP.n, k=OP.k))  # remembered: no second search, no second count
        assert warnings_about(caplog, tmp_path) == []  # reported once, at the end
    assert inner.calls == 1 and cache.corrupt == 1
    assert isinstance(res, SearchResult) and not res.cached
    assert res.mapping == cold.mapping and res.cost == cold.cost  # what a cold search gives
    text = path.read_text(encoding="utf-8")
    rewritten = json.loads(text)
    assert text != tampered and rewritten["result"]["mapping"] == mapping_to_dict(cold.mapping)
    assert rewritten["result"]["total_cycles"] == cold.cost.total_cycles
    assert rewritten["result"]["energy_pj"] == cold.cost.energy_pj
    (msg,) = warnings_about(caplog, tmp_path)
    assert msg.startswith(f"1 schedule-cache entry in {tmp_path} failed its check and was recomputed and rewritten")
    assert str(path) in msg and why in msg
    # the rewritten entry is a clean hit in the next run
    inner2, cache2 = Counting(), ScheduleCache(tmp_path)
    with CachedSearcher(inner2, cache2) as s2:
        hit = s2.best(small_arch, OP)
    assert inner2.calls == 0 and cache2.corrupt == 0 and isinstance(hit, SearchResult) and hit.cost == cold.cost
    assert len(warnings_about(caplog, tmp_path)) == 1


def test_one_warning_counts_every_failed_entry(tmp_path, small_arch, caplog):
    ops = [Gemm(name=f"g{i}", m=8 * (i + 1), n=16, k=8) for i in range(4)]
    s = CachedSearcher(Counting(), ScheduleCache(tmp_path))
    colds = [s.best(small_arch, op) for op in ops]
    paths = [s.cache.path(cache_key(small_arch, op, s.settings())) for op in ops]
    for p in paths[:3]:
        r = json.loads(p.read_text(encoding="utf-8"))
        r["result"]["total_cycles"] += 1
        p.write_text(json.dumps(r), encoding="utf-8")
    paths[3].write_text("{truncated", encoding="utf-8")
    inner, cache = Counting(), ScheduleCache(tmp_path)
    s = CachedSearcher(inner, cache)
    got = [s.best(small_arch, op) for op in ops]
    assert inner.calls == 4 and cache.corrupt == 4 and cache.failed == 4
    assert [(g.mapping, g.cost) for g in got] == [(c.mapping, c.cost) for c in colds]
    assert warnings_about(caplog, tmp_path) == []
    del s, cache  # as when a CLI run returns: the cache's finalizer reports
    gc.collect()
    (msg,) = warnings_about(caplog, tmp_path)
    assert msg.startswith(f"4 schedule-cache entries in {tmp_path} failed their check and were recomputed and "
                          f"rewritten (first: {paths[0]}: its stored total_cycles")


def test_infeasible_that_only_a_search_can_confirm_is_not_reported(tmp_path, caplog):
    # a 1x1x1 tile fits single-buffered (12 B) but not double-buffered (24 B) in 10 B; the fixed baselines never
    # single-buffer, so "infeasible" is their right answer, which the cache confirms by searching again
    arch = load_arch(None, ["global_buffer.capacity_kib=0.01"])
    inner = Counting(FixedSearcher(Dataflow.WS))
    first = CachedSearcher(inner, ScheduleCache(tmp_path)).best(arch, OP)
    cache = ScheduleCache(tmp_path)
    with CachedSearcher(inner, cache) as s:
        second = s.best(arch, OP)
    assert isinstance(first, Infeasible) and isinstance(second, Infeasible)
    assert inner.calls == 2 and cache.corrupt == 0
    assert warnings_about(caplog, tmp_path) == []


@pytest.mark.parametrize("constant", ["COST_MODEL_VERSION", "FORMAT_VERSION"])
def test_versions_are_in_the_key_and_old_entries_are_plain_misses(tmp_path, small_arch, caplog, monkeypatch, constant):
    key = cache_key(small_arch, OP, {"s": 1})
    path, _, cold = warm(tmp_path, small_arch, OP)
    value = {"COST_MODEL_VERSION": COST_MODEL_VERSION, "FORMAT_VERSION": FORMAT_VERSION}[constant]
    monkeypatch.setattr(f"edgesim.search.cache.{constant}", value + 1)
    assert cache_key(small_arch, OP, {"s": 1}) != key
    inner, cache = Counting(), ScheduleCache(tmp_path)
    with CachedSearcher(inner, cache) as s:
        res = s.best(small_arch, OP)
    assert inner.calls == 1 and cache.corrupt == 0 and cache.misses == 1
    assert isinstance(res, SearchResult) and res.mapping == cold.mapping
    assert len(list(tmp_path.glob("*.json"))) == 2 and path.exists()  # the old entry is left alone
    assert json.loads(next(p for p in tmp_path.glob("*.json") if p != path).read_text())[
        "cost_model_version" if constant == "COST_MODEL_VERSION" else "version"] == value + 1
    assert warnings_about(caplog, tmp_path) == []


def test_missing_directory_is_a_plain_miss(tmp_path, small_arch, caplog):
    directory = tmp_path / "a" / "b"
    cache = ScheduleCache(directory)
    assert cache.get(small_arch, OP, {"x": 1}) is None and cache.misses == 1 and cache.corrupt == 0
    with CachedSearcher(Counting(), cache) as s:
        assert isinstance(s.best(small_arch, OP), SearchResult)
    assert len(list(directory.glob("*.json"))) == 1 and cache.writable
    assert warnings_about(caplog, tmp_path) == []


def unwritable_dir(tmp_path, kind, request):
    if kind == "read-only" and os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o500)
        request.addfinalizer(lambda: d.chmod(0o700))
        return d
    # root writes through a read-only mode, so there a path under a regular file stands in (it fails for root too)
    (tmp_path / "f").write_text("a file\n", encoding="utf-8")
    return tmp_path / "f" if kind == "file" else tmp_path / "f" / "cache"


@pytest.mark.parametrize("kind", ["read-only", "file", "under-file"])
def test_unwritable_cache_warns_once_and_the_search_goes_on(tmp_path, small_arch, caplog, request, kind):
    directory = unwritable_dir(tmp_path, kind, request)
    ops = [OP, Gemm(name="c", m=16, n=8, k=8)]
    colds = [Counting().best(small_arch, op) for op in ops]
    inner, cache = Counting(), ScheduleCache(directory)
    with CachedSearcher(inner, cache) as s:
        got = [s.best(small_arch, op) for op in ops]
    assert [(g.mapping, g.cost) for g in got] == [(c.mapping, c.cost) for c in colds]
    assert inner.calls == 2 and not cache.writable and cache.corrupt == 0
    (msg,) = warnings_about(caplog, directory)
    assert msg.startswith(f"schedule cache {directory} cannot be written (") and "continuing without" in msg
    if kind != "read-only" or os.geteuid() == 0:
        assert (tmp_path / "f").read_text(encoding="utf-8") == "a file\n"
    else:
        assert list(directory.iterdir()) == []


def _edgesim(tmp_path, *argv):
    """`edgesim ARGV` in a subprocess (the tiny model's sequence is given: it must not exceed the model's maximum)."""
    env = {**os.environ, "HOME": str(tmp_path / "home")}  # the default cache must not be touched either
    return subprocess.run([sys.executable, "-m", "edgesim", *argv], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def test_cli_tune_with_a_file_as_cache_dir_warns_and_reports(tmp_path):
    f = tmp_path / "not-a-dir"
    f.write_text("keep\n", encoding="utf-8")
    proc = _edgesim(tmp_path, "tune", "--model", "tiny", "--method", "lora", "--seq", "64", "--cache-dir", str(f))
    assert proc.returncode == 0, proc.stderr
    assert "edgesim tune: tiny" in proc.stdout and "lora" in proc.stdout
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"schedule cache {f} cannot be written (it is a file, not a directory)")
    assert f.read_text(encoding="utf-8") == "keep\n"


def test_cli_tune_reports_tampered_entries_in_one_line(tmp_path):
    argv = ("tune", "--model", "tiny", "--method", "lora", "--seq", "64", "--cache-dir", str(tmp_path / "c"))
    cold = _edgesim(tmp_path, *argv)
    assert cold.returncode == 0 and cold.stderr == "", cold.stderr
    paths = sorted((tmp_path / "c").glob("*.json"))
    for p in paths:
        r = json.loads(p.read_text(encoding="utf-8"))
        if "result" in r:
            r["result"]["total_cycles"] *= 0.5
        p.write_text(json.dumps(r), encoding="utf-8")
    warm = _edgesim(tmp_path, *argv)
    assert warm.returncode == 0 and "Traceback" not in warm.stderr
    assert warm.stdout == cold.stdout  # the tampered cycles never reach the report
    (line,) = warm.stderr.splitlines()
    assert f"schedule-cache entries in {tmp_path / 'c'} failed their check and were recomputed and rewritten" in line
