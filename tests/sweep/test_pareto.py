"""The Pareto set against a brute-force dominance check on random points (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.sweep.pareto import front, nondominated


def brute_force(values: np.ndarray, maximise: list[bool]) -> np.ndarray:
    v = np.where(np.array(maximise), -values, values)
    out = []
    for i in range(len(v)):
        dominated = any(np.all(v[j] <= v[i]) and np.any(v[j] < v[i]) for j in range(len(v)) if j != i)
        out.append(not dominated)
    return np.array(out, dtype=bool)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3).flatmap(lambda k: st.tuples(
    st.lists(st.lists(st.integers(0, 6), min_size=k, max_size=k), min_size=1, max_size=30),
    st.lists(st.booleans(), min_size=k, max_size=k))))
def test_nondominated_equals_brute_force(case):
    rows, maximise = case
    values = np.array(rows, dtype=float)  # small integers: many ties and duplicates
    assert (nondominated(values, maximise) == brute_force(values, maximise)).all()


def test_front_uses_only_done_rows_and_finds_the_knee():
    df = pd.DataFrame({
        "point_id": ["a", "b", "c", "d", "e"], "workload": ["w"] * 5,
        "status": ["done", "done", "done", "infeasible", "done"],
        "latency_s": [1.0, 2.0, 3.0, 0.1, 2.5], "energy_j": [3.0, 2.0, 1.0, 0.1, 2.5]})
    f = front(df, "w", ("latency_s", "energy_j"))
    assert list(f.points["point_id"]) == ["a", "b", "c"]  # d is infeasible, e is dominated by b
    assert f.competing == 4 and f.knee == "b"  # b is nearest the ideal (1, 1) after normalising
    # normalised over a, b, c, e: a (0, 1), b (0.5, 0.5), c (1, 0); dominated area up to (1.1, 1.1), by hand in
    # slices of latency: [0, 0.5) x 0.1 tall (above a) + [0.5, 1) x 0.6 (above b) + [1, 1.1] x 1.1 (above c)
    assert abs(f.hypervolume - (0.5 * 0.1 + 0.5 * 0.6 + 0.1 * 1.1)) < 1e-12
