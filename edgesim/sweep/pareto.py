"""Pareto fronts of a sweep: the non-dominated points over the chosen objectives, their hypervolume, the knee.

A point is on the front when no other point is at least as good in every objective and better in one (objectives
are minimised, but `tokens_per_s`, which is maximised); equal points are all kept. Only rows with status "done"
(the workload fits the device and every op is feasible) compete. moocore does the dominance and hypervolume work.

Hypervolume is taken in normalised space: each objective scaled to [0, 1] over the competing points (0 = best),
the reference point 1.1 in every objective; so it is in [0, 1.1^k] and comparable between fronts of one sweep.
The knee is the front point nearest (Euclidean) to the ideal point in that space.
"""

from __future__ import annotations

from dataclasses import dataclass

import moocore
import numpy as np
import numpy.typing as npt
import pandas as pd

from edgesim.config.sweep import MAXIMISED

REFERENCE = 1.1


@dataclass(frozen=True, slots=True)
class Front:
    workload: str
    objectives: tuple[str, ...]
    points: pd.DataFrame  # the front's rows, sorted by the first objective
    competing: int  # rows with status "done"
    hypervolume: float
    knee: str  # point_id of the knee ("" for an empty front)


def nondominated(values: npt.NDArray[np.float64], maximise: list[bool]) -> npt.NDArray[np.bool_]:
    """Mask of the rows of `values` (points x objectives) that no other row dominates."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    mask: npt.NDArray[np.bool_] = np.asarray(moocore.is_nondominated(values, maximise=maximise, keep_weakly=True),
                                             dtype=bool)
    return mask


def normalised(values: npt.NDArray[np.float64], maximise: list[bool]) -> npt.NDArray[np.float64]:
    """Each column scaled to [0, 1], 0 the best value; a constant column is all 0."""
    v = np.where(np.array(maximise), -values, values)
    lo, hi = v.min(axis=0), v.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    out: npt.NDArray[np.float64] = (v - lo) / span
    return out


def front(df: pd.DataFrame, workload: str, objectives: tuple[str, ...]) -> Front:
    rows = df[(df["workload"] == workload) & (df["status"] == "done")]
    rows = rows.dropna(subset=list(objectives))
    values = rows[list(objectives)].to_numpy(dtype=float)
    maximise = [o in MAXIMISED for o in objectives]
    if len(rows) == 0:
        return Front(workload, objectives, rows, 0, 0.0, "")
    mask = nondominated(values, maximise)
    norm = normalised(values, maximise)
    hv = float(moocore.hypervolume(norm[mask], ref=[REFERENCE] * len(objectives)))
    knee_i = int(np.argmin(np.where(mask, np.linalg.norm(norm, axis=1), np.inf)))
    points = rows[mask].sort_values(list(objectives))
    return Front(workload, objectives, points, len(rows), hv, str(rows.iloc[knee_i]["point_id"]))


def fronts(df: pd.DataFrame, objectives: tuple[str, ...]) -> list[Front]:
    """One front per workload, in the order the workloads first appear."""
    return [front(df, w, objectives) for w in dict.fromkeys(df["workload"])]
