"""A small declarative schema for user YAML: typed fields, ranges, defaults, did-you-mean.

Validation walks the parsed tree once and collects every problem (file, line, field path,
value, expectation) before anything is raised, so a user fixes a file in one pass.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edgesim.config.yaml_source import LineDict
from edgesim.errors import Problem

Checker = Callable[[Any], tuple[bool, Any]]


@dataclass(frozen=True, slots=True)
class Field:
    """A leaf: `check` returns (ok, converted value); `expected` says what is allowed."""

    check: Checker
    expected: str
    required: bool = True
    default: Any = None
    doc: str = ""


Schema = Mapping[str, "Field | Section"]


@dataclass(frozen=True, slots=True)
class Section:
    """A nested mapping. An optional section that is absent takes its fields' defaults."""

    fields: Schema
    required: bool = True
    doc: str = ""
    extra: Checker | None = field(default=None)  # optional whole-section check


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def finite(v: Any) -> float | None:
    """`v` as a finite float; None for non-numbers, bools, infinities, NaN and integers beyond a float's range."""
    if not _is_number(v):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def positive_int(maximum: int | None = None) -> Checker:
    """An integer >= 1 (and <= `maximum`, if given)."""
    return lambda v: (isinstance(v, int) and not isinstance(v, bool) and v > 0 and (maximum is None or v <= maximum), v)


def _at_most(unit: str, maximum: float) -> str:
    limit = f"{int(maximum):,}" if float(maximum).is_integer() else f"{maximum:,g}"
    return f"({unit + ', ' if unit else ''}at most {limit})"


def positive(maximum: float, unit: str = "", *, integer: bool = False, required: bool = True,
             default: Any = None) -> Field:
    """A field > 0 and <= `maximum` (an integer if `integer`), whose expectation names its unit and bound."""
    check = positive_int(int(maximum)) if integer else positive_float(maximum)
    kind = "a positive integer" if integer else "a positive number"
    return Field(check, f"{kind} {_at_most(unit, maximum)}", required=required, default=default)


def nonnegative(maximum: float, unit: str = "") -> Field:
    """A required field >= 0 and <= `maximum`, whose expectation names its unit and bound."""
    return Field(nonneg_float(maximum), f"a non-negative number {_at_most(unit, maximum)}")


def positive_float(maximum: float | None = None) -> Checker:
    """A finite number > 0 (and <= `maximum`, if given)."""

    def check(v: Any) -> tuple[bool, Any]:
        f = finite(v)
        return f is not None and f > 0 and (maximum is None or f <= maximum), v if f is None else f

    return check


def nonneg_float(maximum: float | None = None) -> Checker:
    """A finite number >= 0 (and <= `maximum`, if given)."""

    def check(v: Any) -> tuple[bool, Any]:
        f = finite(v)
        return f is not None and f >= 0 and (maximum is None or f <= maximum), v if f is None else f

    return check


def fraction() -> Checker:
    """A number in (0, 1]."""

    def check(v: Any) -> tuple[bool, Any]:
        f = finite(v)
        return f is not None and 0 < f <= 1, v if f is None else f

    return check


def string() -> Checker:
    return lambda v: (isinstance(v, str) and v.strip() != "", v)


def one_of(*choices: str) -> Checker:
    return lambda v: (isinstance(v, str) and v in choices, v)


def bits_table(max_bits: int, max_value: float) -> Checker:
    """A mapping {bit-width (integer in 1..max_bits): finite number in [0, max_value]}."""

    def check(v: Any) -> tuple[bool, Any]:
        if not isinstance(v, dict) or not v:
            return False, v
        out = {}
        for k, x in v.items():
            if isinstance(k, bool) or not isinstance(k, int | str) or not str(k).strip().isascii() \
                    or not str(k).strip().isdigit():
                return False, v
            bits, f = int(k), finite(x)
            if not 0 < bits <= max_bits or f is None or not 0 <= f <= max_value:
                return False, v
            out[bits] = f
        return True, tuple(sorted(out.items()))

    return check


def nm_patterns() -> Checker:
    """A list of 'N:M' strings with 0 < N < M, e.g. ['2:4', '1:4']."""

    def check(v: Any) -> tuple[bool, Any]:
        if not isinstance(v, list):
            return False, v
        out = []
        for item in v:
            parts = str(item).split(":")
            if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
                return False, v
            n, m = int(parts[0]), int(parts[1])
            if not 0 < n < m:
                return False, v
            out.append((n, m))
        return True, tuple(out)

    return check


def _line(node: Any, key: str) -> int | None:
    if isinstance(node, LineDict):
        return node.lines.get(key, node.start_line)
    return None


def suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{hint} (recognized keys: {', '.join(sorted(known))})"


def validate(node: Any, schema: Schema, *, source: str, path: str = "",
             problems: list[Problem], parent_line: int | None = None) -> dict[str, Any]:
    """Check `node` against `schema`; append every problem to `problems`; return cleaned values."""
    out: dict[str, Any] = {}
    if node is None:
        node = {}
    if not isinstance(node, dict):
        problems.append(Problem(source=source, path=path or "<top>", line=parent_line,
                                message=f"expected a mapping, got {node!r}"))
        return out
    for key in node:
        if key not in schema:
            problems.append(Problem(source=source, path=_join(path, key), line=_line(node, key),
                                    message=f"unknown key '{key}'{suggest(key, list(schema))}"))
    for key, spec in schema.items():
        p = _join(path, key)
        line = _line(node, key)
        if key not in node:
            if spec.required:
                what = spec.expected if isinstance(spec, Field) else "a mapping"
                problems.append(Problem(source=source, path=p, line=_line(node, key) if isinstance(node, LineDict) else parent_line,
                                        message=f"missing required field (expected {what})"))
            elif isinstance(spec, Field):
                out[key] = spec.default
            else:
                out[key] = validate({}, spec.fields, source=source, path=p, problems=problems, parent_line=line)
            continue
        value = node[key]
        if isinstance(spec, Section):
            out[key] = validate(value, spec.fields, source=source, path=p, problems=problems, parent_line=line)
        else:
            ok, converted = spec.check(value)
            if ok:
                out[key] = converted
            else:
                problems.append(Problem(source=source, path=p, line=line,
                                        message=f"expected {spec.expected}, got {value!r}"))
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def lookup(schema: Schema, dotted: str) -> tuple[Field | Section | None, str]:
    """Find the schema entry at a dotted path; on failure return (None, explanation)."""
    node: Field | Section = Section(schema)
    walked: list[str] = []
    for part in dotted.split("."):
        if isinstance(node, Field):
            # inside a table-valued field (e.g. mac.energy_pj_per_mac.4): the field checks the value
            return node, ""
        fields = node.fields
        if part not in fields:
            where = ".".join(walked) or "the top level"
            return None, f"no field '{part}' in {where}{suggest(part, list(fields))}"
        node = fields[part]
        walked.append(part)
    return node, ""
