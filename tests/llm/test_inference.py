"""Inference: prefill and decode shapes, the KV cache by hand, and the extra cost of voting exits."""

from __future__ import annotations

from dataclasses import replace

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import load_trace
from edgesim.llm.inference import InferenceSettings, pass_ops, run_inference
from edgesim.llm.trace import LayerPolicy
from edgesim.ops import Gemm
from tests.conftest import REPO

ARCH = load_arch()
TINY = load_model("tiny")  # 4 layers, hidden 64, 4 heads of 16, kv dim 32, vocab 256
TRACE = load_trace(REPO / "workloads" / "traces" / "tiny_edge_llm.json", TINY)  # exits after layers 1 and 3


def test_decode_attends_to_the_cache():
    pol = [LayerPolicy()] * 4
    ops = {op.name: op for op in pass_ops(TINY, pol, 0, (3,), tokens=1, ctx=40, head_bits=16, vb=16)}
    scores, ctx, q = ops["L0.attn_scores"], ops["L0.attn_context"], ops["L0.q_proj"]
    assert isinstance(scores, Gemm) and (scores.batch, scores.m, scores.n, scores.k) == (4, 1, 40, 16)
    assert isinstance(ctx, Gemm) and (ctx.m, ctx.n, ctx.k) == (1, 16, 40)
    assert isinstance(q, Gemm) and (q.m, q.n, q.k) == (1, 64, 64)
    assert "exit3.logits" in ops and "vote.max" not in ops  # one exit: nothing to vote


def test_kv_cache_by_hand():
    r = run_inference(ARCH, TINY, InferenceSettings(prompt=16, generate=4), None)
    # 2 (K and V) x 4 layers x 20 positions x 32 kv dims x 2 B (fp16)
    assert r.kv_cache_bytes == 2 * 4 * 20 * 32 * 2
    t = run_inference(ARCH, TINY, InferenceSettings(prompt=16, generate=4), TRACE)
    # the trace keeps KV at 8 bits in layers 0-2 and 4 bits in layer 3
    assert t.kv_cache_bytes == 2 * 20 * 32 * (3 * 1 + 0.5)


def test_voting_costs_its_exit_heads_and_adapter_stream():
    st = InferenceSettings(prompt=16, generate=4)
    voting = run_inference(ARCH, TINY, st, TRACE)
    one_exit = run_inference(ARCH, TINY, st, replace(TRACE, exit_layers=(3,)))
    assert voting.exits == (1, 3)
    assert voting.decode_seconds_per_token > one_exit.decode_seconds_per_token
    assert voting.weight_bytes - one_exit.weight_bytes == 256 * 64 * 1  # one more 8-bit head (vocab x hidden)
    ops = [op.name for op in pass_ops(TINY, list(TRACE.policies), 8, (1, 3), 1, 20, 8, 16)]
    assert "L0.q_proj.lora_a" in ops and "exit1.logits" in ops and "vote.max" in ops and "vote.renorm" in ops


def test_two_voting_streams_add_the_backbone_layer_by_layer():
    """--voting-streams 2 (the released code): each layer runs once more without adapters, with its own K and V."""
    one = pass_ops(TINY, list(TRACE.policies), 8, (1, 3), 1, 20, 8, 16)
    two = pass_ops(TINY, list(TRACE.policies), 8, (1, 3), 1, 20, 8, 16, streams=2)
    backbone = [op for op in two if ".backbone." in op.name]
    # the backbone stream is exactly the layers without adapters: 4 layers of the no-LoRA layer
    no_lora = pass_ops(TINY, list(TRACE.policies), 0, (1, 3), 1, 20, 8, 16)
    assert len(backbone) == len(no_lora) - 8  # minus the 2 exits' norm, logits and softmax and the 2 vote ops
    assert not any("lora" in op.name for op in backbone)
    assert len(two) == len(one) + len(backbone)
    st1 = InferenceSettings(prompt=16, generate=4)
    r1 = run_inference(ARCH, TINY, st1, TRACE)
    r2 = run_inference(ARCH, TINY, replace(st1, voting_streams=2), TRACE)
    assert r2.kv_cache_bytes == 2 * r1.kv_cache_bytes  # the trace's KV: 2 x 20 x 32 x 3.5 B, once per stream
    assert r2.weight_bytes == r1.weight_bytes  # the streams share the weights
    assert r2.decode_seconds_per_token > r1.decode_seconds_per_token
