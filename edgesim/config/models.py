"""Load a model shape config (workloads/models/*.yaml, or a path) into an `edgesim.llm.model.ModelShape`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    "mlp": s.Field(s.one_of("swiglu", "geglu", "relu", "gelu"), "one of swiglu, geglu, relu, gelu"),
    "norm": s.Field(s.one_of("rmsnorm", "layernorm"), "one of rmsnorm, layernorm"),
    # optional: absent keys keep the dense LLaMA-style decoder
    "head_size": s.positive(4_096, integer=True, required=False, default=0),
    "sliding_window": s.positive(1_048_576, integer=True, required=False, default=0),
    "sliding_window_pattern": s.positive(1_024, integer=True, required=False, default=1),
    "tied_embeddings": s.Field(lambda v: (isinstance(v, bool), v), "true or false", required=False, default=False),
    "experts": s.positive(4_096, integer=True, required=False, default=0),
    "experts_per_token": s.positive(4_096, integer=True, required=False, default=0),
    "expert_intermediate": s.positive(262_144, integer=True, required=False, default=0),
    "shared_expert_intermediate": s.positive(262_144, integer=True, required=False, default=0),
}


def resolve_model_path(name_or_path: str) -> Path:
    """A model YAML or a Hugging Face config.json (a path ending in .json, taken as given), or a built-in name."""
    if Path(name_or_path).suffix.lower() == ".json":
        return Path(name_or_path)
    return resolve(name_or_path, MODEL_DIR, "model")


def load_model(name_or_path: str) -> ModelShape:
    """A model YAML, a built-in model's name, or a Hugging Face config.json (imported in memory, as `edgesim model
    import` would write it: edgesim.config.hf_import)."""
    path = resolve_model_path(name_or_path)
    if path.suffix.lower() == ".json":
        from edgesim.config.hf_import import import_hf_config  # it imports this module's schema

        return ModelShape(**import_hf_config(path).mapping)
    raw = load_yaml(path)
    problems: list[Problem] = []
    v = s.validate(raw, MODEL_SCHEMA, source=str(path), problems=problems)
    if not problems:
        problems += shape_problems(v, str(path))
    if problems:
        raise ConfigError(problems)
    return ModelShape(**v)


def shape_problems(v: dict[str, Any], source: str) -> list[Problem]:
    """What makes a validated model mapping inconsistent as a whole (each problem names its field)."""
    out: list[Problem] = []

    def bad(field: str, message: str) -> None:
        out.append(Problem(source=source, path=field, message=message))

    if not v["head_size"] and v["hidden"] % v["heads"]:
        bad("heads", f"hidden ({v['hidden']}) must be a multiple of heads ({v['heads']}), or give head_size")
    if v["heads"] % v["kv_heads"]:
        bad("kv_heads", f"heads ({v['heads']}) must be a multiple of kv_heads ({v['kv_heads']})")
    moe = ("experts_per_token", "expert_intermediate", "shared_expert_intermediate")
    if v["experts"]:
        if not v["experts_per_token"]:
            bad("experts_per_token", f"experts ({v['experts']}) needs experts_per_token (the experts routed per token)")
        elif v["experts_per_token"] > v["experts"]:
            bad("experts_per_token", f"experts_per_token ({v['experts_per_token']}) exceeds experts ({v['experts']})")
        if v["mlp"] != "swiglu":
            bad("mlp", f"mixture-of-experts layers are modelled with SwiGLU experts, got mlp {v['mlp']!r}")
    else:
        for key in moe:
            if v[key]:
                bad(key, f"{key} ({v[key]}) given without experts")
    return out
