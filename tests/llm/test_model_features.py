"""Sliding-window attention, mixture of experts and tied embeddings, checked by hand on tiny shapes.

The tiny model: hidden 64, 4 heads of 16, 2 KV heads (kv width 32), intermediate 172, vocab 256, 4 layers.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from edgesim.config.models import load_model
from edgesim.errors import ConfigError
from edgesim.llm.inference import InferenceSettings, run_inference
from edgesim.llm.layers import LayerSettings, decoder_layer_nodes
from edgesim.llm.model import ModelShape
from edgesim.llm.step import TuningSettings, expand_step
from edgesim.methods import Method
from edgesim.ops import Gemm, VectorKind

TINY = ModelShape(name="tiny", hidden=64, intermediate=172, layers=4, heads=4, kv_heads=2, vocab=256, max_seq=128,
                  mlp="swiglu", norm="rmsnorm")


def gemms(model: ModelShape, seq: int, **kw: object) -> dict[str, Gemm]:
    nodes, _ = decoder_layer_nodes(model, LayerSettings(seq=seq, **kw))  # type: ignore[arg-type]
    return {n.op.name: n.op for n in nodes if isinstance(n.op, Gemm)}


def test_sliding_window_caps_attention_work():
    # seq 32, window 8: each of the 32 queries of each of the 4 heads attends to 8 keys of width 16, so the score GEMM
    # is 4 x (32x16)·(16x8) = 4·32·8·16 = 16,384 MACs, a quarter of the full 4·32·32·16 = 65,536; the context GEMM
    # likewise (32x8)·(8x16) per head; the projections do not change
    full, win = gemms(TINY, 32), gemms(replace(TINY, sliding_window=8), 32)
    assert full["attn_scores"].macs == 65_536 and win["attn_scores"].macs == 16_384
    assert (win["attn_context"].m, win["attn_context"].k, win["attn_context"].n) == (32, 8, 16)
    assert win["attn_context"].macs == 16_384
    assert {k: v for k, v in full.items() if not k.startswith("attn")} == \
        {k: v for k, v in win.items() if not k.startswith("attn")}
    # a window longer than the sequence changes nothing
    assert gemms(replace(TINY, sliding_window=64), 32) == full


def test_sliding_window_caps_the_kv_cache(default_arch):
    # prompt 32 + 8 generated = 40 positions; with a window of 8 each layer keeps K and V for 8 positions only:
    # 2 x 8 x kv width 32 x 2 bytes (fp16 KV at base_bits 16) = 1,024 bytes a layer, 4,096 for 4 layers (40 positions:
    # 5x that)
    st = InferenceSettings(prompt=32, generate=8)
    full = run_inference(default_arch, TINY, st, None)
    win = run_inference(default_arch, replace(TINY, sliding_window=8), st, None)
    assert full.kv_cache_bytes == 4 * 2 * 40 * 32 * 2
    assert win.kv_cache_bytes == 4 * 2 * 8 * 32 * 2
    assert win.decode_seconds_per_token < full.decode_seconds_per_token


MOE = replace(TINY, experts=8, experts_per_token=2, expert_intermediate=32)


def test_experts_touched_by_hand():
    # E = 8, k = 2: one token touches exactly 2 experts; 4 tokens miss a given expert with probability (6/8)^4 =
    # 0.31640625, so 8 x 0.68359375 = 5.46875 are touched on average, 6 loaded
    assert MOE.experts_touched(1) == pytest.approx(2.0)
    assert MOE.experts_touched(4) == pytest.approx(5.46875)
    assert MOE.experts_loaded(1) == 2 and MOE.experts_loaded(4) == 6
    assert MOE.experts_loaded(10_000) == 8


def test_moe_ops_by_hand():
    # 4 tokens: router (4x64)·(64x8); 8 routed slots spread over the 6 loaded experts, ceil(8/6) = 2 tokens each:
    # gate and up are 6 x (2x64)·(64x32), down 6 x (2x32)·(32x64); no dense MLP
    g = gemms(MOE, 4)
    assert (g["router"].m, g["router"].k, g["router"].n) == (4, 64, 8)
    gate = g["expert_gate_proj"]
    assert (gate.batch, gate.m, gate.k, gate.n) == (6, 2, 64, 32)
    down = g["expert_down_proj"]
    assert (down.batch, down.m, down.k, down.n) == (6, 2, 32, 64)
    assert "gate_proj" not in g and "down_proj" not in g
    # the weights read: 6 distinct experts' matrices, 6 x 64 x 32 elements per projection
    assert gate.batch * gate.k * gate.n == 12_288


def test_moe_flops_scale_with_top_k():
    # 64 tokens touch all 8 experts for k = 1 and k = 2 (8·(1 − (7/8)^64) = 7.9985, ceil 8): 64·k/8 tokens per
    # expert, so every expert GEMM does exactly twice the MACs at k = 2; the router's do not change
    one, two = gemms(replace(MOE, experts_per_token=1), 64), gemms(MOE, 64)
    for name in ("expert_gate_proj", "expert_up_proj", "expert_down_proj"):
        assert (one[name].batch, two[name].batch) == (8, 8)
        assert two[name].macs == 2 * one[name].macs
    assert two["router"].macs == one["router"].macs


def test_moe_memory_stores_every_expert_and_reads_the_touched(default_arch):
    # a full fine-tune at 16 bits (2 bytes a weight): every layer stores all 8 experts' three 64x32 matrices,
    # 8 x 3 x 2,048 x 2 = 98,304 bytes, however few a batch of 1 token touches (2); the dense MLP's 3 x 64 x 172 x 2 =
    # 66,048 bytes are gone. Per layer: 98,304 − 66,048 + router 64 x 8 x 2 = 1,024 → +33,280 bytes, 4 layers 133,120
    st = TuningSettings(seq=1, batch=1)
    dense = expand_step(default_arch, TINY, Method.FULL, st)
    moe = expand_step(default_arch, MOE, Method.FULL, st)
    assert moe.persistent_bytes["weights"] - dense.persistent_bytes["weights"] == pytest.approx(133_120)
    assert moe.trainable_params - dense.trainable_params == 4 * (8 * 3 * 2_048 - 3 * 64 * 172 + 64 * 8)
    gate = next(n.op for n in moe.nodes if n.op.name == "L0.expert_gate_proj")
    assert isinstance(gate, Gemm) and gate.batch == 2  # the 2 experts one token touches are read


def test_tied_embeddings_are_stored_once(default_arch):
    # the head is the embedding table: 256 x 64 weights at the base width (2 bytes) = 32,768 bytes fewer
    st = TuningSettings(seq=16)
    untied = expand_step(default_arch, TINY, Method.LORA, st)
    tied = expand_step(default_arch, replace(TINY, tied_embeddings=True), Method.LORA, st)
    assert untied.persistent_bytes["weights"] - tied.persistent_bytes["weights"] == 256 * 64 * 2
    inf = InferenceSettings(prompt=16, generate=4)
    a = run_inference(default_arch, TINY, inf, None)
    b = run_inference(default_arch, replace(TINY, tied_embeddings=True), inf, None)
    assert a.weight_bytes - b.weight_bytes == 256 * 64 * 2


def test_head_size_other_than_hidden_over_heads():
    # Gemma-style: hidden 64, 4 heads of 32 (q width 128, not 64): q (T x 64)·(64 x 128), o (T x 128)·(128 x 64)
    g = gemms(replace(TINY, head_size=32), 8)
    assert (g["q_proj"].k, g["q_proj"].n) == (64, 128) and (g["o_proj"].k, g["o_proj"].n) == (128, 64)
    assert (g["k_proj"].n, g["attn_scores"].k) == (64, 32)


@pytest.mark.parametrize("extra, field, words", [
    ({"experts": 8}, "experts_per_token", "needs experts_per_token"),
    ({"experts": 4, "experts_per_token": 5}, "experts_per_token", "exceeds experts"),
    ({"experts_per_token": 2}, "experts_per_token", "given without experts"),
    ({"experts": 8, "experts_per_token": 2, "mlp": "gelu"}, "mlp", "SwiGLU experts"),
    ({"heads": 5}, "heads", "or give head_size"),
    ({"tied_embeddings": "maybe"}, "tied_embeddings", "true or false"),
    ({"sliding_window": 0}, "sliding_window", "expected"),
])
def test_inconsistent_model_files_name_the_field(write, extra, field, words):
    base = {"name": "t", "hidden": 64, "intermediate": 172, "layers": 2, "heads": 4, "kv_heads": 2, "vocab": 256,
            "max_seq": 128, "mlp": "swiglu", "norm": "rmsnorm", **extra}
    path = write("m.yaml", "\n".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in base.items()))
    with pytest.raises(ConfigError) as e:
        load_model(str(path))
    text = str(e.value)
    assert field in text and words in text



def test_lora_on_experts_is_one_adapter_per_expert(default_arch):
    # rank 4 on every projection of the MoE tiny model: per layer q (64+64)·4 = 512, k and v (64+32)·4 = 384 each,
    # o (64+64)·4 = 512, together 1,792; the router (64+8)·4 = 288; each of the 8 experts' gate and up (64+32)·4 and
    # down (32+64)·4, 1,152 an expert, 9,216 for 8; so 11,296 a layer and 45,184 for 4 layers. Attention only:
    # 1,792 a layer, 7,168
    st = TuningSettings(seq=8, lora_rank=4, lora_targets=("all",))
    assert expand_step(default_arch, MOE, Method.LORA, st).trainable_params == 45_184
    st = replace(st, lora_targets=("q_proj", "k_proj", "v_proj", "o_proj"))
    assert expand_step(default_arch, MOE, Method.LORA, st).trainable_params == 7_168


def test_alternating_windows_as_gemma2():
    # pattern 2: layers 0 and 2 attend to 8 positions, layers 1 and 3 to all 32
    m = replace(TINY, sliding_window=8, sliding_window_pattern=2)
    for layer, keys in ((0, 8), (1, 32), (2, 8), (3, 32)):
        nodes, _ = decoder_layer_nodes(m, LayerSettings(seq=32), layer=layer)
        assert next(n.op for n in nodes if n.op.name == "attn_scores").n == keys  # type: ignore[union-attr]


def test_alternating_windows_kv_cache(default_arch):
    # 40 positions: the two windowed layers keep 8, the two full ones 40: 2 x 2 x (8 + 40) x 32 x 2 bytes = 12,288
    win = run_inference(default_arch, replace(TINY, sliding_window=8, sliding_window_pattern=2),
                        InferenceSettings(prompt=32, generate=8), None)
    assert win.kv_cache_bytes == 2 * 2 * (8 + 40) * 32 * 2


def test_geglu_is_the_gated_mlp_with_a_gelu():
    nodes, _ = decoder_layer_nodes(replace(TINY, mlp="geglu"), LayerSettings(seq=8))
    swiglu, _ = decoder_layer_nodes(TINY, LayerSettings(seq=8))
    kinds = {n.op.name: getattr(n.op, "kind", None) for n in nodes}
    assert kinds["gelu"] == VectorKind.GELU and "silu" not in kinds
    assert [n.op for n in nodes if isinstance(n.op, Gemm)] == [n.op for n in swiglu if isinstance(n.op, Gemm)]
