"""Sweep results in an embedded SQLite database: one row per (point, workload), committed as soon as it finishes.

WAL mode and a commit per row: a sweep killed at any moment (even kill -9) keeps every row committed before, and
the next run of the same spec skips them. The spec is stored with the results; a database holds one sweep, made by
one model (`model_version`: edgesim's and its cost model's versions). A run refuses a database another model made,
whose rows would otherwise sit beside the new ones in every table and front.

Tables: `meta` (key, value: the spec as JSON, its name, the model version), `results` (one row per task; the swept parameters are
columns named by their field path, e.g. "pe_array.rows"; breakdowns are JSON text).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

import edgesim
from edgesim.config.sweep import SweepSpec
from edgesim.cost.model import COST_MODEL_VERSION
from edgesim.errors import ConfigError, Problem

OBJECTIVE_COLUMNS = ("latency_s", "energy_j", "energy_pj", "area_mm2", "peak_memory_bytes", "dram_bytes", "edp",
                     "tokens_per_s")
JSON_COLUMNS = ("area_breakdown", "phases", "memory")
STATUSES = ("done", "infeasible", "failed")


def model_version() -> str:
    """What made a row: edgesim's version and its cost model's."""
    return f"edgesim {edgesim.__version__}, cost model version {COST_MODEL_VERSION}"


class ResultStore:
    """An open sweep database (use as a context manager)."""

    def __init__(self, path: str | Path, spec: SweepSpec | None = None):
        self.path = Path(path)
        if spec is None and not self.path.exists():
            raise ConfigError(Problem(source=str(path), path="", message="no such sweep database"))
        try:
            self.db = sqlite3.connect(self.path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except sqlite3.Error as exc:
            raise ConfigError(Problem(source=str(path), path="", message=f"cannot open as a sweep database: {exc}")) from None
        stored = self._meta("spec")
        if spec is None:
            if stored is None:
                raise ConfigError(Problem(source=str(path), path="", message="not an edgesim sweep database (no spec)"))
            self.params = tuple(p for p, _ in json.loads(stored)["parameters"])
        else:
            if stored is not None and stored != spec.to_json():
                raise ConfigError(Problem(source=str(path), path="", message=(
                    f"holds the results of a different sweep ({self._meta('name')!r}); give another -o file to start a "
                    "new one, or rerun the spec that made it to resume")))
            made_by = self._meta("model")
            if stored is not None and made_by != model_version():
                raise ConfigError(Problem(source=str(path), path="", message=(
                    f"holds results of {made_by or 'an earlier edgesim (no model version recorded)'}, not of "
                    f"{model_version()}: new rows would sit beside them. Give another -o file, or delete this one to "
                    "rerun the sweep")))
            self.params = tuple(p for p, _ in spec.parameters)
            self._create(spec)

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _create(self, spec: SweepSpec) -> None:
        params = "".join(f', "{p}"' for p in self.params)
        objectives = "".join(f", {c} REAL" for c in OBJECTIVE_COLUMNS)
        json_cols = "".join(f", {c} TEXT" for c in JSON_COLUMNS)
        with self.db:
            self.db.execute(f"CREATE TABLE IF NOT EXISTS results (point_id TEXT PRIMARY KEY, point_key TEXT NOT NULL, "
                            f"workload TEXT NOT NULL{params}{objectives}, fits INTEGER, infeasible_ops INTEGER"
                            f"{json_cols}, status TEXT NOT NULL, error TEXT, wall_s REAL)")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('spec', ?), ('name', ?), ('model', ?)",
                            (spec.to_json(), spec.name, model_version()))

    def done_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT point_id FROM results")}

    def add(self, row: dict[str, Any], params: dict[str, Any]) -> None:
        """Insert one finished task and commit at once."""
        values: dict[str, Any] = {"point_id": row["point_id"], "point_key": row["point_key"], "workload": row["workload"],
                                  **{p: params[p] for p in self.params}, "status": row["status"],
                                  "error": row.get("error", ""), "wall_s": row.get("wall_s")}
        for c in OBJECTIVE_COLUMNS:
            values[c] = row.get(c)
        values["fits"] = None if "fits" not in row else int(bool(row["fits"]))
        values["infeasible_ops"] = row.get("infeasible_ops")
        for c in JSON_COLUMNS:
            values[c] = json.dumps(row[c], sort_keys=True) if c in row else None
        cols = ", ".join(f'"{c}"' for c in values)
        with self.db:
            self.db.execute(f"INSERT OR IGNORE INTO results ({cols}) VALUES ({', '.join('?' * len(values))})",
                            tuple(values.values()))

    def spec_json(self) -> dict[str, Any]:
        stored = self._meta("spec")
        assert stored is not None
        out: dict[str, Any] = json.loads(stored)
        return out

    def frame(self) -> pd.DataFrame:
        """Every row, ordered by workload then point id (a stable order whatever order tasks finished in)."""
        df = pd.read_sql_query("SELECT * FROM results ORDER BY workload, point_id", self.db)
        for c in JSON_COLUMNS:
            df[c] = df[c].map(lambda v: json.loads(v) if isinstance(v, str) else None)
        return df
