"""Load a model shape config (workloads/models/*.yaml, or a path) into an `edgesim.llm.model.ModelShape`."""

from __future__ import annotations

from pathlib import Path

from edgesim.config import schema as s
from edgesim.config.builtin import MODEL_DIR, resolve
from edgesim.config.yaml_source import load_yaml
from edgesim.errors import ConfigError, Problem
from edgesim.llm.model import ModelShape

MODEL_SCHEMA: s.Schema = {
    "name": s.Field(s.string(), "a non-empty string"),
    "hidden": s.positive(65_536, integer=True),
    "intermediate": s.positive(262_144, integer=True),
    "layers": s.positive(1_024, integer=True),
    "heads": s.positive(1_024, integer=True),
    "kv_heads": s.positive(1_024, integer=True),
    "vocab": s.positive(1_048_576, integer=True),
    "max_seq": s.positive(1_048_576, integer=True),
    "mlp": s.Field(s.one_of("swiglu", "relu", "gelu"), "one of swiglu, relu, gelu"),
    "norm": s.Field(s.one_of("rmsnorm", "layernorm"), "one of rmsnorm, layernorm"),
}


def resolve_model_path(name_or_path: str) -> Path:
    return resolve(name_or_path, MODEL_DIR, "model")


def load_model(name_or_path: str) -> ModelShape:
    path = resolve_model_path(name_or_path)
    raw = load_yaml(path)
    problems: list[Problem] = []
    v = s.validate(raw, MODEL_SCHEMA, source=str(path), problems=problems)
    if not problems:
        if v["hidden"] % v["heads"]:
            problems.append(Problem(source=str(path), path="heads",
                                    message=f"hidden ({v['hidden']}) must be a multiple of heads ({v['heads']})"))
        if v["heads"] % v["kv_heads"]:
            problems.append(Problem(source=str(path), path="kv_heads",
                                    message=f"heads ({v['heads']}) must be a multiple of kv_heads ({v['kv_heads']})"))
    if problems:
        raise ConfigError(problems)
    return ModelShape(**v)
