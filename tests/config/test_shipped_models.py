"""The models shipped from published Hugging Face configs (workloads/hf_configs/, sources in its SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesim.cli import main
from edgesim.config.builtin import MODEL_DIR
from edgesim.config.hf_import import import_hf_config
from edgesim.config.models import load_model
from edgesim.llm.model import ModelShape
from tests.conftest import REPO

HF_DIR = REPO / "workloads" / "hf_configs"
SHIPPED = sorted(p.stem for p in HF_DIR.glob("*.json") if (MODEL_DIR / f"{p.stem}.yaml").exists())


def test_at_least_eight_with_a_sliding_window_and_a_mixture_of_experts():
    shapes = [load_model(n) for n in SHIPPED]
    assert len(shapes) >= 8
    assert any(s.sliding_window for s in shapes) and any(s.experts for s in shapes)
    sources = (HF_DIR / "SOURCES.md").read_text()
    assert all(f"{n}.json" in sources for n in SHIPPED)  # every shipped config says where it came from


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_yaml_is_what_import_makes_of_the_config(name):
    assert ModelShape(**import_hf_config(HF_DIR / f"{name}.json", name=name).mapping) == load_model(name)


# Published values, typed from the config files' sources (SOURCES.md), not read through the importer.
PUBLISHED = {
    "llama3_2_1b": dict(hidden=2048, intermediate=8192, layers=16, heads=32, kv_heads=8, vocab=128256,
                        tied_embeddings=True, mlp="swiglu"),
    "mistral_7b_v0_1": dict(hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8, sliding_window=4096,
                            tied_embeddings=False),
    "gemma2_2b_it": dict(hidden=2304, heads=8, kv_heads=4, head_size=256, sliding_window=4096,
                         sliding_window_pattern=2, mlp="geglu", tied_embeddings=True, vocab=256000),
    "mixtral_8x7b_v0_1": dict(experts=8, experts_per_token=2, expert_intermediate=14336, layers=32),
    "olmoe_1b_7b_0924": dict(hidden=2048, experts=64, experts_per_token=8, expert_intermediate=1024, layers=16),
    "qwen1_5_moe_a2_7b_chat": dict(experts=60, experts_per_token=4, expert_intermediate=1408,
                                   shared_expert_intermediate=5632, layers=24),
    "qwen2_5_0_5b": dict(hidden=896, intermediate=4864, layers=24, heads=14, kv_heads=2, tied_embeddings=True),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_values(name):
    shape = load_model(name)
    assert {k: getattr(shape, k) for k in PUBLISHED[name]} == PUBLISHED[name]


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_tunes_on_the_default_accelerator(name, tmp_path, capsys):
    code = main(["tune", "--model", name, "--compare", "lora,edge-llm", "--format", "json", "--allow-unfit",
                 "--cache-dir", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    methods = {m["method"]: m for m in out["methods"]}
    assert set(methods) == {"lora", "edge-llm"} and all(m["complete"] for m in methods.values())
    # Edge-LLM trains a window and stops the forward at its exit: its step is shorter than LoRA's on every model
    assert methods["edge-llm"]["seconds"] < methods["lora"]["seconds"]
    assert Path(out["trace"].split(" ")[0]).name == f"{name}_edge_llm.json"
