"""`edgesim trace --measure hf`: tiny randomly initialised LLaMA, Mistral and Qwen2 models from transformers' config
classes (never a download), measured end to end through the CLI, and their weight shapes against edgesim's op model.

transformers is in the `frontend` extra with torch, so with torch installed these tests run: the first test fails,
rather than letting the rest skip, when transformers is missing or is not the pinned version.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re
import socket
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from edgesim.cli.main import main  # noqa: E402
from edgesim.config.models import load_model  # noqa: E402
from edgesim.config.traces import load_trace  # noqa: E402
from edgesim.frontend.torch.export import HF_FAMILIES, hf_causal_lm, hf_config, hf_family_for  # noqa: E402
from edgesim.frontend.torch.sensitivity import decoder_layers  # noqa: E402
from edgesim.llm.layers import LayerSettings, decoder_layer_nodes  # noqa: E402
from edgesim.llm.model import ModelShape  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY_YAML = REPO / "workloads" / "models" / "tiny.yaml"
CLASSES = {"llama": ("LlamaConfig", "LlamaForCausalLM"), "mistral": ("MistralConfig", "MistralForCausalLM"),
           "qwen2": ("Qwen2Config", "Qwen2ForCausalLM")}
# edgesim's projection name -> the transformers decoder layer's nn.Linear (the same in all three families)
HF_LINEAR = {"q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj", "v_proj": "self_attn.v_proj",
             "o_proj": "self_attn.o_proj", "gate_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj", "down_proj": "mlp.down_proj"}


@pytest.fixture()
def transformers() -> Any:
    return pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building from a config must not reach a hub: any connection attempt fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"network access to {address} while building a model from its config")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def tiny_shape(family: str, **changes: Any) -> ModelShape:
    """workloads/models/tiny.yaml (hidden 64, 4 layers, 4 heads, 2 kv heads, intermediate 172) named after the family."""
    return dataclasses.replace(load_model("tiny"), **{"name": f"tiny_{family}", **changes})


def write_tiny_yaml(tmp_path: Path, family: str) -> Path:
    path = tmp_path / f"tiny_{family}.yaml"
    text = TINY_YAML.read_text()
    assert "name: tiny\n" in text
    path.write_text(text.replace("name: tiny\n", f"name: tiny_{family}\n"))
    return path


def test_the_frontend_extra_pins_transformers_and_it_is_installed():
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["frontend"]
    pins = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.+]*)", d).groups() for d in extra)  # type: ignore[union-attr]
    assert set(pins) == {"torch", "transformers"}, extra
    try:
        installed = importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("torch is installed but transformers is not: pip install -e '.[dev,frontend]'")
    assert installed == pins["transformers"], f"transformers {installed} installed, the frontend extra pins {pins['transformers']}"


@pytest.mark.parametrize("family", HF_FAMILIES)
def test_builds_the_family_from_its_config_class(family, transformers):
    shape = tiny_shape(family)
    model = hf_causal_lm(shape, family)
    cfg_cls, model_cls = CLASSES[family]
    assert type(model) is getattr(transformers, model_cls) and type(model.config) is getattr(transformers, cfg_cls)
    cfg = model.config
    assert (cfg.vocab_size, cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, cfg.num_attention_heads,
            cfg.num_key_value_heads, cfg.head_dim, cfg.max_position_embeddings) == (256, 64, 172, 4, 4, 2, 16, 128)
    assert cfg.hidden_act == "silu" and not cfg.tie_word_embeddings
    if family != "llama":  # the shape has full attention: no window (MistralConfig's default is 4096)
        assert cfg.sliding_window is None
    # the sensitivity measurement finds exactly the decoder layers, each with its seven projections
    layers = decoder_layers(model)
    assert [ref.path for ref in layers] == [f"model.layers.{i}" for i in range(4)]
    for ref in layers:
        assert sorted(name for name, _ in ref.linears) == sorted(HF_LINEAR.values())
        assert ref.module is model.model.layers[ref.index]
    # Qwen2's q/k/v carry biases, LLaMA's and Mistral's none: the family really differs
    q = model.model.layers[0].self_attn.q_proj
    assert (q.bias is not None) == (family == "qwen2")


def test_the_weights_are_seeded_without_touching_the_global_rng(transformers):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = hf_causal_lm(tiny_shape("llama"), "llama"), hf_causal_lm(tiny_shape("llama"), "llama")
    assert torch.equal(torch.random.get_rng_state(), before)
    w = "model.layers.2.mlp.down_proj.weight"
    assert torch.equal(a.state_dict()[w], b.state_dict()[w])
    assert not torch.equal(a.state_dict()[w], hf_causal_lm(tiny_shape("llama"), "llama", seed=1).state_dict()[w])


def _shape_variants() -> list[tuple[str, dict[str, Any]]]:
    """The tiny shape, and one whose head size is not hidden / heads (q and o not square) when ModelShape has one."""
    out: list[tuple[str, dict[str, Any]]] = [("tiny", {})]
    if "head_size" in {f.name for f in dataclasses.fields(ModelShape)}:
        out.append(("head_size_32", {"head_size": 32}))
    return out


@pytest.mark.parametrize("variant", _shape_variants(), ids=lambda v: v[0])
@pytest.mark.parametrize("family", HF_FAMILIES)
def test_op_model_weight_shapes_match_the_transformers_modules(family, variant, transformers):
    """Every projection GEMM of edgesim's decoder layer is k x n = in x out; its nn.Linear weight is out x in."""
    shape = tiny_shape(family, intermediate=96, **variant[1])  # 96: gate/up/down differ from every attention width
    nodes, _ = decoder_layer_nodes(shape, LayerSettings(seq=16))
    ops = {n.op.name: (n.op.k, n.op.n) for n in nodes if n.role == "linear"}
    assert set(ops) == set(HF_LINEAR), "the op model's projections are not the seven the mapping knows"
    model = hf_causal_lm(shape, family)
    for i, layer in enumerate(model.model.layers):
        hf_linears = {name for name, mod in layer.named_modules() if isinstance(mod, torch.nn.Linear)}
        assert hf_linears == set(HF_LINEAR.values()), f"layer {i}: unmapped transformers Linear layers"
        for ours, theirs in HF_LINEAR.items():
            k, n = ops[ours]
            out_features, in_features = layer.get_submodule(theirs).weight.shape
            assert (k, n) == (in_features, out_features), f"{family} layer {i} {ours}: {k}x{n}, Linear {out_features}x{in_features}"
    d = variant[1].get("head_size", 16)  # the head size, 64 / 4 unless given
    assert ops["q_proj"] == (64, 4 * d) and ops["o_proj"] == (4 * d, 64) and ops["k_proj"] == ops["v_proj"] == (64, 2 * d)
    assert ops["gate_proj"] == ops["up_proj"] == (64, 96) and ops["down_proj"] == (96, 64)


