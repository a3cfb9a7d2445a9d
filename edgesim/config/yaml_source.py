"""Read YAML while keeping line numbers and rejecting duplicate keys.

PyYAML silently keeps the last of two equal keys (yaml/pyyaml#165); a hardware file with two
`capacity_kib:` lines must be an error instead. Mappings load as `LineDict`, a dict that also
remembers the 1-based line of each key, so validators can point at the offending line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from edgesim.config.files import read_text
from edgesim.errors import ConfigError, Problem


class LineDict(dict[str, Any]):
    """A mapping from YAML, with `lines[key]` = the 1-based line where `key` appears."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[str, int] = {}
        self.start_line: int | None = None


def _loader_class(source: str, problems: list[Problem]) -> type[yaml.SafeLoader]:
    class _Loader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
            out = LineDict()
            out.start_line = node.start_mark.line + 1
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if not isinstance(key, str):
                    key = str(key)
                if key in out:
                    problems.append(Problem(source=source, path=key, line=line,
                                            message=f"duplicate key '{key}' (first defined on line {out.lines[key]})"))
                    continue
                out[key] = self.construct_object(value_node, deep=True)
                out.lines[key] = line
            return out

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
    return _Loader


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text; raise ConfigError naming `source` on syntax errors or duplicate keys."""
    problems: list[Problem] = []
    try:
        data = yaml.load(text, Loader=_loader_class(source, problems))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise ConfigError(Problem(source=source, path="", line=line, message=f"invalid YAML: {exc.problem}")) from None
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(source=source, path="", message=f"invalid YAML: {exc}")) from None
    if problems:
        raise ConfigError(problems)
    return data


def load_yaml(path: str | Path) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a ConfigError, not a traceback."""
    return parse_yaml(read_text(path), str(path))
