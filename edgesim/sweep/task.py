"""One task of a sweep: a (hardware point, workload) pair, evaluated on a dask worker into one result row.

A task carries only plain data (the base accelerator's path, the point's overrides, the workload), so it pickles
to any worker. Each worker process keeps what it loaded and searched: accelerators, models and traces are cached
per process, and so are the schedules its searcher found (`edgesim.evaluate`), behind the disk schedule cache
when the sweep has one. A failure of any kind is a row with status "failed" and the error's text, never a lost
point.

Units in the row: seconds, joules (and pJ), bytes, mm^2.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import edgesim
from edgesim import api
from edgesim.arch import ArchSpec
from edgesim.config.hardware import base_bits, load_arch, width_problem
from edgesim.config.models import load_model
from edgesim.config.sweep import WorkloadSpec
from edgesim.config.traces import default_trace_path, load_trace
from edgesim.cost import model as cost_model
from edgesim.cost.area import area_breakdown_mm2
from edgesim.errors import ConfigError
from edgesim.llm.adaptation import Corpus
from edgesim.llm.inference import InferenceSettings
from edgesim.llm.model import ModelShape
from edgesim.llm.rag import IndexKind, RagIndexing, RagResult, RagSettings
from edgesim.llm.step import TuningSettings, default_seq
from edgesim.llm.trace import Trace
from edgesim.methods import Method
from edgesim.results import InferenceResult, MethodResult
from edgesim.search.base import Searcher
from edgesim.search.factory import make_mapper
from edgesim.units import cycles_to_seconds

PJ_PER_J = 1e12


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    point_id: str
    point_key: str  # the same for every workload of one hardware point
    hardware: str  # the base accelerator file
    overrides: tuple[str, ...]
    workload: WorkloadSpec
    mapper: str
    latency_tolerance: float
    cache_dir: str | None
    invalid: str = ""  # why the point is not a valid accelerator (then the task is recorded as failed, not run)


def point_id(arch: ArchSpec, workload: WorkloadSpec, mapper: str, latency_tolerance: float) -> str:
    """A content hash of the resolved hardware, the workload, how GEMMs are mapped, the edgesim version and the cost
    model's version (a database never serves a row an older cost model produced)."""
    blob = json.dumps({"arch": arch.fingerprint(), "workload": workload.key(), "mapper": mapper,
                       "latency_tolerance": latency_tolerance, "edgesim": edgesim.__version__,
                       "cost_model": cost_model.COST_MODEL_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@lru_cache(maxsize=256)
def _arch(hardware: str, overrides: tuple[str, ...]) -> ArchSpec:
    return load_arch(hardware, overrides)


@lru_cache(maxsize=32)
def _model_and_trace(model: str, trace: str | None, needs_trace: bool) -> tuple[ModelShape, Trace | None]:
    shape = load_model(model)
    return shape, load_trace(trace or default_trace_path(model), shape) if needs_trace else None


@lru_cache(maxsize=8)
def _searcher(mapper: str, cache_dir: str | None, tolerance: float) -> Searcher:
    return make_mapper(mapper, Path(cache_dir) if cache_dir else None, tolerance)


def _tune_row(arch: ArchSpec, r: MethodResult, tokens: int) -> dict[str, Any]:
    peak_step = max((c for c, _ in r.steps), key=lambda c: c.memory.peak_bytes)
    phases = {p: {"seconds": cycles_to_seconds(v["cycles"], arch.clock_mhz), "energy_j": v["energy_pj"] / PJ_PER_J}
              for p, v in r.by_phase.items()}
    return {"latency_s": r.seconds, "energy_pj": r.energy_pj, "peak_memory_bytes": r.peak_bytes,
            "dram_bytes": r.dram_bytes, "tokens_per_s": tokens / r.seconds if r.seconds else None, "fits": r.fits,
            "infeasible_ops": sum(len(c.infeasible) for c, _ in r.steps), "phases": phases,
            "memory": dict(peak_step.memory.breakdown)}


def _infer_row(arch: ArchSpec, w: WorkloadSpec, r: InferenceResult) -> dict[str, Any]:
    decode_s = w.generate * r.decode_seconds_per_token
    phases = {"prefill": {"seconds": r.prefill_seconds, "energy_j": r.prefill_energy_pj / PJ_PER_J},
              "decode": {"seconds": decode_s, "energy_j": w.generate * r.energy_pj_per_token / PJ_PER_J}}
    return {"latency_s": r.prefill_seconds + decode_s, "energy_pj": r.prefill_energy_pj + w.generate * r.energy_pj_per_token,
            "peak_memory_bytes": r.peak_bytes, "dram_bytes": r.prefill_dram_bytes + w.generate * r.dram_bytes_per_token,
            "tokens_per_s": r.tokens_per_second, "fits": r.peak_bytes <= arch.dram.capacity_bytes,
            "infeasible_ops": len(r.infeasible_ops), "phases": phases,
            "memory": {"weights": r.weight_bytes, "kv_cache": r.kv_cache_bytes,
                       "workspace": r.peak_bytes - r.weight_bytes - r.kv_cache_bytes}}


def _rag_row(arch: ArchSpec, w: WorkloadSpec, r: RagResult) -> dict[str, Any]:
    g = r.generation
    decode_s = w.generate * g.decode_seconds_per_token
    phases = {"retrieve": {"seconds": r.retrieve_seconds, "energy_j": r.retrieve_energy_pj / PJ_PER_J},
              "prefill": {"seconds": g.prefill_seconds, "energy_j": g.prefill_energy_pj / PJ_PER_J},
              "decode": {"seconds": decode_s, "energy_j": w.generate * g.energy_pj_per_token / PJ_PER_J}}
    return {"latency_s": r.query_seconds(w.generate), "energy_pj": r.query_energy_pj(w.generate),
            "peak_memory_bytes": r.peak_bytes, "dram_bytes": g.prefill_dram_bytes + w.generate * g.dram_bytes_per_token,
            "tokens_per_s": g.tokens_per_second, "fits": r.peak_bytes <= arch.dram.capacity_bytes,
            "infeasible_ops": len(r.infeasible_ops), "phases": phases,
            "memory": {"weights": g.weight_bytes, "kv_cache": g.kv_cache_bytes, "index": r.index_bytes,
                       "encoder": r.encoder_bytes,
                       "workspace": g.peak_bytes - g.weight_bytes - g.kv_cache_bytes}}


def _index_row(arch: ArchSpec, ix: RagIndexing, tokens: int) -> dict[str, Any]:
    return {"latency_s": ix.seconds, "energy_pj": ix.energy_pj, "peak_memory_bytes": ix.peak_bytes,
            "dram_bytes": ix.dram_bytes, "tokens_per_s": tokens / ix.seconds if ix.seconds else None,
            "fits": ix.peak_bytes <= arch.dram.capacity_bytes, "infeasible_ops": len(ix.infeasible_ops),
            "phases": {"index": {"seconds": ix.seconds, "energy_j": ix.energy_pj / PJ_PER_J}},
            "memory": {"index": ix.index_bytes, "encoder": ix.encoder_bytes, "workspace": ix.workspace_bytes}}


def _scaled(row: dict[str, Any], steps: int) -> dict[str, Any]:
    """A tuning step's row as the whole adaptation: time, energy and traffic x steps (memory and rates unchanged)."""
    out = {**row, "latency_s": row["latency_s"] * steps, "energy_pj": row["energy_pj"] * steps,
           "dram_bytes": row["dram_bytes"] * steps, "steps": steps}
    out["phases"] = {p: {k: v * steps for k, v in ph.items()} for p, ph in row["phases"].items()}
    return out


def _measure(t: Task) -> tuple[ArchSpec, dict[str, Any]]:
    arch = _arch(t.hardware, t.overrides)
    w = t.workload
    bits = base_bits(arch, w.base_bits, used=w.method != Method.EDGE_LLM, source=w.label, path="base_bits")
    model, trace = _model_and_trace(w.model, w.trace, w.method == Method.EDGE_LLM)
    if w.weight_bits is not None and (p := width_problem(arch, w.weight_bits, source=w.label, path="weight_bits")):
        raise ConfigError(p)
    if w.kind == "infer":
        inf = InferenceSettings(prompt=w.prompt, generate=w.generate, base_bits=bits, weight_bits=w.weight_bits,
                                weight_sparsity=w.weight_sparsity)
        if w.method == "rag":
            rs = RagSettings(chunks=w.chunks or 10_000, chunk_tokens=w.chunk_tokens, top_k=w.top_k,
                             index=IndexKind(w.index))
            return arch, _rag_row(arch, w, api.infer_rag(arch, model, load_model(w.encoder), inf, rs))
        return arch, _infer_row(arch, w, api.infer(arch, model, inf, [trace])[0])
    seq = w.seq or default_seq(model, trace.sequence_length if trace else None)
    batch = w.batch or (trace.batch if trace else 1)
    corpus = Corpus(samples=w.samples, sample_tokens=seq, epochs=w.epochs, batch=batch) if w.samples else None
    if w.method == "rag":
        chunks = corpus.chunks(w.chunk_tokens) if corpus is not None else (w.chunks or 10_000)
        rs = RagSettings(chunks=chunks, chunk_tokens=w.chunk_tokens, top_k=1, index=IndexKind(w.index))
        return arch, _index_row(arch, api.index_rag(arch, load_model(w.encoder), rs), chunks * w.chunk_tokens)
    st = TuningSettings(seq=seq, batch=batch, lora_rank=w.lora_rank, base_bits=bits,
                        optimizer=trace.optimizer if trace else "adam", weight_bits=w.weight_bits,
                        weight_sparsity=w.weight_sparsity)
    searcher = _searcher(t.mapper, t.cache_dir, t.latency_tolerance)
    r = api.tune(arch, model, [Method(w.method)], st, trace, searcher=searcher)[0]
    row = _tune_row(arch, r, seq * batch)
    return arch, row if corpus is None else _scaled(row, corpus.steps)


def evaluate_task(t: Task) -> dict[str, Any]:
    """The task's result row: objectives, area breakdown, phase and memory breakdowns, status, wall seconds."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"point_id": t.point_id, "point_key": t.point_key, "workload": t.workload.label}
    try:
        arch, measured = _measure(t)
    except ConfigError as exc:
        return {**row, "status": "failed", "error": str(exc), "wall_s": time.perf_counter() - t0}
    except Exception as exc:  # noqa: BLE001 - a failed point records its error and the sweep goes on
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {**row, "status": "failed", "error": last, "wall_s": time.perf_counter() - t0}
    parts = area_breakdown_mm2(arch)
    area = sum(parts.values())
    energy_j = measured["energy_pj"] / PJ_PER_J
    status = "done" if measured["fits"] and measured["infeasible_ops"] == 0 else "infeasible"
    return {**row, **measured, "status": status, "error": "", "energy_j": energy_j, "area_mm2": area,
            "area_breakdown": parts, "edp": measured["latency_s"] * energy_j, "wall_s": time.perf_counter() - t0}