@pytest.mark.parametrize("family", HF_FAMILIES)
def test_cli_measures_the_family_and_tune_runs_its_trace(family, tmp_path, capsys, transformers):
    yaml = write_tiny_yaml(tmp_path, family)
    out, csv = tmp_path / f"{family}.json", tmp_path / f"{family}_mse.csv"
    rc = main(["trace", "--measure", "hf", "--hf-family", family, "--model", str(yaml), "--stride", "2", "--quick",
               "--no-progress", "-o", str(out), "--mse-csv", str(csv)])
    text = capsys.readouterr().out
    assert rc == 0 and f"measured hf {family} (tiny_{family}, 4 layers)" in text and out.exists()
    shape = load_model(str(yaml))
    trace = load_trace(out, shape)
    assert trace.provenance["measured"] == "hf" and trace.provenance["hf_family"] == family
    assert len(trace.policies) == 4 and trace.exit_layers == (1, 3)
    mse = pd.read_csv(csv)
    assert sorted(mse["layer"].unique()) == [0, 1, 2, 3]
    assert (mse[mse["pruning_ratio"] == 0.9].groupby("layer")["output_mse"].mean() > 0).all()  # pruning changed every layer
    rc = main(["tune", "--trace", str(out), "--model", str(yaml), "--compare", "lora,edge-llm", "--no-cache"])
    text = capsys.readouterr().out
    assert rc == 0 and f"edgesim tune: tiny_{family}" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.split()[:1] in (["lora"], ["edge-llm"])}
    assert set(rows) == {"lora", "edge-llm"}
    assert float(rows["edge-llm"][1]) < float(rows["lora"][1])  # step ms: the trace's sparsity and exits cut the step


