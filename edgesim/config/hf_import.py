"""Import a Hugging Face `config.json` as an edgesim model shape (`edgesim model import`, and `--model CONFIG.json`).

Families (`model_type`): llama, mistral, qwen2, phi3, gemma, gemma2, opt, gpt_neox, mixtral, qwen2_moe, olmoe. Every
value comes from the file, or, when the file leaves a field out, from the default of the transformers config class of
that family (`LlamaConfig`, ..., read in transformers' source); each such default is written into the YAML's comment
header. Where the class's default is a number that belongs to one published model rather than a rule (e.g.
`MistralConfig`'s 8 key/value heads, `GemmaConfig`'s head_dim 256), an absent field is an error instead. The mapping
is then checked with the model YAML's own schema and consistency rules (`MODEL_SCHEMA`, `shape_problems`); a problem
names the file and the config.json field.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edgesim.config import schema as s
from edgesim.config.files import read_text
from edgesim.config.models import MODEL_SCHEMA, shape_problems
from edgesim.errors import ConfigError, Problem

# model_type -> the transformers config class (named in the YAML header and in messages)
CLASSES = {"llama": "LlamaConfig", "mistral": "MistralConfig", "qwen2": "Qwen2Config", "phi3": "Phi3Config",
           "gemma": "GemmaConfig", "gemma2": "Gemma2Config", "opt": "OPTConfig", "gpt_neox": "GPTNeoXConfig",
           "mixtral": "MixtralConfig", "qwen2_moe": "Qwen2MoeConfig", "olmoe": "OlmoeConfig"}
FAMILIES = tuple(sorted(CLASSES))

_LLAMA_LIKE = ("llama", "mistral", "qwen2", "phi3", "mixtral", "qwen2_moe", "olmoe")
_GEMMA = ("gemma", "gemma2")
# tie_word_embeddings when absent: each class's declared default (OPTConfig declares none: PretrainedConfig's True)
_TIED_DEFAULT = {"llama": False, "mistral": False, "qwen2": False, "phi3": False, "gemma": True, "gemma2": True,
                 "opt": True, "gpt_neox": False, "mixtral": False, "qwen2_moe": False, "olmoe": False}
# num_key_value_heads: classes whose default is None, meaning num_attention_heads
_KV_NONE_IS_HEADS = ("llama", "phi3", "olmoe")
# classes whose default is a fixed number (refused when absent) but which turn an explicit null into num_attention_heads
_KV_NULL_IS_HEADS = ("mistral", "qwen2", "mixtral")
# activation field, class default, and the edgesim mlp of each accepted value
_ACT: dict[str, tuple[str, str, dict[str, str]]] = {
    **{f: ("hidden_act", "silu", {"silu": "swiglu"}) for f in _LLAMA_LIKE},
    **{f: ("hidden_activation", "gelu_pytorch_tanh", {"gelu_pytorch_tanh": "geglu", "gelu": "geglu"}) for f in _GEMMA},
    "opt": ("activation_function", "relu", {"relu": "relu"}),
    "gpt_neox": ("hidden_act", "gelu", {"gelu": "gelu"}),
}
_SLIDING = ("sliding_attention", "full_attention")


@dataclass(frozen=True, slots=True)
class Imported:
    """An imported model: the validated mapping (every MODEL_SCHEMA key), and where each value came from."""

    mapping: dict[str, Any]
    source: str
    model_type: str
    header: tuple[str, ...]  # comment lines: source, name, field origins, each default and why


class _Reader:
    """Reads fields of one config.json, collecting every problem (file and field named) and every default used."""

    def __init__(self, data: dict[str, Any], source: str, model_type: str):
        self.data, self.source, self.model_type = data, source, model_type
        self.cls = CLASSES[model_type]
        self.problems: list[Problem] = []
        self.defaults: list[str] = []

    def bad(self, field: str, message: str) -> None:
        self.problems.append(Problem(source=self.source, path=field, message=message))

    def has(self, field: str) -> bool:
        return self.data.get(field) is not None

    def _typed(self, field: str, check: Callable[[Any], bool], expected: str) -> Any:
        value = self.data[field]
        if not check(value):
            self.bad(field, f"expected {expected}, got {value!r}")
            return None
        return value

    def integer(self, field: str, *, minimum: int = 1) -> int | None:
        """A required integer >= minimum (None, with a problem, if absent, null or wrong)."""
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        if field not in self.data or self.data[field] is None:
            self.bad(field, f"missing required field (expected {expected})")
            return None
        value: int | None = self._typed(field, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum,
                                        expected)
        return value

    def opt_int(self, field: str, default: int | None, why: str, *, minimum: int = 1) -> int | None:
        """An integer, or `default` (recorded with `why`) when absent or null."""
        if not self.has(field):
            self.defaults.append(f"{field}: absent; {why}")
            return default
        return self.integer(field, minimum=minimum)

    def boolean(self, field: str, default: bool, why: str) -> bool:
        if not self.has(field):
            self.defaults.append(f"{field}: absent; {why}")
            return default
        value = self._typed(field, lambda v: isinstance(v, bool), "true or false")
        return default if value is None else bool(value)

    def refuse_absent(self, field: str, class_default: str) -> None:
        self.bad(field, f"missing required field: {self.cls}'s default ({class_default}) is a number of one published "
                        f"model, not a rule edgesim can apply to this one; give {field}")


def _load_json(path: Path, source: str) -> Any:
    text = read_text(path, source)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(Problem(source=source, path="", line=exc.lineno, message=f"invalid JSON: {exc.msg}")) from None
    except RecursionError:
        raise ConfigError(Problem(source=source, path="", message="invalid JSON: nested too deeply")) from None


def sanitise_name(text: str) -> str:
    """A model name from free text: letters, digits, '.', '_' and '-' kept, other runs become '-'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-.")


