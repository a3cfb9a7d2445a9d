"""Mappings files: the per-op mappings `edgesim schedule -o FILE` writes and `edgesim simulate --mappings FILE` reads.

JSON, versioned: {"version", "hardware", "hardware_fingerprint", "searcher", "mappings": [{"name", "signature",
"mapping"}]}, where "signature" is the op's signature (`search.cache.signature_key`) and "mapping" a mapping dict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgesim.arch import ArchSpec
from edgesim.config.files import read_text
from edgesim.errors import ConfigError, Problem
from edgesim.mapping import Mapping
from edgesim.ops import Gemm
from edgesim.search.cache import mapping_from_dict, mapping_to_dict, signature_key

MAPPINGS_VERSION = 1


def write_mappings(path: str | Path, arch: ArchSpec, searcher: str, chosen: Sequence[tuple[Gemm, Mapping]]) -> None:
    data = {"version": MAPPINGS_VERSION, "hardware": arch.name, "hardware_fingerprint": arch.fingerprint(),
            "searcher": searcher,
            "mappings": [{"name": op.name, "signature": signature_key(op), "mapping": mapping_to_dict(m)} for op, m in chosen]}
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


@dataclass(frozen=True, slots=True)
class MappingsFile:
    """A mappings file as read: where it came from, the hardware it was scheduled for, and its entries."""

    source: str
    hardware: str
    fingerprint: str
    entries: tuple[tuple[str, str, Mapping], ...]  # (op name, op signature, mapping), in file order

    def by_signature(self) -> dict[str, Mapping]:
        return {sig: m for _, sig, m in self.entries}


def load_mappings(path: str | Path) -> MappingsFile:
    """A mappings file written by `write_mappings`; a malformed file or entry is a ConfigError naming it."""
    p = Path(path)
    text = read_text(p)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(Problem(source=str(p), path="", message=f"not valid JSON: {exc}")) from None
    if not isinstance(data, dict) or data.get("version") != MAPPINGS_VERSION or not isinstance(data.get("mappings"), list):
        raise ConfigError(Problem(source=str(p), path="", message=f"expected an edgesim schedule mappings file "
                                  f"(version {MAPPINGS_VERSION}, a 'mappings' list)"))
    problems = []
    if not isinstance(data.get("hardware_fingerprint"), str):
        problems.append(Problem(source=str(p), path="hardware_fingerprint",
                                message=f"expected the fingerprint of the hardware the mappings were scheduled for, "
                                        f"got {data.get('hardware_fingerprint')!r}"))
    entries = []
    for i, entry in enumerate(data["mappings"]):
        try:
            entries.append((str(entry["name"]), str(entry["signature"]), mapping_from_dict(entry["mapping"])))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(Problem(source=str(p), path=f"mappings[{i}]", message=f"malformed entry: {exc}"))
    if problems:
        raise ConfigError(problems)
    return MappingsFile(source=str(p), hardware=str(data.get("hardware", "?")), fingerprint=data["hardware_fingerprint"],
                        entries=tuple(entries))


def match_mappings(mf: MappingsFile, arch: ArchSpec, ops: Sequence[Gemm], *, force: bool = False,
                   flag: str = "--mappings") -> tuple[dict[str, Mapping], list[str]]:
    """The file's mapping for each op, keyed by op name, and the names of the ops no entry matches.

    An entry matches an op by name when it was written for the same signature (shape, batch, bit widths, sparsity),
    else by signature alone. Mappings scheduled for other hardware, or an entry whose op changed since, are errors
    unless `force`: the mapping would be applied to something it was not chosen for."""
    problems = []
    if mf.fingerprint != arch.fingerprint():
        problems.append(Problem(source=mf.source, path="hardware_fingerprint", message=(
            f"scheduled for {mf.hardware} ({mf.fingerprint[:12]}), but this run's hardware is {arch.name} "
            f"({arch.fingerprint()[:12]}); schedule again for it (edgesim schedule -o), or add --force")))
    by_name = {name: (sig, m) for name, sig, m in mf.entries}
    by_sig = mf.by_signature()
    chosen: dict[str, Mapping] = {}
    unmatched = []
    for op in ops:
        sig = signature_key(op)
        if op.name in by_name and by_name[op.name][0] != sig and sig not in by_sig:
            problems.append(Problem(source=mf.source, path=f"mappings[{op.name}]", message=(
                f"was written for another op of that name (signature {by_name[op.name][0]}; this run's is {sig}); "
                "schedule again, or add --force")))
        if op.name in by_name and (by_name[op.name][0] == sig or force):
            chosen[op.name] = by_name[op.name][1]
        elif sig in by_sig:
            chosen[op.name] = by_sig[sig]
        else:
            unmatched.append(op.name)
    if problems and not force:
        raise ConfigError(problems)
    return chosen, unmatched