def test_cli_family_defaults_to_the_shape_name_and_hf_llama_is_an_alias(tmp_path, capsys, transformers):
    yaml = write_tiny_yaml(tmp_path, "qwen2")
    out = tmp_path / "auto.json"
    assert main(["trace", "--measure", "hf", "--model", str(yaml), "--stride", "2", "--quick", "--no-progress", "-o", str(out)]) == 0
    assert load_trace(out, load_model(str(yaml))).provenance["hf_family"] == "qwen2"
    assert main(["trace", "--measure", "hf-llama", "--model", "tiny", "--stride", "2", "--quick", "--no-progress", "-o", str(out)]) == 0
    t = load_trace(out, load_model("tiny"))
    assert t.provenance["measured"] == "hf-llama" and t.provenance["hf_family"] == "llama"
    capsys.readouterr()
    assert main(["trace", "--measure", "hf-llama", "--hf-family", "mistral", "--model", "tiny", "-o", str(out)]) == 2
    assert "--hf-family" in capsys.readouterr().err




def test_sliding_window_and_tied_embeddings_reach_the_config(transformers):
    for family in ("mistral", "qwen2"):
        model = hf_causal_lm(tiny_shape(family, sliding_window=32, tied_embeddings=True), family)
        assert model.config.sliding_window == 32 and model.lm_head.weight is model.model.embed_tokens.weight
        if family == "qwen2":  # every layer in the window, as the shape models it
            assert model.config.layer_types == ["sliding_attention"] * 4
    with pytest.raises(ValueError, match="sliding window"):
        hf_config(tiny_shape("llama", sliding_window=32), "llama")
    with pytest.raises(ValueError, match="one layer in 2 only"):  # Gemma 2's alternation: not these classes
        hf_config(tiny_shape("mistral", sliding_window=32, sliding_window_pattern=2), "mistral")


def test_family_from_the_shape_name():
    names = ("qwen2_7b", "Qwen2.5-0.5B", "mistral_7b", "llama7b", "tiny")
    assert [hf_family_for(tiny_shape("x", name=n)) for n in names] == ["qwen2", "qwen2", "mistral", "llama", "llama"]


def test_refuses_shapes_the_families_cannot_be(tmp_path, capsys, transformers):
    for bad, match in (({"mlp": "gelu"}, "SwiGLU"), ({"norm": "layernorm"}, "RMSNorm")):
        with pytest.raises(ValueError, match=match):
            hf_config(tiny_shape("llama", **bad), "llama")
    with pytest.raises(ValueError, match="unknown transformers family"):
        hf_config(tiny_shape("llama"), "gpt2")
    # a shape the CLI cannot build is a user error (exit 2), not a traceback
    path = tmp_path / "gelu.yaml"
    path.write_text(TINY_YAML.read_text().replace("mlp: swiglu", "mlp: gelu"))
    assert main(["trace", "--measure", "hf", "--model", str(path), "--quick", "--no-progress", "-o", str(tmp_path / "x.json")]) == 2
    assert "SwiGLU" in capsys.readouterr().err
