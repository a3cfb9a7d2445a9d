"""Sampler expansion: grid, random, Latin hypercube (and NSGA-II in test_run.py, since it runs points)."""

from __future__ import annotations

import itertools
from dataclasses import replace

from edgesim.config.sweep import SamplerSpec, load_sweep_spec
from edgesim.sweep.space import grid_size, resolve, sample_points


def test_grid_is_the_full_product_in_spec_order(tiny_spec):
    spec = load_sweep_spec(tiny_spec)
    pts = sample_points(spec)
    assert grid_size(spec) == len(pts) == 3 * 2 * 3
    expected = list(itertools.product((8, 16, 32), (8, 16), (64.0, 128.0, 256.0)))
    assert [tuple(v for _, v in p.values) for p in pts] == expected


def test_random_draws_distinct_grid_points_reproducibly(tiny_spec):
    spec = load_sweep_spec(tiny_spec)
    rnd = replace(spec, sampler=SamplerSpec(kind="random", n=7, seed=3))
    a, b = sample_points(rnd), sample_points(rnd)
    grid = set(sample_points(spec))
    assert a == b and len(set(a)) == 7 and set(a) <= grid
    assert sample_points(replace(spec, sampler=SamplerSpec(kind="random", n=7, seed=4))) != a
    assert set(sample_points(replace(spec, sampler=SamplerSpec(kind="random", n=100, seed=0)))) == grid  # n > grid: all


def test_latin_hypercube_uses_each_value_once_per_stratum(tiny_spec):
    """With n = 6 draws, the 2-valued parameter takes each value 3 times and the 3-valued ones each value twice:
    a Latin hypercube puts exactly one draw in each of the n strata of every coordinate."""
    spec = load_sweep_spec(tiny_spec)
    pts = sample_points(replace(spec, sampler=SamplerSpec(kind="latin-hypercube", n=6, seed=0)))
    assert len(pts) == 6
    for k, (_, values) in enumerate(spec.parameters):
        counts = {v: sum(p.values[k][1] == v for p in pts) for v in values}
        assert set(counts.values()) == {6 // len(values)}, (spec.parameters[k][0], counts)


def test_constraints_exclude_points_and_bad_values_are_reported(tiny_spec):
    spec = load_sweep_spec(tiny_spec)
    res = [resolve(spec, p) for p in sample_points(spec)]
    excluded = [r for r in res if r.excluded_by]
    # rows * cols <= 256 rules out 32 x 16 only, at each of the 3 buffer sizes
    assert {(r.point.as_dict()["pe_array.rows"], r.point.as_dict()["pe_array.cols"]) for r in excluded} == {(32, 16)}
    assert len(excluded) == 3 and all(r.arch is not None for r in res)
