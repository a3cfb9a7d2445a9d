"""Mappings files: the per-op mappings `edgesim schedule -o FILE` writes and `edgesim simulate --mappings FILE` reads.

JSON, versioned: {"version", "hardware", "hardware_fingerprint", "searcher", "mappings": [{"name", "signature",
"mapping"}]}, where "signature" is the op's signature (`search.cache.signature_key`) and "mapping" a mapping dict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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


def load_mappings(path: str | Path) -> dict[str, Mapping]:
    """Mappings written by `write_mappings`, keyed both by op name and by op signature."""
    p = Path(path)
    text = read_text(p)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(Problem(source=str(p), path="", message=f"not valid JSON: {exc}")) from None
    if not isinstance(data, dict) or data.get("version") != MAPPINGS_VERSION or not isinstance(data.get("mappings"), list):
        raise ConfigError(Problem(source=str(p), path="", message=f"expected an edgesim schedule mappings file "
                                  f"(version {MAPPINGS_VERSION}, a 'mappings' list)"))
    out: dict[str, Mapping] = {}
    problems = []
    for i, entry in enumerate(data["mappings"]):
        try:
            m = mapping_from_dict(entry["mapping"])
            out[str(entry["name"])] = m
            out[str(entry["signature"])] = m
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(Problem(source=str(p), path=f"mappings[{i}]", message=f"malformed entry: {exc}"))
    if problems:
        raise ConfigError(problems)
    return out
