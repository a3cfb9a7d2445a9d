"""Run a sweep on dask.distributed: a LocalCluster sized to the machine by default, an existing scheduler by address.

One code path: every (point, workload) task goes through `client.map(evaluate_task, ...)`, and each row is
committed to the database as it completes (`as_completed`), so an interrupted sweep loses nothing finished and the
next run of the same spec skips it. Tasks whose id (hardware fingerprint, workload, mapper, version) is already in
the database, or that repeat within the run, are not submitted again.

Samplers: grid, random and Latin hypercube draw all points first (`edgesim.sweep.space`). NSGA-II (optuna's
NSGAIISampler, seeded) runs generation by generation: it asks `population` points, they run in parallel, and it is
told the first workload's objectives in the order it asked (so a rerun proposes the same points and resumes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from edgesim.config.sweep import MAXIMISED, SweepSpec
from edgesim.errors import ConfigError, Problem
from edgesim.sweep.space import Point, Resolved, resolve, sample_points
from edgesim.sweep.store import ResultStore
from edgesim.sweep.task import Task, evaluate_task, point_id

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunSummary:
    points: int = 0  # hardware points drawn
    excluded: int = 0  # points a constraint rules out (not run)
    submitted: int = 0  # tasks run now
    skipped: int = 0  # tasks already in the database
    counts: dict[str, int] = field(default_factory=lambda: {"done": 0, "infeasible": 0, "failed": 0})
    seconds: float = 0.0


def _point_key(point: Point) -> str:
    return hashlib.sha256(json.dumps(point.values, default=str).encode()).hexdigest()[:16]


def tasks_for(spec: SweepSpec, r: Resolved, cache_dir: str | None) -> list[Task]:
    """The point's tasks, one per workload. A point that is no valid accelerator keeps an id made from its overrides;
    its tasks are recorded as failed with the reason, not run."""
    out = []
    for w in spec.workloads:
        if r.arch is not None:
            pid = point_id(r.arch, w, spec.mapper, spec.latency_tolerance)
        else:
            blob = json.dumps({"invalid": r.point.overrides, "workload": w.key()}, sort_keys=True)
            pid = "invalid-" + hashlib.sha256(blob.encode()).hexdigest()[:16]
        out.append(Task(point_id=pid, point_key=_point_key(r.point), hardware=spec.hardware, overrides=r.point.overrides,
                        workload=w, mapper=spec.mapper, latency_tolerance=spec.latency_tolerance, cache_dir=cache_dir,
                        invalid=r.problem))
    return out


CONNECT_TIMEOUT_S = 10  # an unreachable --scheduler is an error after this long


@contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A client of the cluster at `scheduler`, or of a LocalCluster of `workers` single-threaded processes."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise ConfigError(Problem(source=f"--scheduler {scheduler}", path="", message=(
                f"cannot connect to a dask scheduler there: {exc}"))) from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    if not log.isEnabledFor(logging.INFO):  # the cluster's own start/stop chatter only with -v
        logging.getLogger("distributed").setLevel(logging.ERROR)
    # dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed.nanny.pre-spawn-environ). Setting it at
    # all turns off glibc's dynamic mmap threshold, so the cost model's large numpy temporaries are mmapped and
    # page-faulted afresh on every call: a cold LLaMA-7B config took 1.5-2x longer in a worker than in a plain process
    # (6.8-10.4 s against 4.6-5.9 s, measured). Our LocalCluster's workers start without it.
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    # Ctrl-C reaches every process of the terminal's group: the worker processes start with SIGINT ignored (they
    # inherit it) so that only this process handles it, cancels the tasks and closes the cluster, without their
    # tracebacks
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.CRITICAL)
    finally:
        signal.signal(signal.SIGINT, previous)
    with cluster, Client(cluster) as client:
        yield client


class _Runner:
    def __init__(self, spec: SweepSpec, store: ResultStore, summary: RunSummary, client_factory: Any, progress: bool):
        self.spec, self.store, self.summary = spec, store, summary
        self.client_factory, self.progress = client_factory, progress
        self.client: Any = None
        self.done = store.done_ids()
        self.bar: tqdm[Any] | None = None

    def run(self, pairs: list[tuple[Task, dict[str, Any]]]) -> None:
        """Run the tasks not yet in the database; commit each row as it completes."""
        fresh: dict[str, tuple[Task, dict[str, Any]]] = {}
        for task, params in pairs:
            if task.point_id in self.done:
                self.summary.skipped += 1
            else:
                fresh.setdefault(task.point_id, (task, params))
        for task, params in fresh.values():
            if task.invalid:
                self._record({"point_id": task.point_id, "point_key": task.point_key, "workload": task.workload.label,
                              "status": "failed", "error": f"not a valid accelerator: {task.invalid}", "wall_s": 0.0}, params)
        todo = [(t, p) for t, p in fresh.values() if not t.invalid]
        if not todo:
            return
        from dask.distributed import as_completed

        if self.client is None:
            self.client = self.client_factory()
        by_key = {f"edgesim-task-{t.point_id}": (t, p) for t, p in todo}
        futures = self.client.map(evaluate_task, [t for t, _ in todo], key=list(by_key), pure=False)
        self.summary.submitted += len(todo)
        try:
            for fut in as_completed(futures):
                task, params = by_key[fut.key]
                self._record(fut.result(), params)
        except BaseException:
            self.client.cancel(futures)
            raise

    def _record(self, row: dict[str, Any], params: dict[str, Any]) -> None:
        self.store.add(row, params)
        self.done.add(row["point_id"])
        self.summary.counts[row["status"]] = self.summary.counts.get(row["status"], 0) + 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(self.summary.counts, refresh=False)


def run_sweep(spec: SweepSpec, db: str | Path, *, scheduler: str | None = None, workers: int | None = None,
              cache_dir: str | None = None, progress: bool = True) -> RunSummary:
    """Run (or resume) the sweep into the database `db`; return what happened."""
    t0 = time.perf_counter()
    summary = RunSummary()
    with ResultStore(db, spec) as store, _client_scope(scheduler, workers) as factory:
        runner = _Runner(spec, store, summary, factory, progress)
        if spec.sampler.kind == "nsga2":
            _run_nsga2(spec, runner, cache_dir)
        else:
            points = sample_points(spec)
            summary.points = len(points)
            pairs = []
            for r in (resolve(spec, p) for p in points):
                if r.excluded_by:
                    summary.excluded += 1
                    continue
                pairs += [(t, r.point.as_dict()) for t in tasks_for(spec, r, cache_dir)]
            pending = len({t.point_id for t, _ in pairs} - runner.done)
            if pending and runner.client is None:  # connect (or start the cluster) before the progress bar shows
                runner.client = factory()
            with _bar(runner, pending, spec.name):
                runner.run(pairs)
    summary.seconds = time.perf_counter() - t0
    return summary


@contextmanager
def _client_scope(scheduler: str | None, workers: int | None) -> Iterator[Callable[[], Any]]:
    """A factory that starts the cluster on first use (a fully resumed sweep starts none) and closes it after."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(dask_client(scheduler, workers))


