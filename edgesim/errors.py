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


class InfeasibleWork(Exception):
    """Some ops of the requested work cannot run on the hardware, so its totals would silently leave them out.

    `groups` holds, per result (e.g. a method), its label, the number of ops, and the (op name, reason) pairs that
    cannot run. The CLI refuses such work unless the user asks for incomplete totals (`--allow-infeasible`)."""

    def __init__(self, hardware: str, groups: list[tuple[str, int, list[tuple[str, str]]]], shown: int = 3):
        self.groups = groups
        lines = [f"some ops cannot run on {hardware}, so the totals would leave them out:"]
        for label, total, ops in groups:
            lines.append(f"  {label}: {len(ops):,} of {total:,} ops cannot run:")
            by_reason: dict[str, list[str]] = {}
            for name, reason in ops:
                by_reason.setdefault(reason, []).append(name)
            for reason, names in list(by_reason.items())[:shown]:
                more = f" and {len(names) - shown:,} more" if len(names) > shown else ""
                lines.append(f"    {', '.join(names[:shown])}{more}: {reason}")
            if len(by_reason) > shown:
                lines.append(f"    ({len(by_reason) - shown:,} other reasons)")
        lines.append("Change the hardware (--hw, --set) or the workload; or add --allow-infeasible to report the ops "
                     "that run, with the totals marked INCOMPLETE and no ratios between methods.")
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class Infeasible:
    """A mapping that cannot run on the hardware, with the reason (Timeloop's fail_reason)."""

    reason: str

    def __str__(self) -> str:
        return f"Infeasible: {self.reason}"