def _name(data: dict[str, Any], path: Path, source: str, name: str | None) -> tuple[str, str]:
    if name is not None:
        given, why = name, "--name"
    elif isinstance(data.get("_name_or_path"), str) and data["_name_or_path"].strip("/ "):
        given = data["_name_or_path"].strip("/ ").split("/")[-1]
        why = f"the last component of _name_or_path ({data['_name_or_path']!r})"
    else:
        given, why = path.stem, "the file's stem (no _name_or_path)"
    out = sanitise_name(given)
    if not out:
        raise ConfigError(Problem(source="--name" if name is not None else source, path="" if name is not None else "_name_or_path",
                                  message=f"no usable model name in {given!r}; give --name"))
    return out, why


def _window_pattern(flags: list[bool]) -> int | None:
    """The sliding_window_pattern of per-layer 'uses the window' flags: 0 none, 1 every layer, 2 layers 0, 2, 4, ...;
    None if edgesim cannot express it."""
    if not any(flags):
        return 0
    if all(flags):
        return 1
    if all(f == (i % 2 == 0) for i, f in enumerate(flags)):
        return 2
    return None


def _describe(flags: list[bool]) -> str:
    windowed = [i for i, f in enumerate(flags) if f]
    shown = ", ".join(map(str, windowed[:8])) + (", ..." if len(windowed) > 8 else "")
    return f"windowed layers {shown} of {len(flags)}"