@contextmanager
def _bar(runner: _Runner, total: int, name: str) -> Iterator[None]:
    if runner.progress:
        with tqdm(total=total, desc=f"sweep {name}", unit="task", dynamic_ncols=True) as bar:
            runner.bar = bar
            yield
            runner.bar = None
    else:
        yield


def _run_nsga2(spec: SweepSpec, runner: _Runner, cache_dir: str | None) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    smp = spec.sampler
    objectives = spec.objectives
    directions = [optuna.study.StudyDirection.MAXIMIZE if o in MAXIMISED else optuna.study.StudyDirection.MINIMIZE
                  for o in objectives]
    study = optuna.create_study(directions=directions,
                                sampler=optuna.samplers.NSGAIISampler(population_size=smp.population, seed=smp.seed))
    dists: dict[str, optuna.distributions.BaseDistribution] = {
        path: optuna.distributions.CategoricalDistribution(list(values)) for path, values in spec.parameters}
    left = smp.trials or 0
    with _bar(runner, left * len(spec.workloads), spec.name):
        while left > 0:
            trials = [study.ask(dists) for _ in range(min(smp.population, left))]
            left -= len(trials)
            resolved = [resolve(spec, Point(tuple((p, t.params[p]) for p, _ in spec.parameters))) for t in trials]
            runner.summary.points += len(resolved)
            pairs = []
            first_ids: list[str | None] = []
            for r in resolved:
                if r.excluded_by:
                    runner.summary.excluded += 1
                    first_ids.append(None)
                    continue
                tasks = tasks_for(spec, r, cache_dir)
                first_ids.append(tasks[0].point_id)
                pairs += [(t, r.point.as_dict()) for t in tasks]
            runner.run(pairs)
            values = _objective_values(runner.store, objectives)
            for trial, pid in zip(trials, first_ids, strict=True):
                v = values.get(pid) if pid else None
                if v is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, v)


def _objective_values(store: ResultStore, objectives: tuple[str, ...]) -> dict[str, list[float]]:
    cols = ", ".join(objectives)
    out = {}
    for row in store.db.execute(f"SELECT point_id, {cols} FROM results WHERE status = 'done'"):
        if all(x is not None for x in row[1:]):
            out[str(row[0])] = [float(x) for x in row[1:]]
    return out
