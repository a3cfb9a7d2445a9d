"""The points of a sweep: hardware parameter values drawn by the spec's sampler, resolved and filtered by the
constraints. Grid: every combination. Random: `n` distinct combinations, uniformly (numpy, seeded).
Latin hypercube: `n` points of scipy's `qmc.LatinHypercube` (seeded), each coordinate picking one of the
parameter's values. NSGA-II is adaptive and lives in `edgesim.sweep.run` (optuna); it uses `resolve` too.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import qmc

from edgesim.arch import ArchSpec
from edgesim.config.hardware import load_hardware
from edgesim.config.sweep import SweepSpec, check_constraint, constraint_names
from edgesim.cost.area import area_mm2
from edgesim.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Point:
    """One hardware configuration: the swept values (field path -> value) and the --set overrides that make it."""

    values: tuple[tuple[str, Any], ...]

    @property
    def overrides(self) -> tuple[str, ...]:
        return tuple(f"{path}={value}" for path, value in self.values)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True, slots=True)
class Resolved:
    point: Point
    arch: ArchSpec | None  # None: the point is not a valid accelerator (see `problem`)
    excluded_by: str  # the first constraint the point violates, or ""
    problem: str  # why the point is not a valid accelerator, or ""


def grid_size(spec: SweepSpec) -> int:
    return math.prod(len(values) for _, values in spec.parameters)


def _point(spec: SweepSpec, index: tuple[int, ...]) -> Point:
    return Point(tuple((path, values[i]) for (path, values), i in zip(spec.parameters, index, strict=True)))


def sample_points(spec: SweepSpec) -> list[Point]:
    """The points a grid, random or Latin-hypercube sampler asks for, in a fixed order."""
    sizes = [len(values) for _, values in spec.parameters]
    smp = spec.sampler
    if smp.kind == "grid":
        return [_point(spec, idx) for idx in itertools.product(*(range(n) for n in sizes))]
    if smp.kind == "random":
        total = grid_size(spec)
        flat = np.random.default_rng(smp.seed).choice(total, size=min(smp.n or 0, total), replace=False)
        return [_point(spec, tuple(int(i) for i in np.unravel_index(int(f), sizes))) for f in flat]
    if smp.kind == "latin-hypercube":
        u = qmc.LatinHypercube(d=len(sizes), seed=smp.seed).random(smp.n or 0)
        idx = np.minimum((u * np.array(sizes)).astype(np.int64), np.array(sizes) - 1)
        return list(dict.fromkeys(_point(spec, tuple(int(i) for i in row)) for row in idx))
    raise ValueError(f"sample_points does not draw for sampler {smp.kind!r} (NSGA-II is adaptive)")


def resolve(spec: SweepSpec, point: Point) -> Resolved:
    """Load the base accelerator with the point's overrides, then check the constraints."""
    try:
        arch, fields = load_hardware(spec.hardware, point.overrides)
    except ConfigError as exc:
        return Resolved(point, None, "", "; ".join(str(p) for p in exc.problems))
    names = constraint_names(fields, area_mm2(arch))
    for expr in spec.constraints:
        if not check_constraint(expr, names):
            return Resolved(point, arch, expr, "")
    return Resolved(point, arch, "", "")