def _sliding(r: _Reader, layers: int | None) -> tuple[int, int]:
    """(sliding_window, sliding_window_pattern) of the family's rule; problems go to `r`."""
    t = r.model_type
    if t in ("mistral", "mixtral", "phi3"):
        if "sliding_window" not in r.data:
            if t == "mistral":
                r.refuse_absent("sliding_window", "4096")
                return 0, 1
            r.defaults.append(f"sliding_window: absent; {r.cls}'s default is null (full attention in every layer)")
            return 0, 1
        if r.data["sliding_window"] is None:
            return 0, 1
        return r.integer("sliding_window") or 0, 1
    if t in ("qwen2", "qwen2_moe", "gemma2"):
        if t != "gemma2" and not r.boolean("use_sliding_window", False, f"{r.cls}'s default is false (no sliding window)"):
            return 0, 1
        if not r.has("sliding_window"):
            r.refuse_absent("sliding_window", "4096")
            return 0, 1
        window = r.integer("sliding_window")
        if window is None or layers is None:
            return 0, 1
        if "layer_types" in r.data and r.data["layer_types"] is not None:
            field = "layer_types"
            types = r.data["layer_types"]
            if not isinstance(types, list) or len(types) != layers or any(x not in _SLIDING for x in types):
                r.bad(field, f"expected a list of {layers} (num_hidden_layers) entries, each sliding_attention or "
                             f"full_attention, got {types!r}")
                return 0, 1
            flags = [x == "sliding_attention" for x in types]
        elif t == "gemma2":
            field = "layer_types"
            r.defaults.append("layer_types: absent; Gemma2Config's rule: layers 0, 2, 4, ... use the sliding window, "
                              "the others attend fully")
            flags = [i % 2 == 0 for i in range(layers)]
        else:
            field = "max_window_layers"
            if not r.has(field):
                r.refuse_absent(field, "28")
                return 0, 1
            mwl = r.integer(field, minimum=0)
            if mwl is None:
                return 0, 1
            if t == "qwen2":  # Qwen2Config: layer i slides iff i >= max_window_layers
                flags = [i >= mwl for i in range(layers)]
                r.defaults.append(f"layer_types: absent; Qwen2Config's rule: layers i >= max_window_layers ({mwl}) use "
                                  f"the sliding window")
            else:  # Qwen2MoeConfig: layer i slides iff i is even and i < max_window_layers
                flags = [i % 2 == 0 and i < mwl for i in range(layers)]
                r.defaults.append(f"layer_types: absent; Qwen2MoeConfig's rule: even layers i < max_window_layers "
                                  f"({mwl}) use the sliding window")
        pattern = _window_pattern(flags)
        if pattern is None:
            r.bad(field, f"edgesim's sliding_window_pattern expresses a window in every layer or in layers 0, 2, 4, "
                         f"... only; this config gives {_describe(flags)}")
            return 0, 1
        return (window, pattern) if pattern else (0, 1)
    return 0, 1


def _kv_heads(r: _Reader, heads: int | None) -> int | None:
    t, field = r.model_type, "num_key_value_heads"
    if t in ("opt", "gpt_neox"):
        r.defaults.append(f"{field}: not a field of {r.cls} (multi-head attention): kv_heads = num_attention_heads")
        return heads
    present = field in r.data
    if present and r.data[field] is not None:
        return r.integer(field)
    if t in _KV_NONE_IS_HEADS or (present and t in _KV_NULL_IS_HEADS):
        r.defaults.append(f"{field}: {'null' if present else 'absent'}; {r.cls}'s rule: equal to num_attention_heads "
                          f"({heads})")
        return heads
    r.refuse_absent(field, {"mistral": "8", "qwen2": "32", "mixtral": "8", "qwen2_moe": "16", "gemma": "16",
                            "gemma2": "4"}[t])
    return None


def _head_size(r: _Reader, hidden: int | None, heads: int | None) -> int:
    """head_size: 0 when head_dim is hidden / heads (or absent, for the classes that derive it)."""
    if not r.has("head_dim"):
        if r.model_type in _GEMMA:
            r.refuse_absent("head_dim", "256")
            return 0
        if "head_dim" in r.data:
            r.defaults.append("head_dim: null; hidden_size / num_attention_heads")
        return 0
    head_dim = r.integer("head_dim")
    if head_dim is None or hidden is None or heads is None:
        return 0
    return 0 if hidden % heads == 0 and head_dim == hidden // heads else head_dim


def _mlp(r: _Reader) -> tuple[str | None, str]:
    """(edgesim mlp, the config.json field it came from)."""
    field, default, accepted = _ACT[r.model_type]
    if r.model_type in _GEMMA and not r.has(field) and r.has("hidden_act"):
        field = "hidden_act"  # older Gemma configs name the activation hidden_act
    if not r.has(field):
        r.defaults.append(f"{field}: absent; {r.cls}'s default is {default}")
        value: Any = default
    else:
        value = r.data[field]
    if not isinstance(value, str) or value not in accepted:
        r.bad(field, f"unsupported activation {value!r} for model_type {r.model_type}; edgesim maps "
                     + ", ".join(f"{k} (to mlp {v})" for k, v in accepted.items()))
        return None, field
    return accepted[value], field


