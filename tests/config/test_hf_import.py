"""Hugging Face config.json -> edgesim model shape (edgesim.config.hf_import; `edgesim model import`; `--model X.json`).

Each family's config is hand-written here with the fields its published configs use (tiny numbers), and mapped to the
expected ModelShape field by field; malformed configs are refused with the file, the field and the value.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from edgesim.cli.main import main
from edgesim.config.hf_import import import_hf_config
from edgesim.config.models import load_model
from edgesim.errors import ConfigError
from edgesim.llm.model import ModelShape

LLAMA = {"_name_or_path": "acme/Tiny-Llama", "architectures": ["LlamaForCausalLM"], "model_type": "llama",
         "hidden_act": "silu", "hidden_size": 64, "intermediate_size": 172, "max_position_embeddings": 128,
         "num_attention_heads": 4, "num_hidden_layers": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
         "tie_word_embeddings": False, "vocab_size": 256, "torch_dtype": "bfloat16"}

CASES: dict[str, tuple[dict[str, Any], ModelShape]] = {
    "llama": (LLAMA, ModelShape(name="Tiny-Llama", hidden=64, intermediate=172, layers=4, heads=4, kv_heads=2, vocab=256,
                                max_seq=128, mlp="swiglu", norm="rmsnorm")),
    # Mistral-7B-v0.1 style: a window in every layer
    "mistral": ({"_name_or_path": "acme/mini-mistral", "model_type": "mistral", "hidden_act": "silu", "hidden_size": 64,
                 "intermediate_size": 224, "max_position_embeddings": 512, "num_attention_heads": 8,
                 "num_hidden_layers": 3, "num_key_value_heads": 2, "sliding_window": 32, "tie_word_embeddings": False,
                 "vocab_size": 300},
                ModelShape(name="mini-mistral", hidden=64, intermediate=224, layers=3, heads=8, kv_heads=2, vocab=300,
                           max_seq=512, mlp="swiglu", norm="rmsnorm", sliding_window=32)),
    # Qwen2-0.5B style: sliding_window given but use_sliding_window false (no window), tied embeddings
    "qwen2": ({"_name_or_path": "acme/qwen-nano", "model_type": "qwen2", "hidden_act": "silu", "hidden_size": 56,
               "intermediate_size": 152, "max_position_embeddings": 256, "max_window_layers": 2,
               "num_attention_heads": 7, "num_hidden_layers": 2, "num_key_value_heads": 1, "sliding_window": 64,
               "use_sliding_window": False, "tie_word_embeddings": True, "vocab_size": 500},
              ModelShape(name="qwen-nano", hidden=56, intermediate=152, layers=2, heads=7, kv_heads=1, vocab=500,
                         max_seq=256, mlp="swiglu", norm="rmsnorm", tied_embeddings=True)),
    # Phi-3-mini style: no num_key_value_heads (Phi3Config: equal to the heads), no tie_word_embeddings (false)
    "phi3": ({"_name_or_path": "acme/phi-mini", "model_type": "phi3", "hidden_act": "silu", "hidden_size": 96,
              "intermediate_size": 256, "max_position_embeddings": 4096, "num_attention_heads": 6,
              "num_hidden_layers": 2, "sliding_window": 2047, "vocab_size": 320},
             ModelShape(name="phi-mini", hidden=96, intermediate=256, layers=2, heads=6, kv_heads=6, vocab=320,
                        max_seq=4096, mlp="swiglu", norm="rmsnorm", sliding_window=2047)),
    # Gemma-7B style: head_dim (256) other than hidden / heads, hidden_act gelu beside hidden_activation
    "gemma": ({"_name_or_path": "acme/gem", "model_type": "gemma", "hidden_act": "gelu",
               "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 48, "intermediate_size": 192, "head_dim": 16,
               "max_position_embeddings": 256, "num_attention_heads": 4, "num_hidden_layers": 2,
               "num_key_value_heads": 4, "vocab_size": 400},
              ModelShape(name="gem", hidden=48, intermediate=192, layers=2, heads=4, kv_heads=4, vocab=400, max_seq=256,
                         mlp="geglu", norm="rmsnorm", head_size=16, tied_embeddings=True)),
    # Gemma-2 style: windowed layers 0, 2, 4, ...
    "gemma2": ({"_name_or_path": "acme/gem2", "model_type": "gemma2", "hidden_act": "gelu_pytorch_tanh",
                "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 40, "intermediate_size": 160, "head_dim": 16,
                "max_position_embeddings": 512, "num_attention_heads": 4, "num_hidden_layers": 4,
                "num_key_value_heads": 2, "sliding_window": 64, "query_pre_attn_scalar": 16,
                "final_logit_softcapping": 30.0, "vocab_size": 256},
               ModelShape(name="gem2", hidden=40, intermediate=160, layers=4, heads=4, kv_heads=2, vocab=256,
                          max_seq=512, mlp="geglu", norm="rmsnorm", head_size=16, sliding_window=64,
                          sliding_window_pattern=2, tied_embeddings=True)),
    # OPT-1.3b style: ffn_dim, activation_function, LayerNorm, tied by PretrainedConfig's default
    "opt": ({"_name_or_path": "facebook/opt-micro", "model_type": "opt", "activation_function": "relu",
             "do_layer_norm_before": True, "ffn_dim": 128, "hidden_size": 32, "max_position_embeddings": 64,
             "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 272, "word_embed_proj_dim": 32,
             "enable_bias": True},
            ModelShape(name="opt-micro", hidden=32, intermediate=128, layers=2, heads=4, kv_heads=4, vocab=272,
                       max_seq=64, mlp="relu", norm="layernorm", tied_embeddings=True)),
    # Pythia style
    "gpt_neox": ({"_name_or_path": "EleutherAI/pythia-nano", "model_type": "gpt_neox", "hidden_act": "gelu",
                  "hidden_size": 64, "intermediate_size": 256, "max_position_embeddings": 128,
                  "num_attention_heads": 8, "num_hidden_layers": 3, "rotary_pct": 0.25, "use_parallel_residual": True,
                  "tie_word_embeddings": False, "vocab_size": 512},
                 ModelShape(name="pythia-nano", hidden=64, intermediate=256, layers=3, heads=8, kv_heads=8, vocab=512,
                            max_seq=128, mlp="gelu", norm="layernorm")),
    # Mixtral style: intermediate_size is each expert's
    "mixtral": ({"_name_or_path": "acme/mix", "model_type": "mixtral", "hidden_act": "silu", "hidden_size": 64,
                 "intermediate_size": 112, "max_position_embeddings": 256, "num_attention_heads": 8,
                 "num_hidden_layers": 2, "num_key_value_heads": 2, "num_local_experts": 8, "num_experts_per_tok": 2,
                 "sliding_window": None, "tie_word_embeddings": False, "vocab_size": 320},
                ModelShape(name="mix", hidden=64, intermediate=112, layers=2, heads=8, kv_heads=2, vocab=320,
                           max_seq=256, mlp="swiglu", norm="rmsnorm", experts=8, experts_per_token=2,
                           expert_intermediate=112)),
    # Qwen1.5-MoE style: small routed experts and a shared expert
    "qwen2_moe": ({"_name_or_path": "acme/qmoe", "model_type": "qwen2_moe", "hidden_act": "silu", "hidden_size": 64,
                   "intermediate_size": 176, "moe_intermediate_size": 44, "shared_expert_intermediate_size": 176,
                   "num_experts": 6, "num_experts_per_tok": 4, "decoder_sparse_step": 1, "mlp_only_layers": [],
                   "norm_topk_prob": False, "max_position_embeddings": 512, "num_attention_heads": 4,
                   "num_hidden_layers": 2, "num_key_value_heads": 4, "use_sliding_window": False,
                   "sliding_window": 512, "max_window_layers": 2, "tie_word_embeddings": False, "vocab_size": 640},
                  ModelShape(name="qmoe", hidden=64, intermediate=176, layers=2, heads=4, kv_heads=4, vocab=640,
                             max_seq=512, mlp="swiglu", norm="rmsnorm", experts=6, experts_per_token=4,
                             expert_intermediate=44, shared_expert_intermediate=176)),
    # OLMoE style: intermediate_size is each expert's
    "olmoe": ({"_name_or_path": "allenai/olmoe-nano", "model_type": "olmoe", "hidden_act": "silu", "hidden_size": 32,
               "intermediate_size": 16, "max_position_embeddings": 64, "num_attention_heads": 4,
               "num_hidden_layers": 2, "num_key_value_heads": 4, "num_experts": 16, "num_experts_per_tok": 4,
               "tie_word_embeddings": False, "vocab_size": 128},
              ModelShape(name="olmoe-nano", hidden=32, intermediate=16, layers=2, heads=4, kv_heads=4, vocab=128,
                         max_seq=64, mlp="swiglu", norm="rmsnorm", experts=16, experts_per_token=4,
                         expert_intermediate=16)),
}


def _json(write: Any, data: Any, name: str = "config.json") -> str:
    return str(write(name, json.dumps(data)))


def _with(base: dict[str, Any], drop: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    out = {k: v for k, v in base.items() if k not in drop}
    out.update(changes)
    return out


@pytest.mark.parametrize("family", sorted(CASES))
def test_each_family_maps_field_by_field(family, write):
    data, expected = CASES[family]
    path = _json(write, data)
    shape = load_model(path)  # --model X.json: imported in memory
    for field in ModelShape.__dataclass_fields__:
        assert getattr(shape, field) == getattr(expected, field), field
    assert shape == expected


def test_every_family_is_covered():
    from edgesim.config.hf_import import FAMILIES
    assert sorted(CASES) == sorted(FAMILIES)


@pytest.mark.parametrize("family", sorted(CASES))
def test_model_import_writes_a_yaml_that_reads_back_to_the_same_shape(family, write, tmp_path, capsys):
    data, expected = CASES[family]
    src = _json(write, data)
    out = tmp_path / "imported.yaml"
    assert main(["model", "import", src, "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Imported from a Hugging Face config.json")
    assert f"model_type: {family}" in text
    assert load_model(str(out)) == expected
    # without -o: the same YAML on stdout
    capsys.readouterr()
    assert main(["model", "import", src]) == 0
    assert capsys.readouterr().out == text


def test_defaults_are_written_into_the_header(write, capsys):
    # a LLaMA config without num_key_value_heads and tie_word_embeddings: LlamaConfig's rules, said in the header
    src = _json(write, _with(LLAMA, drop=("num_key_value_heads", "tie_word_embeddings")))
    assert main(["model", "import", src]) == 0
    text = capsys.readouterr().out
    assert "#   num_key_value_heads: absent; LlamaConfig's rule: equal to num_attention_heads (4)" in text
    assert "#   tie_word_embeddings: absent; LlamaConfig's default is false" in text
    assert "kv_heads: 4\n" in text and "tied_embeddings: false" in text
    # every value from the file: the header says so
    src = _json(write, LLAMA, "full.json")
    assert main(["model", "import", src]) == 0
    assert "# defaulted: nothing; every value is from the file" in capsys.readouterr().out


def test_opt_tied_embeddings_default_is_pretrainedconfigs(write):
    data = _with(CASES["opt"][0], drop=("tie_word_embeddings",))
    imp = import_hf_config(_json(write, data))
    assert imp.mapping["tied_embeddings"] is True
    assert any("tie_word_embeddings: absent; OPTConfig's default is true (PretrainedConfig's" in h for h in imp.header)
    assert import_hf_config(_json(write, _with(data, tie_word_embeddings=False), "untied.json")).mapping[
        "tied_embeddings"] is False


@pytest.mark.parametrize(("name", "data", "file", "expected"), [
    ("My Model/v2", LLAMA, "config.json", "My-Model-v2"),  # --name, sanitised
    (None, _with(LLAMA, _name_or_path="/home/me/ckpt/llama-tiny/"), "config.json", "llama-tiny"),
    (None, _with(LLAMA, drop=("_name_or_path",)), "tiny llama.json", "tiny-llama"),  # the file's stem
])
def test_name(name, data, file, expected, write):
    assert import_hf_config(_json(write, data, file), name=name).mapping["name"] == expected


def test_tune_accepts_a_config_json_as_model(write, capsys):
    # the built-in tiny model (workloads/models/tiny.yaml) as a LLaMA config.json, with tiny's built-in trace
    data = _with(LLAMA, _name_or_path="acme/tiny")
    path = _json(write, data)
    assert load_model(path) == load_model("tiny")
    code = main(["tune", "--model", path, "--compare", "lora,edge-llm", "--trace", "tiny_edge_llm", "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "tiny"
    assert len(out["methods"]) == 2


MALFORMED: list[tuple[str, Any, str]] = [
    ("unknown model_type", _with(LLAMA, model_type="bert"),
     "config.json: model_type: unsupported model_type 'bert'; edgesim imports gemma, gemma2, gpt_neox, llama, mistral, "
     "mixtral, olmoe, opt, phi3, qwen2, qwen2_moe"),
    ("no model_type", _with(LLAMA, drop=("model_type",)),
     "config.json: model_type: missing required field; edgesim imports gemma, gemma2, gpt_neox, llama, mistral, "
     "mixtral, olmoe, opt, phi3, qwen2, qwen2_moe"),
    ("missing hidden_size", _with(LLAMA, drop=("hidden_size",)),
     "config.json: hidden_size: missing required field (expected a positive integer)"),
    ("hidden_size not an integer", _with(LLAMA, hidden_size=64.0),
     "config.json: hidden_size: expected a positive integer, got 64.0"),
    ("hidden_act swish2", _with(LLAMA, hidden_act="swish2"),
     "config.json: hidden_act: unsupported activation 'swish2' for model_type llama; edgesim maps silu (to mlp swiglu)"),
    ("gpt_neox gelu_new", _with(CASES["gpt_neox"][0], hidden_act="gelu_new"),
     "config.json: hidden_act: unsupported activation 'gelu_new' for model_type gpt_neox; edgesim maps gelu (to mlp gelu)"),
    ("qwen2_moe decoder_sparse_step 2", _with(CASES["qwen2_moe"][0], decoder_sparse_step=2),
     "config.json: decoder_sparse_step: edgesim models every layer with the same MLP, so only 1 (every layer a mixture "
     "of experts) is supported, got 2"),
    ("qwen2_moe mlp_only_layers", _with(CASES["qwen2_moe"][0], mlp_only_layers=[0]),
     "config.json: mlp_only_layers: edgesim models every layer with the same MLP, so only [] (no dense-MLP layers) is "
     "supported, got [0]"),
    ("more experts per token than experts", _with(CASES["mixtral"][0], num_experts_per_tok=9),
     "config.json: num_experts_per_tok: experts_per_token (9) exceeds experts (8) (edgesim's experts_per_token)"),
    ("heads not a multiple of kv heads", _with(LLAMA, num_key_value_heads=3),
     "config.json: num_key_value_heads: heads (4) must be a multiple of kv_heads (3) (edgesim's kv_heads)"),
    ("beyond the schema's bound", _with(LLAMA, hidden_size=70_000),
     "config.json: hidden_size: expected a positive integer (at most 65,536), got 70000 (edgesim's hidden)"),
    ("opt word_embed_proj_dim", _with(CASES["opt"][0], word_embed_proj_dim=16),
     "config.json: word_embed_proj_dim: edgesim has no projection between the embeddings and the decoder: expected "
     "hidden_size (32), got 16"),
    ("opt post-LayerNorm", _with(CASES["opt"][0], do_layer_norm_before=False),
     "config.json: do_layer_norm_before: edgesim models pre-LayerNorm decoders: expected true, got false"),
    ("mistral without num_key_value_heads", _with(CASES["mistral"][0], drop=("num_key_value_heads",)),
     "config.json: num_key_value_heads: missing required field: MistralConfig's default (8) is a number of one published "
     "model, not a rule edgesim can apply to this one; give num_key_value_heads"),
    ("gemma without head_dim", _with(CASES["gemma"][0], drop=("head_dim",)),
     "config.json: head_dim: missing required field: GemmaConfig's default (256) is a number of one published model, "
     "not a rule edgesim can apply to this one; give head_dim"),
    ("qwen2 window in the upper layers only", _with(CASES["qwen2"][0], use_sliding_window=True, num_hidden_layers=4),
     "config.json: max_window_layers: edgesim's sliding_window_pattern expresses a window in every layer or in layers "
     "0, 2, 4, ... only; this config gives windowed layers 2, 3 of 4"),
    ("tie_word_embeddings not a boolean", _with(LLAMA, tie_word_embeddings="no"),
     "config.json: tie_word_embeddings: expected true or false, got 'no'"),
]


@pytest.mark.parametrize(("data", "message"), [(d, m) for _, d, m in MALFORMED], ids=[i for i, _, _ in MALFORMED])
def test_malformed_configs_are_refused_naming_the_field(data, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        import_hf_config("config.json")
    assert [str(p) for p in exc.value.problems] == [message]
    for argv in (["model", "import", "config.json"], ["tune", "--model", "config.json", "--compare", "lora"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"edgesim: error: 1 problem:\n  {message}\n"


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "config.json: <top>: expected a JSON object (a Hugging Face config.json), got an array"),
    ('"llama"', "config.json: <top>: expected a JSON object (a Hugging Face config.json), got a string"),
    ('{"model_type": "llama",\n "hidden_size": }', "config.json:2: invalid JSON: Expecting value"),
    ("", "config.json:1: invalid JSON: Expecting value"),
])
def test_not_a_json_object_or_invalid_json(text, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        import_hf_config("config.json")
    assert [str(p) for p in exc.value.problems] == [message]
    assert main(["model", "import", "config.json"]) == 2
    assert capsys.readouterr().err == f"edgesim: error: 1 problem:\n  {message}\n"


def test_every_problem_at_once(write):
    data = _with(LLAMA, drop=("hidden_size", "vocab_size"), hidden_act="relu")
    with pytest.raises(ConfigError) as exc:
        import_hf_config(_json(write, data))
    assert [p.path for p in exc.value.problems] == ["hidden_size", "vocab_size", "hidden_act"]


def test_missing_file_and_no_subcommand(tmp_path, capsys):
    assert main(["model", "import", str(tmp_path / "absent.json")]) == 2
    assert "absent.json: cannot read file" in capsys.readouterr().err
    assert main(["model"]) == 2
    assert "give a subcommand: import CONFIG.json" in capsys.readouterr().err


def test_qwen2_window_in_every_layer_and_gemma2_layer_types(write):
    # Qwen2Config: layers i >= max_window_layers slide; max_window_layers 0: every layer
    q = _with(CASES["qwen2"][0], use_sliding_window=True, max_window_layers=0)
    m = import_hf_config(_json(write, q)).mapping
    assert (m["sliding_window"], m["sliding_window_pattern"]) == (64, 1)
    # an explicit layer_types list wins over the class's rule
    g = _with(CASES["gemma2"][0], layer_types=["sliding_attention"] * 4)
    m = import_hf_config(_json(write, g, "g.json")).mapping
    assert (m["sliding_window"], m["sliding_window_pattern"]) == (64, 1)
