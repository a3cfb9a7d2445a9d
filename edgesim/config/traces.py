"""The trace: per-layer compression and the tuning schedule, exported by the frontend (JSON, versioned).

Structure is checked against `trace_schema_v1.json` (JSON Schema, via the `jsonschema` library); the
cross-checks a schema cannot express come after: the schema version, the layer count against the
model, layer indices, N:M patterns against the sparsity, windows and exits inside the model, and bit
widths against the hardware. Every problem is collected and reported with the file and field path.
See docs/trace-format.md.
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any

import jsonschema

from edgesim.config.builtin import TRACE_DIR
from edgesim.config.files import read_text
from edgesim.config.models import load_model
from edgesim.errors import ConfigError, Problem
from edgesim.llm.model import ModelShape
from edgesim.llm.trace import EdgeLlmPhase, LayerPolicy, Trace
from edgesim.ops import WeightFormat

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "trace_schema_v1.json"


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top>"


def _schema_problems(data: Any, source: str) -> list[Problem]:
    problems = []
    validator = jsonschema.Draft202012Validator(_schema())
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        msg = err.message
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = list(err.schema.get("properties", {}))
            extra = [k for k in err.instance if k not in allowed]
            hints = [f"unknown key '{k}'" + (f"; did you mean '{m[0]}'?" if (m := difflib.get_close_matches(k, allowed, 1)) else "")
                     for k in extra]
            msg = ", ".join(hints) + f" (recognized keys: {', '.join(allowed)})"
        problems.append(Problem(source=source, path=_path(err.absolute_path), message=msg))
    return problems


def _nm(fmt: str) -> tuple[int, int] | None:
    if fmt == "unstructured":
        return None
    n, m = (int(x) for x in fmt.split(":"))
    return n, m


def _cross_problems(d: dict[str, Any], source: str, model: ModelShape | None) -> list[Problem]:
    out: list[Problem] = []

    def bad(path: str, message: str) -> None:
        out.append(Problem(source=source, path=path, message=message))

    L = d["num_layers"]
    if model is not None:
        if model.layers != L:
            bad("num_layers", f"the trace has {L} layers but model {model.name} has {model.layers}")
        if d["model"] != model.name:
            bad("model", f"the trace is for {d['model']!r} but the model is {model.name!r}")
        if d["sequence_length"] > model.max_seq:
            bad("sequence_length", f"expected at most {model.name}'s max_seq ({model.max_seq:,}), got {d['sequence_length']:,}")
        for i, e in enumerate(d["layers"]):
            if e["lora_rank"] > model.hidden:
                bad(f"layers[{i}].lora_rank", f"expected at most {model.name}'s hidden size ({model.hidden:,}), "
                                              f"got {e['lora_rank']:,}")
    layers = d["layers"]
    if len(layers) != L:
        bad("layers", f"expected {L} entries (num_layers), got {len(layers)}")
    indices = [e["index"] for e in layers]
    if sorted(indices) != list(range(len(layers))):
        bad("layers", f"indices must be 0..{len(layers) - 1}, each once; got {indices}")
    for i, e in enumerate(layers):
        nm = _nm(e["sparsity_format"])
        if nm is not None:
            n, m = nm
            if not 0 < n < m:
                bad(f"layers[{i}].sparsity_format", f"expected N:M with 0 < N < M, got {e['sparsity_format']!r}")
            elif abs(e["weight_sparsity"] - (1 - n / m)) > 1e-6:
                bad(f"layers[{i}].weight_sparsity", f"a {n}:{m} layer has sparsity {1 - n / m:g}, got {e['weight_sparsity']}")
    for i, ph in enumerate(d["tuning"]["phases"]):
        first, last = ph["trainable_window"]
        if not first <= last < L:
            bad(f"tuning.phases[{i}].trainable_window", f"expected 0 <= first <= last < {L}, got {[first, last]}")
        if not last <= ph["exit_layer"] < L:
            bad(f"tuning.phases[{i}].exit_layer", f"expected between the window's last layer ({last}) and {L - 1}, got {ph['exit_layer']}")
    trained = {i for ph in d["tuning"]["phases"] for i in range(ph["trainable_window"][0], ph["trainable_window"][1] + 1)}
    for i, e in enumerate(layers):
        idx = e["index"]
        if e["trainable"] != (idx in trained):
            bad(f"layers[{i}].trainable", f"layer {idx} is {'in' if idx in trained else 'in no'} phase's trainable_window, "
                                          f"so expected {str(idx in trained).lower()}, got {str(e['trainable']).lower()}")
        elif idx in trained and e["lora_rank"] < 1:
            bad(f"layers[{i}].lora_rank", f"layer {idx} is trained by a phase, so its adapters need a rank >= 1, got "
                                          f"{e['lora_rank']}")
    exits = d["inference"]["exit_layers"]
    if any(x >= L for x in exits) or sorted(set(exits)) != exits:
        bad("inference.exit_layers", f"expected increasing layer indices below {L}, got {exits}")
    return out


def _non_finite(x: Any, path: str = "") -> list[tuple[str, float]]:
    """(field path, value) of every NaN or infinite number in a parsed JSON tree (JSON allows NaN and Infinity)."""
    if isinstance(x, float) and not math.isfinite(x):
        return [(path or "<top>", x)]
    if isinstance(x, dict):
        return [f for k, v in x.items() for f in _non_finite(v, f"{path}.{k}" if path else str(k))]
    if isinstance(x, list):
        return [f for i, v in enumerate(x) for f in _non_finite(v, f"{path}[{i}]")]
    return []


def parse_trace(data: Any, source: str, model: ModelShape | None = None) -> Trace:
    if isinstance(data, dict) and data.get("schema_version") not in (SCHEMA_VERSION, None):
        raise ConfigError(Problem(source=source, path="schema_version", message=(
            f"unsupported trace version {data.get('schema_version')!r}; this edgesim reads version {SCHEMA_VERSION}")))
    problems = [Problem(source=source, path=p, message=f"expected a finite number, got {v}") for p, v in _non_finite(data)]
    problems = problems or _schema_problems(data, source)
    if not problems:
        problems = _cross_problems(data, source, model)
    if problems:
        raise ConfigError(problems)
    layers = sorted(data["layers"], key=lambda e: e["index"])
    policies = []
    for e in layers:
        nm = _nm(e["sparsity_format"])
        density = 1.0 - e["weight_sparsity"]
        fmt = WeightFormat.DENSE if e["weight_sparsity"] == 0 else (WeightFormat.NM if nm else WeightFormat.UNSTRUCTURED)
        policies.append(LayerPolicy(weight_density=density, weight_format=fmt, nm=nm if fmt == WeightFormat.NM else None,
                                    w_bits=e["weight_bits"], a_bits=e["activation_bits"], kv_bits=e["kv_bits"],
                                    lora_rank=e["lora_rank"]))
    phases = tuple(EdgeLlmPhase(first=p["trainable_window"][0], last=p["trainable_window"][1], exit_layer=p["exit_layer"],
                                steps=p["steps"]) for p in data["tuning"]["phases"])
    return Trace(model=data["model"], num_layers=data["num_layers"], sequence_length=data["sequence_length"],
                 batch=data["batch"], optimizer=data["optimizer"], policies=tuple(policies),
                 phases=phases,
                 exit_layers=tuple(data["inference"]["exit_layers"]), provenance=dict(data.get("provenance", {})),
                 source=source)


def default_trace_path(model_name: str) -> Path:
    """The built-in Edge-LLM trace of a model: workloads/traces/<model>_edge_llm.json."""
    return TRACE_DIR / f"{Path(model_name).stem}_edge_llm.json"


def load_model_and_trace(model_name: str) -> tuple[ModelShape, Trace]:
    """A built-in model and its default Edge-LLM trace."""
    model = load_model(model_name)
    return model, load_trace(default_trace_path(model_name), model)


def load_trace(path: str | Path, model: ModelShape | None = None) -> Trace:
    p = Path(path)
    if not p.exists() and (TRACE_DIR / f"{path}.json").exists():
        p = TRACE_DIR / f"{path}.json"
    text = read_text(p, str(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(Problem(source=str(path), path="", line=exc.lineno, message=f"invalid JSON: {exc.msg}")) from None
    except RecursionError:
        raise ConfigError(Problem(source=str(path), path="", message="invalid JSON: nested too deeply")) from None
    return parse_trace(data, str(path), model)