def _moe(r: _Reader, intermediate: int | None) -> dict[str, int | None]:
    t = r.model_type
    if t == "mixtral":
        return {"experts": r.integer("num_local_experts"), "experts_per_token": r.integer("num_experts_per_tok"),
                "expert_intermediate": intermediate}
    if t == "olmoe":
        return {"experts": r.integer("num_experts"), "experts_per_token": r.integer("num_experts_per_tok"),
                "expert_intermediate": intermediate}
    if t == "qwen2_moe":
        step = r.opt_int("decoder_sparse_step", 1, "Qwen2MoeConfig's default is 1 (every layer a mixture of experts)")
        if step not in (None, 1):
            r.bad("decoder_sparse_step", f"edgesim models every layer with the same MLP, so only 1 (every layer a "
                                         f"mixture of experts) is supported, got {step}")
        mlp_only = r.data.get("mlp_only_layers")
        if mlp_only is None:
            r.defaults.append("mlp_only_layers: absent; Qwen2MoeConfig's default is [] (no dense-MLP layers)")
        elif mlp_only != []:
            r.bad("mlp_only_layers", f"edgesim models every layer with the same MLP, so only [] (no dense-MLP layers) is "
                                     f"supported, got {mlp_only!r}")
        shared = r.integer("shared_expert_intermediate_size", minimum=0)
        return {"experts": r.integer("num_experts"), "experts_per_token": r.integer("num_experts_per_tok"),
                "expert_intermediate": r.integer("moe_intermediate_size"), "shared_expert_intermediate": shared}
    return {}


def _opt_checks(r: _Reader, hidden: int | None) -> None:
    proj = r.opt_int("word_embed_proj_dim", hidden, "OPTConfig's rule: equal to hidden_size")
    if proj is not None and hidden is not None and proj != hidden:
        r.bad("word_embed_proj_dim", f"edgesim has no projection between the embeddings and the decoder: expected "
                                     f"hidden_size ({hidden}), got {proj}")
    if not r.boolean("do_layer_norm_before", True, "OPTConfig's default is true (pre-LayerNorm)"):
        r.bad("do_layer_norm_before", "edgesim models pre-LayerNorm decoders: expected true, got false")


# edgesim key -> the config.json field it comes from (problems found by the model schema name that field)
def _origins(model_type: str) -> dict[str, str]:
    o = {"hidden": "hidden_size", "intermediate": "ffn_dim" if model_type == "opt" else "intermediate_size",
         "layers": "num_hidden_layers", "heads": "num_attention_heads", "kv_heads": "num_key_value_heads",
         "vocab": "vocab_size", "max_seq": "max_position_embeddings", "mlp": _ACT[model_type][0],
         "head_size": "head_dim", "sliding_window": "sliding_window", "tied_embeddings": "tie_word_embeddings",
         "experts": "num_local_experts" if model_type == "mixtral" else "num_experts",
         "experts_per_token": "num_experts_per_tok",
         "expert_intermediate": "moe_intermediate_size" if model_type == "qwen2_moe" else "intermediate_size",
         "shared_expert_intermediate": "shared_expert_intermediate_size", "name": "_name_or_path"}
    if model_type in ("opt", "gpt_neox"):
        o["kv_heads"] = "num_attention_heads"
    return o


def _optional_default(key: str, value: Any) -> bool:
    """An optional model key at its schema default (left out of the mapping, as a hand-written YAML leaves it)."""
    f = MODEL_SCHEMA[key]
    return isinstance(f, s.Field) and not f.required and value == f.default


