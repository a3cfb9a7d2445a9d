"""The schedule cache: search results on disk, one JSON file per (op signature, arch fingerprint, searcher settings).

Units: as in the cost model (cycles, pJ, bytes); wall time in seconds.

The key hashes the op's signature (shape, batch, bit widths, weight density and format, not its name),
`ArchSpec.fingerprint()` and the searcher's `settings()`, so a 32-layer model searches each distinct op once
and a second run only reads files. A stored mapping is re-costed with the exact cost model on load (costs are
never trusted from disk). Writes go to a temporary file in the same directory and are renamed into place,
so a reader sees either no file or a whole one, even with concurrent or interrupted writers; an unreadable
or inconsistent file counts as a miss and is overwritten by the next search.

The directory is an explicit argument (default `~/.cache/edgesim/schedules`); no environment variable is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgesim.arch import ArchSpec
from edgesim.cost.model import evaluate_one
from edgesim.errors import Infeasible
from edgesim.mapping import Dataflow, Mapping
from edgesim.ops import Gemm
from edgesim.search.base import Searcher, SearchResult

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "edgesim" / "schedules"
# 2: the latency band's pool keeps every in-band candidate; entries of version 1 could hold a band answer that the
# old per-offer truncation chose, so they are searched again
FORMAT_VERSION = 2


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


def cache_key(arch: ArchSpec, op: Gemm, settings: dict[str, object]) -> str:
    blob = json.dumps({"version": FORMAT_VERSION, "op": signature_key(op), "arch": arch.fingerprint(), "settings": settings},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass
class ScheduleCache:
    directory: Path = DEFAULT_CACHE_DIR
    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    _memory: dict[str, SearchResult | Infeasible] = field(default_factory=dict)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, arch: ArchSpec, op: Gemm, settings: dict[str, object]) -> SearchResult | Infeasible | None:
        key = cache_key(arch, op, settings)
        if key in self._memory:
            self.hits += 1
            return _renamed(self._memory[key], arch, op)
        try:
            raw = json.loads(self.path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            self.corrupt += 1
            self.misses += 1
            return None
        try:
            out = _decode(raw, key, arch, op)
        except (KeyError, TypeError, ValueError):
            out = None
        if out is None:
            self.corrupt += 1
            self.misses += 1
            return None
        self.hits += 1
        self._memory[key] = out
        return out

    def put(self, arch: ArchSpec, op: Gemm, settings: dict[str, object], result: SearchResult | Infeasible) -> None:
        key = cache_key(arch, op, settings)
        self._memory[key] = result
        record: dict[str, Any] = {"version": FORMAT_VERSION, "key": key, "op_signature": signature_key(op),
                                  "arch_fingerprint": arch.fingerprint(), "settings": settings}
        if isinstance(result, Infeasible):
            record["infeasible"] = result.reason
        else:
            record["result"] = {"mapping": mapping_to_dict(result.mapping), "searcher": result.searcher,
                                "wall_seconds": result.wall_seconds, "candidates": result.candidates,
                                "total_cycles": result.cost.total_cycles}
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


def _decode(raw: Any, key: str, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible | None:
    if not isinstance(raw, dict) or raw.get("version") != FORMAT_VERSION or raw.get("key") != key:
        return None
    if "infeasible" in raw:
        return Infeasible(str(raw["infeasible"]))
    r = raw["result"]
    mapping = mapping_from_dict(r["mapping"])
    cost = evaluate_one(arch, op, mapping)
    if isinstance(cost, Infeasible):  # stale: the stored mapping no longer fits
        return None
    return SearchResult(mapping=mapping, cost=cost, searcher=str(r["searcher"]), wall_seconds=float(r["wall_seconds"]),
                        candidates=int(r["candidates"]), cached=True)


def _renamed(res: SearchResult | Infeasible, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
    """A remembered result for an op of the same signature, costed under this op (its name may differ)."""
    if isinstance(res, Infeasible) or res.cost.op == op:
        return res if isinstance(res, Infeasible) else replace(res, cached=True)
    cost = evaluate_one(arch, op, res.mapping)
    return cost if isinstance(cost, Infeasible) else replace(res, cost=cost, cached=True)


class CachedSearcher:
    """A searcher whose answers are looked up in (and stored to) a `ScheduleCache` first."""

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
