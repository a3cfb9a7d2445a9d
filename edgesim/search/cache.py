"""The schedule cache: search results on disk, one JSON file per (op signature, arch fingerprint, searcher settings).

Units: as in the cost model (cycles, pJ, bytes); wall time in seconds.

The key hashes the record format (`FORMAT_VERSION`), the cost model's version (`COST_MODEL_VERSION`), the op's
signature (shape, batch, bit widths, weight density and format, not its name),
`ArchSpec.fingerprint()` and the searcher's `settings()`, so a 32-layer model searches each distinct op once,
a second run only reads files, and a change of the cost model never serves a stale mapping (the old entries are
simply never looked up again). The edgesim package version is not part of the key: `edgesim.__version__` lives in
the top-level package, which imports every layer above this one.

Nothing read from disk is trusted. Before an entry is used it must pass `check_record`:
- the record names this key, op signature, arch fingerprint, settings, format and cost-model versions;
- a stored mapping is legal for the op (a known dataflow and loop order, integer tiles in 1..dim, a boolean
  double-buffer flag), fits the hardware (`edgesim.cost.model.fits`), and its stored cycles and energy equal a
  re-evaluation with `evaluate_one` (the returned cost is that re-evaluation);
- a stored "infeasible" is credible only if no 1x1x1 single-buffered mapping of any dataflow fits (the buffer or
  the registers are too small). Otherwise the op is searched again: if that search also finds nothing (e.g. a
  fixed-dataflow baseline, which never single-buffers) the record was right; if it finds a mapping, it was not.
An entry that is unreadable or fails a check counts as `corrupt` and a miss: the inner searcher recomputes it and
the file is rewritten. The failures are counted and reported in ONE warning per cache object (by `close()`, or
when the cache is garbage-collected or the process exits), naming the directory, the first bad file and what was
wrong with it. A cache directory that cannot be written (read-only, an existing file, a path under a file) gives
one warning at the first failed write; the run goes on without saving to it (entries already there are still read
and checked). A directory that does not exist is just a miss.

Writes go to a temporary file in the same directory and are renamed into place, so a reader sees either no file
or a whole one, even with concurrent or interrupted writers.

The directory is an explicit argument (default `~/.cache/edgesim/schedules`); no environment variable is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from edgesim.arch import ArchSpec
from edgesim.cost.model import COST_MODEL_VERSION, evaluate_one, fits
from edgesim.errors import Infeasible
from edgesim.mapping import DATAFLOWS, Dataflow, Mapping
from edgesim.ops import Gemm
from edgesim.search.base import Searcher, SearchResult

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "edgesim" / "schedules"
# 2: the latency band's pool keeps every in-band candidate; entries of version 1 could hold a band answer that the
# old per-offer truncation chose, so they are searched again
# 3: the key and the record hold the cost model's version; a result stores its energy beside its cycles, and every
# entry is checked before use (see the module docstring)
FORMAT_VERSION = 3
# a stored cost must equal the re-evaluation to this relative precision (the vectorised and the scalar cost model
# give identical numbers; this only absorbs a last-bit difference, never a real edit)
COST_RTOL = 1e-9


class InvalidEntry(ValueError):
    """A cache record that must not be used; the message says what was wrong with it."""


class NeedsSearch(InvalidEntry):
    """A record that may be right but cannot be shown so without searching again (an "infeasible" for an op whose
    smallest single-buffered mapping fits): it is wrong only if the search finds a mapping."""


def signature_key(op: Gemm) -> str:
    """The op's signature as a JSON string (a stable dict key, independent of the op's name)."""
    return json.dumps(list(op.signature()), default=list)


def mapping_to_dict(m: Mapping) -> dict[str, Any]:
    return {"dataflow": str(m.dataflow), "tile_m": m.tile_m, "tile_n": m.tile_n, "tile_k": m.tile_k,
            "dram_order": m.dram_order, "double_buffer": m.double_buffer}


def mapping_from_dict(d: Any) -> Mapping:
    """Inverse of `mapping_to_dict`; raises ValueError, KeyError or TypeError on malformed input."""
    if not isinstance(d, dict):
        raise TypeError(f"expected a mapping object, got {d!r}")
    tiles = [d["tile_m"], d["tile_n"], d["tile_k"]]
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in tiles) or not isinstance(d["double_buffer"], bool):
        raise TypeError(f"tiles must be integers and double_buffer a boolean, got {d!r}")
    return Mapping(dataflow=Dataflow(d["dataflow"]), tile_m=tiles[0], tile_n=tiles[1], tile_k=tiles[2],
                   dram_order=str(d["dram_order"]), double_buffer=d["double_buffer"])


def _plain(x: object) -> Any:
    """`x` as it reads back from the JSON a record stores it in."""
    return json.loads(json.dumps(x, sort_keys=True, default=str))


def cache_key(arch: ArchSpec, op: Gemm, settings: dict[str, object]) -> str:
    blob = json.dumps({"version": FORMAT_VERSION, "cost_model": COST_MODEL_VERSION, "op": signature_key(op),
                       "arch": arch.fingerprint(), "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def smallest_mappings(op: Gemm) -> list[Mapping]:
    """The least buffer any mapping of `op` needs: 1x1x1 tiles, single-buffered, one per dataflow."""
    return [Mapping(dataflow=df, tile_m=1, tile_n=1, tile_k=1, double_buffer=False) for df in DATAFLOWS]


def _short(x: object, limit: int = 80) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _number(r: dict[str, Any], name: str) -> float:
    v = r[name]
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
        raise InvalidEntry(f"{name} is not a non-negative number: {v!r}")
    return float(v)


def check_record(raw: Any, key: str, arch: ArchSpec, op: Gemm, settings: dict[str, object]) -> SearchResult | Infeasible:
    """The entry `raw` (a parsed record) as a result for `op` on `arch`, or `InvalidEntry` saying why it must not be
    used. A returned `Infeasible` is credible on its own (see the module docstring); an infeasible record that may
    be wrong raises `NeedsSearch`."""
    if not isinstance(raw, dict):
        raise InvalidEntry("the record is not a JSON object")
    expected = {"version": FORMAT_VERSION, "key": key, "cost_model_version": COST_MODEL_VERSION,
                "op_signature": signature_key(op), "arch_fingerprint": arch.fingerprint(), "settings": _plain(settings)}
    for name, want in expected.items():
        if raw.get(name) != want:
            raise InvalidEntry(f"its {name} is {_short(raw.get(name))}, expected {_short(want)}")
    if ("infeasible" in raw) == ("result" in raw):
        raise InvalidEntry("the record must hold exactly one of 'result' and 'infeasible'")
    if "infeasible" in raw:
        reason = raw["infeasible"]
        if not isinstance(reason, str) or not reason:
            raise InvalidEntry(f"the infeasible reason is not a non-empty string: {reason!r}")
        fitting = [m for m in smallest_mappings(op) if fits(arch, op, m)]
        if fitting:
            raise NeedsSearch(f"it says infeasible ({reason}) but {fitting[0].describe()} fits")
        return Infeasible(reason)
    r = raw["result"]
    if not isinstance(r, dict):
        raise InvalidEntry("its result is not a JSON object")
    try:
        mapping = mapping_from_dict(r["mapping"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEntry(f"its mapping is not a legal mapping ({exc})") from exc
    for name, tile, dim in (("tile_m", mapping.tile_m, op.m), ("tile_n", mapping.tile_n, op.n),
                            ("tile_k", mapping.tile_k, op.k)):
        if tile > dim:
            raise InvalidEntry(f"its {name} {tile} exceeds the op's dim {dim}")
    if not fits(arch, op, mapping):
        raise InvalidEntry(f"its mapping {mapping.describe()} does not fit the hardware")
    cost = evaluate_one(arch, op, mapping)
    if isinstance(cost, Infeasible):  # unreachable while `fits` agrees with the cost model
        raise InvalidEntry(f"its mapping {mapping.describe()} cannot run: {cost.reason}")
    for name, fresh in (("total_cycles", cost.total_cycles), ("energy_pj", cost.energy_pj)):
        stored = _number(r, name)
        if not math.isclose(stored, fresh, rel_tol=COST_RTOL):
            raise InvalidEntry(f"its stored {name} {stored:,.6g} differs from the cost model's {fresh:,.6g} for "
                               f"{mapping.describe()}")
    searcher = r["searcher"]
    candidates = r["candidates"]
    if not isinstance(searcher, str) or not isinstance(candidates, int) or isinstance(candidates, bool) or candidates < 0:
        raise InvalidEntry(f"its searcher {searcher!r} or candidate count {candidates!r} is malformed")
    return SearchResult(mapping=mapping, cost=cost, searcher=searcher, wall_seconds=_number(r, "wall_seconds"),
                        candidates=candidates, cached=True)


@dataclass
class _Report:
    """The entries of one cache that failed their check, reported in one warning (kept apart from the cache so a
    finalizer can report them without keeping the cache alive)."""

    directory: Path
    failed: list[tuple[Path, str]] = field(default_factory=list)
    unsaved: int = 0  # failed entries that could not be rewritten

    def warn(self) -> None:
        if not self.failed:
            return
        n = len(self.failed)
        path, why = self.failed[0]
        what = "entry" if n == 1 else "entries"
        verbs = "failed its check and was" if n == 1 else "failed their check and were"
        rewritten = ("and rewritten" if not self.unsaved else "but not rewritten" if self.unsaved >= n
                     else f"and {n - self.unsaved} of them rewritten")
        log.warning("%d schedule-cache %s in %s %s recomputed %s (first: %s: %s)",
                    n, what, self.directory, verbs, rewritten, path, why)
        self.failed.clear()
        self.unsaved = 0


@dataclass
class ScheduleCache:
    directory: Path = DEFAULT_CACHE_DIR
    hits: int = 0
    misses: int = 0
    corrupt: int = 0  # entries present but unusable: unreadable, or failing their check (then recomputed)
    _memory: dict[str, SearchResult | Infeasible] = field(default_factory=dict)
    writable: bool = field(default=True, init=False)  # False after a write failed: nothing more is written
    _pending: dict[str, tuple[Path, str]] = field(default_factory=dict, init=False, repr=False)
    _failed_keys: set[str] = field(default_factory=set, init=False, repr=False)  # rejected, not yet rewritten
    _report: _Report = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._report = _Report(self.directory)
        weakref.finalize(self, self._report.warn)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    @property
    def failed(self) -> int:
        """Entries that failed their check and are not yet reported (see `close`)."""
        return len(self._report.failed)

    def close(self) -> None:
        """Log the one warning about entries that failed their check, if any (also done when the cache is
        garbage-collected, or at exit)."""
        self._report.warn()

    def _reject(self, key: str, path: Path, why: str) -> None:
        self.corrupt += 1
        self._failed_keys.add(key)
        self.misses += 1
        self._report.failed.append((path, why))
        log.info("schedule cache: %s failed its check (%s); recomputing it", path, why)

    def get(self, arch: ArchSpec, op: Gemm, settings: dict[str, object]) -> SearchResult | Infeasible | None:
        key = cache_key(arch, op, settings)
        if key in self._memory:
            self.hits += 1
            return _renamed(self._memory[key], arch, op)
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):  # no entry, or no directory (or a file in its place)
            self.misses += 1
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self._reject(key, path, f"unreadable ({exc})")
            return None
        try:
            out = check_record(json.loads(text), key, arch, op, settings)
        except json.JSONDecodeError as exc:
            self._reject(key, path, f"not valid JSON ({exc})")
            return None
        except NeedsSearch as exc:  # judged by `put`, when the search's answer is known
            self.misses += 1
            self._pending[key] = (path, str(exc))
            return None
        except InvalidEntry as exc:
            self._reject(key, path, str(exc))
            return None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._reject(key, path, f"malformed record ({type(exc).__name__}: {exc})")
            return None
        self.hits += 1
        self._memory[key] = out
        return out

    def put(self, arch: ArchSpec, op: Gemm, settings: dict[str, object], result: SearchResult | Infeasible) -> None:
        key = cache_key(arch, op, settings)
        self._memory[key] = result
        pending = self._pending.pop(key, None)
        if pending is not None and not isinstance(result, Infeasible):  # the stored "infeasible" was wrong
            self.corrupt += 1
            self._failed_keys.add(key)
            self._report.failed.append((pending[0], f"{pending[1]}, and the search chose {result.mapping.describe()}"))
        record: dict[str, Any] = {"version": FORMAT_VERSION, "key": key, "cost_model_version": COST_MODEL_VERSION,
                                  "op_signature": signature_key(op), "arch_fingerprint": arch.fingerprint(),
                                  "settings": settings}
        if isinstance(result, Infeasible):
            record["infeasible"] = result.reason
        else:
            record["result"] = {"mapping": mapping_to_dict(result.mapping), "searcher": result.searcher,
                                "wall_seconds": result.wall_seconds, "candidates": result.candidates,
                                "total_cycles": result.cost.total_cycles, "energy_pj": result.cost.energy_pj}
        if self.writable:
            try:
                self._write(key, record)
                self._failed_keys.discard(key)
                return
            except OSError as exc:
                self.writable = False
                why = "it is a file, not a directory" if self.directory.is_file() else \
                    f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
                log.warning("schedule cache %s cannot be written (%s); continuing without saving to it",
                            self.directory, why)
        if key in self._failed_keys:
            self._failed_keys.discard(key)
            self._report.unsaved += 1

    def _write(self, key: str, record: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f, indent=1, default=str)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _renamed(res: SearchResult | Infeasible, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
    """A remembered result for an op of the same signature, costed under this op (its name may differ)."""
    if isinstance(res, Infeasible) or res.cost.op == op:
        return res if isinstance(res, Infeasible) else replace(res, cached=True)
    cost = evaluate_one(arch, op, res.mapping)
    return cost if isinstance(cost, Infeasible) else replace(res, cost=cost, cached=True)


class CachedSearcher:
    """A searcher whose answers are looked up in (and stored to) a `ScheduleCache` first. As a context manager it
    reports the cache's failed entries on exit (`ScheduleCache.close`)."""

    def __init__(self, inner: Searcher, cache: ScheduleCache):
        self.inner, self.cache = inner, cache
        self.name = inner.name

    def settings(self) -> dict[str, object]:
        return self.inner.settings()

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        settings = self.inner.settings()
        hit = self.cache.get(arch, op, settings)
        if hit is not None:
            return hit
        res = self.inner.best(arch, op)
        self.cache.put(arch, op, settings, res)
        return res

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> CachedSearcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