def import_hf_config(path: str | Path, name: str | None = None) -> Imported:
    """Read a Hugging Face config.json and return the edgesim model mapping, validated as a model YAML is."""
    p = Path(path)
    source = str(path)
    data = _load_json(p, source)
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(data), "a number")
        raise ConfigError(Problem(source=source, path="<top>", message=f"expected a JSON object (a Hugging Face "
                                                                       f"config.json), got {kind}"))
    model_type = data.get("model_type")
    if not isinstance(model_type, str) or model_type not in CLASSES:
        what = "missing required field" if model_type is None else f"unsupported model_type {model_type!r}"
        raise ConfigError(Problem(source=source, path="model_type", message=f"{what}; edgesim imports "
                                                                            f"{', '.join(FAMILIES)}"))
    r = _Reader(data, source, model_type)
    hidden, heads = r.integer("hidden_size"), r.integer("num_attention_heads")
    intermediate = r.integer("ffn_dim" if model_type == "opt" else "intermediate_size")
    layers, vocab, max_seq = r.integer("num_hidden_layers"), r.integer("vocab_size"), r.integer("max_position_embeddings")
    kv_heads = _kv_heads(r, heads)
    head_size = _head_size(r, hidden, heads)
    mlp, act_field = _mlp(r)
    window, pattern = _sliding(r, layers)
    if model_type == "opt":
        _opt_checks(r, hidden)
    tied = r.boolean("tie_word_embeddings", _TIED_DEFAULT[model_type],
                  f"{r.cls}'s default is {str(_TIED_DEFAULT[model_type]).lower()}"
                  + (" (PretrainedConfig's, which OPTConfig keeps)" if model_type == "opt" else ""))
    moe = _moe(r, intermediate)
    if r.problems:
        raise ConfigError(r.problems)
    model_name, name_why = _name(data, p, source, name)
    raw: dict[str, Any] = {
        "name": model_name, "hidden": hidden, "intermediate": intermediate, "layers": layers, "heads": heads,
        "kv_heads": kv_heads, "vocab": vocab, "max_seq": max_seq, "mlp": mlp,
        "norm": "layernorm" if model_type in ("opt", "gpt_neox") else "rmsnorm",
        "head_size": head_size, "sliding_window": window, "sliding_window_pattern": pattern, "tied_embeddings": tied,
        "experts": 0, "experts_per_token": 0, "expert_intermediate": 0, "shared_expert_intermediate": 0, **moe}
    # the model YAML's own checks; a problem names the config.json field the value came from
    origins = {**_origins(model_type), "mlp": act_field}
    given = {k: v for k, v in raw.items() if not _optional_default(k, v)}
    problems: list[Problem] = []
    v = s.validate(given, MODEL_SCHEMA, source=source, problems=problems)
    if not problems:
        problems += shape_problems(v, source)
    if problems:
        raise ConfigError([Problem(source=x.source, path=origins.get(x.path, x.path),
                                   message=f"{x.message} (edgesim's {x.path})") for x in problems])
    header = _header(v, source, model_type, name_why, origins, r.defaults)
    return Imported(mapping=v, source=source, model_type=model_type, header=header)


def _header(v: dict[str, Any], source: str, model_type: str, name_why: str, origins: dict[str, str],
            defaults: list[str]) -> tuple[str, ...]:
    lines = ["Imported from a Hugging Face config.json by `edgesim model import` (edgesim/config/hf_import.py).",
             f"source: {source}; model_type: {model_type} (transformers {CLASSES[model_type]})",
             f"name: from {name_why}"]
    mapped = [f"{k} <- {origins[k]}" for k in ("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab", "max_seq",
                                               "mlp")]
    if v["head_size"]:
        mapped.append("head_size <- head_dim")
    if v["sliding_window"]:
        mapped.append(f"sliding_window <- sliding_window (pattern {v['sliding_window_pattern']})")
    if v["experts"]:
        mapped += [f"{k} <- {origins[k]}" for k in ("experts", "experts_per_token", "expert_intermediate",
                                                     "shared_expert_intermediate") if v[k]]
    lines.append("fields: " + ", ".join(mapped))
    norm_why = "LayerNorm" if v["norm"] == "layernorm" else "RMSNorm"
    lines.append(f"norm: {v['norm']} ({model_type} decoders use {norm_why}); mlp {v['mlp']} from the activation")
    if defaults:
        lines.append("defaulted (absent from the file; the rule of the transformers config class):")
        lines += [f"  {d}" for d in defaults]
    else:
        lines.append("defaulted: nothing; every value is from the file")
    return tuple(lines)


def to_yaml(imported: Imported) -> str:
    """The model YAML: the comment header, then the required keys and every optional key whose value is not the
    schema's default (tied_embeddings always, it is a decision)."""
    v = imported.mapping
    keys = [k for k in MODEL_SCHEMA
            if k == "tied_embeddings" or not _optional_default(k, v[k])]
    body = yaml.safe_dump({k: v[k] for k in keys}, sort_keys=False, default_flow_style=False)
    head = "\n".join(f"# {part}".rstrip() for line in imported.header
                     for part in textwrap.wrap(line, 114, subsequent_indent="    ") or [""])
    return f"{head}\n{body}".rstrip("\n")
