"""Resolve a user's file argument: a path, or the name of a built-in file in one of the project's folders."""

from __future__ import annotations

from pathlib import Path

from edgesim import schema as s
from edgesim.errors import ConfigError, Problem


def resolve(name_or_path: str, directory: Path, what: str) -> Path:
    """A path to a YAML file, or the stem of a YAML file in `directory`; else an error with a did-you-mean."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    candidate = directory / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    known = sorted(f.stem for f in directory.glob("*.yaml"))
    raise ConfigError(Problem(source=name_or_path, path="",
                              message=f"no such file, and no built-in {what} of that name{s.suggest(name_or_path, known)}"))
