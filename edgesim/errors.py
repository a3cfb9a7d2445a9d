"""Error types: a bad input file is an exception; an infeasible mapping is a value.

`ConfigError` collects every problem found in one input (file, line, field path, value,
expectation) and prints them all at once. `Infeasible` is returned, never raised, by the
cost model when a mapping cannot run (e.g. a tile overflows a buffer).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with one field of one input."""

    source: str  # file path, or e.g. "--set" for command-line overrides
    path: str  # dotted field path, e.g. "pe_array.rows"
    message: str  # what was expected, and what was found
    line: int | None = None  # 1-based line in `source`, when known

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ConfigError(ValueError):
    """A user input is invalid; `problems` lists every issue found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        n = len(self.problems)
        head = "1 problem" if n == 1 else f"{n} problems"
        super().__init__(f"{head}:\n" + "\n".join(f"  {p}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class Infeasible:
    """A mapping that cannot run on the hardware, with the reason (Timeloop's fail_reason)."""

    reason: str

    def __str__(self) -> str:
        return f"Infeasible: {self.reason}"
