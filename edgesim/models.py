"""LLM shape configs (workloads/models/*.yaml): the numbers that determine every op's shape."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgesim import schema as s
from edgesim.builtin import resolve
from edgesim.errors import ConfigError, Problem
from edgesim.yaml_source import load_yaml

MODEL_DIR = Path(__file__).resolve().parent.parent / "workloads" / "models"

MODEL_SCHEMA: s.Schema = {
    "name": s.Field(s.string(), "a non-empty string"),
    "hidden": s.Field(s.positive_int(), "a positive integer"),
    "intermediate": s.Field(s.positive_int(), "a positive integer"),
    "layers": s.Field(s.positive_int(), "a positive integer"),
    "heads": s.Field(s.positive_int(), "a positive integer"),
    "kv_heads": s.Field(s.positive_int(), "a positive integer"),
    "vocab": s.Field(s.positive_int(), "a positive integer"),
    "max_seq": s.Field(s.positive_int(), "a positive integer"),
    "mlp": s.Field(s.one_of("swiglu", "relu", "gelu"), "one of swiglu, relu, gelu"),
    "norm": s.Field(s.one_of("rmsnorm", "layernorm"), "one of rmsnorm, layernorm"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelShape:
    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    max_seq: int
    mlp: str
    norm: str

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim


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
