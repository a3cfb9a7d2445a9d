"""GEMM-list workloads: a small YAML or CSV format, validated like the hardware files.

YAML:  name: ..., gemms: [{name, m, n, k, batch?, a_bits?, b_bits?, c_bits?, weight_density?,
       weight_format?, nm?}, ...]
CSV:   a header row with the same column names (name, m, n, k required).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgesim.arch import ArchSpec
from edgesim.config import schema as s
from edgesim.config.files import read_text
from edgesim.config.hardware import width_problem
from edgesim.config.yaml_source import LineDict, load_yaml
from edgesim.errors import ConfigError, Problem
from edgesim.ops import Gemm, WeightFormat


def _nm_pattern(v: Any) -> tuple[bool, Any]:
    ok, pats = s.nm_patterns()([v])
    return ok, pats[0] if ok else v


MAX_DIM = 1 << 20  # per GEMM dimension
MAX_BATCH = 1024

GEMM_SCHEMA: s.Schema = {
    "name": s.Field(s.string(), "a non-empty string"),
    "m": s.positive(MAX_DIM, integer=True),
    "n": s.positive(MAX_DIM, integer=True),
    "k": s.positive(MAX_DIM, integer=True),
    "batch": s.positive(MAX_BATCH, integer=True, required=False, default=1),
    "a_bits": s.positive(64, "bits", integer=True, required=False, default=8),
    "b_bits": s.positive(64, "bits", integer=True, required=False, default=8),
    "c_bits": s.positive(64, "bits", integer=True, required=False, default=8),
    "weight_density": s.Field(s.fraction(), "a number in (0, 1]", required=False, default=1.0),
    "weight_format": s.Field(s.one_of(*WeightFormat), f"one of {', '.join(WeightFormat)}",
                             required=False, default="dense"),
    "nm": s.Field(_nm_pattern, "an 'N:M' string with 0 < N < M, e.g. '2:4'", required=False, default=None),
}

FILE_SCHEMA: s.Schema = {
    "name": s.Field(s.string(), "a non-empty string", required=False, default=""),
    "description": s.Field(s.string(), "a string", required=False, default=""),
}


@dataclass(frozen=True, slots=True)
class GemmWorkload:
    name: str
    ops: tuple[Gemm, ...]
    source: str


def gemm_from_fields(v: dict[str, Any], *, source: str, path: str, line: int | None) -> Gemm:
    fmt = WeightFormat(v["weight_format"])
    density = v["weight_density"]
    if fmt == WeightFormat.NM and v["nm"] is not None and density == 1.0:
        density = v["nm"][0] / v["nm"][1]
    try:
        return Gemm(name=v["name"], m=v["m"], n=v["n"], k=v["k"], batch=v["batch"], a_bits=v["a_bits"],
                    b_bits=v["b_bits"], c_bits=v["c_bits"], weight_density=density, weight_format=fmt, nm=v["nm"])
    except ValueError as exc:
        raise ConfigError(Problem(source=source, path=path, line=line, message=str(exc))) from None


def _build_all(entries: list[Any], source: str, lines: list[int | None]) -> tuple[Gemm, ...]:
    problems: list[Problem] = []
    ops = []
    for i, entry in enumerate(entries):
        path = f"gemms[{i}]"
        v = s.validate(entry, GEMM_SCHEMA, source=source, path=path, problems=problems, parent_line=lines[i])
        if len(problems) == 0:
            try:
                ops.append(gemm_from_fields(v, source=source, path=path, line=lines[i]))
            except ConfigError as exc:
                problems += exc.problems
    if not entries:
        problems.append(Problem(source=source, path="gemms", message="expected at least one GEMM"))
    if problems:
        raise ConfigError(problems)
    return tuple(ops)


def load_gemm_workload(path: str | Path) -> GemmWorkload:
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return _load_csv(p)
    raw = load_yaml(p)
    problems: list[Problem] = []
    if not isinstance(raw, dict) or "gemms" not in raw:
        raise ConfigError(Problem(source=str(p), path="gemms", message="missing required field (expected a list of GEMMs)"))
    header = {k: v for k, v in raw.items() if k != "gemms"}
    meta = s.validate(LineDict(header), FILE_SCHEMA, source=str(p), problems=problems)
    entries = raw["gemms"]
    if not isinstance(entries, list):
        problems.append(Problem(source=str(p), path="gemms", line=raw.lines.get("gemms") if isinstance(raw, LineDict) else None,
                                message=f"expected a list of GEMMs, got {entries!r}"))
    if problems:
        raise ConfigError(problems)
    lines = [e.start_line if isinstance(e, LineDict) else None for e in entries]
    return GemmWorkload(name=meta["name"] or p.stem, ops=_build_all(entries, str(p), lines), source=str(p))


def _coerce(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _load_csv(p: Path) -> GemmWorkload:
    try:
        rows = list(csv.DictReader(io.StringIO(read_text(p), newline="")))
    except csv.Error as exc:
        raise ConfigError(Problem(source=str(p), path="", message=f"not a valid CSV file: {exc}")) from None
    entries = [LineDict({k.strip(): _coerce(v.strip()) for k, v in r.items() if k is not None and v not in (None, "")})
               for r in rows]
    for i, e in enumerate(entries):
        e.start_line = i + 2  # header is line 1
        e.lines = dict.fromkeys(e, i + 2)
    return GemmWorkload(name=p.stem, ops=_build_all(entries, str(p), [i + 2 for i in range(len(entries))]), source=str(p))


def check_widths(wl: GemmWorkload, arch: ArchSpec) -> None:
    """Operand widths the hardware cannot run are errors naming the entry and field, and the widths it can run."""
    problems = [p for i, op in enumerate(wl.ops) for field, bits in (("a_bits", op.a_bits), ("b_bits", op.b_bits))
                if (p := width_problem(arch, bits, source=wl.source, path=f"gemms[{i}].{field}")) is not None]
    if problems:
        raise ConfigError(problems)


def parse_gemm_arg(text: str) -> Gemm:
    """`--gemm M,N,K`: an (M×K)·(K×N) product at the default 8-bit precision."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and 0 < int(p) <= MAX_DIM for p in parts):
        raise ConfigError(Problem(source=f"--gemm {text}", path="", message=(
            f"expected three positive integers M,N,K of at most {MAX_DIM:,}, e.g. 512,4096,4096")))
    m, n, k = (int(p) for p in parts)
    return Gemm(name=f"gemm_{m}x{n}x{k}", m=m, n=n, k=k)
