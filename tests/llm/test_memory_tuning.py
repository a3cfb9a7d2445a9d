"""Tuning-step expansion and peak memory, against hand calculations and textbook figures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.evaluate import run_op
from edgesim.llm.memory import check_order, op_graph, peak_memory
from edgesim.llm.step import StepNode, TuningSettings, TuningStep, expand_step
from edgesim.llm.trace import EdgeLlmPhase, LayerPolicy
from edgesim.methods import Method, Phase
from edgesim.ops import Gemm, VectorKind, VectorOp
from edgesim.results import Engine

ARCH = load_arch()
TINY = load_model("tiny")  # hidden 64, intermediate 172, 4 layers, 4 heads, 2 kv heads (kv dim 32), vocab 256


def test_tiny_lora_persistent_memory_by_hand():
    step = expand_step(ARCH, TINY, Method.LORA, TuningSettings(seq=16))
    # per layer: q 64x64 + k 64x32 + v 64x32 + o 64x64 + gate, up, down 64x172 = 45,312 weights; x 4 layers,
    # + embedding 256x64 + head 256x64 = 214,016 fp16 weights = 428,032 B.
    assert step.persistent_bytes["weights"] == 428_032
    # LoRA r=8 on q (64x8 + 8x64) and v (64x8 + 8x32) = 1,792 per layer, x 4 = 7,168 parameters
    assert step.trainable_params == 7_168
    assert step.persistent_bytes["trainable_params"] == 7_168 * 2
    assert step.persistent_bytes["gradients"] == 7_168 * 2
    assert step.persistent_bytes["optimizer_state"] == 7_168 * 2 * 4  # Adam: two fp32 states


def test_llama7b_fp16_weights_are_the_textbook_13_5_gb():
    step = expand_step(ARCH, load_model("llama7b"), Method.LORA, TuningSettings())
    # 6.74 B parameters x 2 B (embedding, 32 layers, head; norms omitted) = 13.48 GB
    assert step.persistent_bytes["weights"] == pytest.approx(13.48e9, rel=0.005)


def test_activations_dominate_lora_at_long_sequences():
    llama = load_model("llama7b")
    short = peak_memory(expand_step(ARCH, llama, Method.LORA, TuningSettings(seq=256))).breakdown
    long = peak_memory(expand_step(ARCH, llama, Method.LORA, TuningSettings(seq=4096))).breakdown
    assert short["saved_activations"] + short["attention"] < short["weights"]
    assert long["saved_activations"] + long["attention"] > long["weights"]


def test_liveness_by_hand():
    op = VectorOp(name="v", kind=VectorKind.ADD, elements=1, bits=8)

    def node(name, inputs, out, size, phase=Phase.FORWARD, cat="activation"):
        return StepNode(op=op, phase=phase, layer=0, inputs=inputs, outputs=(out,), output_bytes=size, category=cat)

    # x(10) -> a(100) -> b(1000) -> loss(1); backward reads a at the end: a must be kept through b's life.
    nodes = (node("n0", ("x",), "a", 100), node("n1", ("a",), "b", 1000), node("n2", ("b",), "loss", 1),
             node("n3", ("loss", "a"), "d:a", 100, Phase.BACKWARD_DATA, "gradient"))
    step = TuningStep(model=TINY, method=Method.LORA, label="hand", nodes=nodes, persistent_bytes={"weights": 5.0},
                      trainable_params=0, forward_layers=1, backward_layers=(0,), inputs={"x": 10.0})
    r = peak_memory(step)
    # at n1: x is dead (last read at n0), a (100) + b (1000) live, + 5 persistent
    assert r.timeline == (5 + 10 + 100, 5 + 100 + 1000, 5 + 100 + 1000 + 1, 5 + 100 + 1 + 100)
    # peak at n2: b (1000, being read) + loss (1) + a (100, kept for the backward op) + 5
    assert r.peak_bytes == 1106 and r.peak_node == "v"
    assert r.breakdown["saved_activations"] == 101  # a and loss: written in the forward, read by the backward
    assert r.breakdown["workspace"] == 1000 and r.breakdown["weights"] == 5


def test_edge_llm_step_structure():
    pol = [LayerPolicy(weight_density=0.5, weight_format="unstructured", w_bits=8, a_bits=8, kv_bits=8)] * 4
    step = expand_step(ARCH, TINY, Method.EDGE_LLM, TuningSettings(seq=16), pol, EdgeLlmPhase(first=0, last=1, exit_layer=1))
    check_order(step)
    layers = {(n.layer, n.phase) for n in step.nodes}
    assert max(layer for layer, _ in layers) == 1  # the forward stops at the exit layer
    assert {layer for layer, ph in layers if ph == Phase.BACKWARD_DATA and layer >= 0} == {0, 1}
    weight_grads = [n.op.name for n in step.nodes if n.phase == Phase.BACKWARD_WEIGHT]
    assert weight_grads and all(".lora_" in name for name in weight_grads)
    assert step.trainable_params == 2 * 1_792
    assert op_graph(step).number_of_nodes() == len(step.nodes)


def test_partial_and_full_backward_ranges():
    partial = expand_step(ARCH, TINY, Method.PARTIAL, TuningSettings(seq=16, partial_layers=1))
    back = {n.layer for n in partial.nodes if n.phase == Phase.BACKWARD_WEIGHT}
    assert back == {3}
    assert partial.trainable_params == 45_312
    full = expand_step(ARCH, TINY, Method.FULL, TuningSettings(seq=16))
    assert full.trainable_params == 4 * 45_312
    assert {n.layer for n in full.nodes if n.phase == Phase.BACKWARD_WEIGHT} == {0, 1, 2, 3}


def test_edge_llm_keeps_fewer_saved_activations_than_lora():
    llama = load_model("llama7b")
    pol = [LayerPolicy(w_bits=16, a_bits=16, kv_bits=16)] * 32
    lora = peak_memory(expand_step(ARCH, llama, Method.LORA, TuningSettings()))
    edge = peak_memory(expand_step(ARCH, llama, Method.EDGE_LLM, TuningSettings(), pol,
                                   EdgeLlmPhase(first=24, last=31, exit_layer=31)))
    # a window of 8 of 32 layers keeps about a quarter of the activations
    ratio = edge.breakdown["saved_activations"] / lora.breakdown["saved_activations"]
    assert 0.2 < ratio < 0.3


def test_an_exit_beyond_the_window_adds_exactly_the_backward_of_the_layers_between():
    """LLaMA-7B, window 0-7: with the exit at 31 the loss is taken after layer 31, so gradients must flow back through
    layers 31..8 (activation gradients only: those layers train nothing) before reaching the window. By hand, each of
    those layers adds 11 backward-data GEMMs (dX of q, k, v, o, gate, up, down; dQ, dK of the scores; dP, dV of the
    context) and no weight gradient: 24 x 11 = 264 GEMMs. The step's backward-data time grows by exactly their cost."""
    from edgesim.llm.tune import cost_step

    llama = load_model("llama7b")
    pol = [LayerPolicy(weight_density=0.5, weight_format="unstructured", w_bits=8, a_bits=8, kv_bits=8)] * 32
    st = TuningSettings(seq=64)
    near = expand_step(ARCH, llama, Method.EDGE_LLM, st, pol, EdgeLlmPhase(first=0, last=7, exit_layer=7))
    far = expand_step(ARCH, llama, Method.EDGE_LLM, st, pol, EdgeLlmPhase(first=0, last=7, exit_layer=31))

    def backward(step, phase):
        return [n for n in step.nodes if n.phase == phase and n.layer >= 0]

    assert [n.op.name for n in backward(far, Phase.BACKWARD_WEIGHT)] == [n.op.name for n in backward(near, Phase.BACKWARD_WEIGHT)]
    added = [n for n in backward(far, Phase.BACKWARD_DATA) if n.layer >= 8]
    assert {n.layer for n in added} == set(range(8, 32))
    assert sum(isinstance(n.op, Gemm) for n in added) == 24 * 11
    assert not any(".lora_" in n.op.name for n in added)
    assert [n.op.name for n in backward(far, Phase.BACKWARD_DATA) if n.layer < 8] == \
        [n.op.name for n in backward(near, Phase.BACKWARD_DATA)]
    c_near, c_far = cost_step(ARCH, near), cost_step(ARCH, far)
    extra = sum(run_op(ARCH, n.op, Engine.ANALYTIC).total_cycles for n in added)
    grown = c_far.by_phase["backward_data"]["cycles"] - c_near.by_phase["backward_data"]["cycles"]
    assert extra > 0 and grown == pytest.approx(extra, rel=1e-12)


def test_qlora_stores_nf4_and_dequantises_before_every_16_bit_gemm():
    """tiny, by hand: 7 projections per layer hold 64x64 + 2 x 64x32 + 64x64 + 3 x 64x172 = 45,312 weights, 181,248 in
    4 layers. QLoRA stores them as NF4 at 4 + 8/64 + 32/(64 x 256) = 4.127 bits (QLoRA, section 3) where LoRA stores
    16 bits, and dequantises each weight on the vector unit before its forward GEMM and again before its
    backward-data GEMM: 2 x 7 x 4 = 56 dequantisations, each reading 4.127 and writing 16 bits per weight."""
    from edgesim.cost.vector import evaluate_vector

    st = TuningSettings(seq=16, base_bits=16)
    lora = expand_step(ARCH, TINY, Method.LORA, st)
    qlora = expand_step(ARCH, TINY, Method.QLORA, st)
    deq = [n for n in qlora.nodes if isinstance(n.op, VectorOp) and n.op.kind == VectorKind.DEQUANT_NF4]
    assert len(deq) == 56
    assert sum(n.phase == Phase.FORWARD for n in deq) == sum(n.phase == Phase.BACKWARD_DATA for n in deq) == 28
    assert sum(n.op.elements for n in deq if n.phase == Phase.FORWARD) == 181_248
    bits = 4 + 8 / 64 + 32 / (64 * 256)
    saved = lora.persistent_bytes["weights"] - qlora.persistent_bytes["weights"]
    assert saved == pytest.approx(181_248 * (16 - bits) / 8, rel=1e-12)
    base = [n.op for n in qlora.nodes if isinstance(n.op, Gemm) and n.op.name.endswith(("proj", "proj.bwd_data"))]
    assert base and all(g.b_bits == 16 for g in base)
    # every base GEMM reads the dequantised weight made just for it
    for n in qlora.nodes:
        if isinstance(n.op, Gemm) and n.op.name.endswith(("_proj", "_proj.bwd_data")):
            assert any(x.endswith(("dequant_fwd", "dequant_bwd")) for x in n.inputs), n.op.name
    gate = next(n.op for n in deq if n.op.name == "L0.gate_proj.dequant_fwd")
    cost = evaluate_vector(ARCH, gate)
    assert gate.elements == 64 * 172
    assert cost.dram_bytes == pytest.approx(11_008 * bits / 8 + 11_008 * 2, rel=1e-12)
    assert cost.op_energy_pj == pytest.approx(2 * 11_008 * ARCH.vector_unit.energy_pj_per_op, rel=1e-12)


def test_lora_on_all_projections_by_hand():
    """tiny, rank 8: an adapter on a (k x n) projection has 8(k + n) parameters. q, v: 8(64+64) + 8(64+32) = 1,792 per
    layer; all seven projections add k (768), o (1,024), gate, up and down (3 x 8(64+172) = 5,664): 9,248 per layer.
    Each adapter is two forward GEMMs and an add; its backward adds a weight gradient per adapter GEMM."""
    from edgesim.llm.layers import ALL_PROJECTIONS

    qv = expand_step(ARCH, TINY, Method.LORA, TuningSettings(seq=16))
    every = expand_step(ARCH, TINY, Method.LORA, TuningSettings(seq=16, lora_targets=(ALL_PROJECTIONS,)))
    assert (qv.trainable_params, every.trainable_params) == (4 * 1_792, 4 * 9_248)

    def count(step, phase, marker, kind=Gemm):
        return sum(n.phase == phase and marker in n.op.name and isinstance(n.op, kind) for n in step.nodes)

    assert count(qv, Phase.FORWARD, ".lora_") == 4 * 2 * 2 and count(every, Phase.FORWARD, ".lora_") == 4 * 7 * 2
    assert count(every, Phase.FORWARD, ".lora_add", VectorOp) == 4 * 7
    assert count(every, Phase.BACKWARD_WEIGHT, ".lora_") == 4 * 7 * 2
    assert every.persistent_bytes["optimizer_state"] == 4 * 9_248 * 2 * 4  # Adam: two fp32 states per parameter


def test_trainable_exit_heads_by_hand():
    """tiny, window 0-1 exiting at 1, seq 16: the exit head is vocab x hidden = 256 x 64 = 16,384 weights. Trained (the
    authors' code) it adds one weight-gradient GEMM dW = normᵀ·dlogits of (64 x 16)·(16 x 256), and its 16,384
    parameters to the gradients and the Adam state (not to the adapters' parameter bytes: it is already a weight)."""
    pol = [LayerPolicy(w_bits=8, a_bits=8, kv_bits=8)] * 4
    phase = EdgeLlmPhase(first=0, last=1, exit_layer=1)
    frozen = expand_step(ARCH, TINY, Method.EDGE_LLM, TuningSettings(seq=16), pol, phase)
    trained = expand_step(ARCH, TINY, Method.EDGE_LLM, TuningSettings(seq=16, train_exit_heads=True), pol, phase)
    added = [n for n in trained.nodes if n.op.name not in {m.op.name for m in frozen.nodes}]
    assert [n.op.name for n in added] == ["head.logits.bwd_weight"]
    g = added[0].op
    assert isinstance(g, Gemm) and (g.m, g.n, g.k) == (64, 256, 16) and added[0].phase == Phase.BACKWARD_WEIGHT
    assert (frozen.trainable_params, trained.trainable_params) == (2 * 1_792, 2 * 1_792 + 16_384)
    assert trained.persistent_bytes["trainable_params"] == frozen.persistent_bytes["trainable_params"] == 2 * 1_792 * 2
    assert trained.persistent_bytes["gradients"] - frozen.persistent_bytes["gradients"] == 16_384 * 2
    assert trained.persistent_bytes["optimizer_state"] - frozen.persistent_bytes["optimizer_state"] == 16_384 * 2 * 4


def test_full_forward_adds_only_the_forward_of_the_layers_after_the_exit():
    """tiny, window 0-1 exiting at 1: the released code's training forward runs layers 2 and 3 as well. They add
    their forward ops and nothing else; the exit head still reads layer 1's output, so every backward op is the
    same."""
    pol = [LayerPolicy(w_bits=8, a_bits=8, kv_bits=8)] * 4
    phase = EdgeLlmPhase(first=0, last=1, exit_layer=1)
    to_exit = expand_step(ARCH, TINY, Method.EDGE_LLM, TuningSettings(seq=16), pol, phase)
    full = expand_step(ARCH, TINY, Method.EDGE_LLM, TuningSettings(seq=16, full_forward=True), pol, phase)
    check_order(full)
    per_layer = len([n for n in to_exit.nodes if n.layer == 0 and n.phase == Phase.FORWARD])
    no_lora = len([n for n in expand_step(ARCH, TINY, Method.EDGE_LLM, TuningSettings(seq=16), pol,
                                          EdgeLlmPhase(first=0, last=0, exit_layer=1)).nodes
                   if n.layer == 1 and n.phase == Phase.FORWARD])  # a layer without adapters
    added = [n for n in full.nodes if n.op.name not in {m.op.name for m in to_exit.nodes}]
    assert {n.layer for n in added} == {2, 3} and all(n.phase == Phase.FORWARD for n in added)
    assert len(added) == 2 * no_lora < 2 * per_layer
    assert [n.op.name for n in full.nodes if n.phase != Phase.FORWARD] == \
        [n.op.name for n in to_exit.nodes if n.phase != Phase.FORWARD]
    norm = next(n for n in full.nodes if n.op.name == "head.norm")
    assert norm.inputs == next(n for n in to_exit.nodes if n.op.name == "head.norm").inputs


def _saved(step: TuningStep) -> set[str]:
    """Forward-written tensors (and step inputs) that some later non-forward node reads: what the forward keeps."""
    fwd_out = {o for n in step.nodes if n.phase == Phase.FORWARD for o in n.outputs} | set(step.inputs)
    return {x for n in step.nodes if n.phase != Phase.FORWARD for x in n.inputs if x in fwd_out}


def test_each_backward_op_keeps_only_what_it_reads():
    # LoRA on q and v of a frozen base (tiny model, by hand): a norm keeps its input, LoRA's weight gradients keep
    # their inputs, attention keeps Q and K (the rotary output), the probabilities and V, SiLU its input, the gating
    # product both factors. An add, the rotary embedding, softmax's input and frozen projections' outputs are not kept.
    step = expand_step(ARCH, TINY, Method.LORA, TuningSettings(seq=32))
    kept = {"L2.input_norm", "L2.q_proj.lora_a", "L2.v_proj.lora_a", "L2.rope", "L2.softmax", "L2.v_proj.lora_add",
            "L2.attn_residual", "L2.gate_proj", "L2.silu", "L2.up_proj",
            "L2.mlp_residual"}  # layer 3's input, kept for layer 3's input norm
    layer2 = {x for x in _saved(step) if x.startswith("L2.")}
    assert layer2 == kept


def test_recompute_attention_rebuilds_scores_and_probabilities_per_layer():
    base = expand_step(ARCH, TINY, Method.LORA, TuningSettings(seq=32))
    re = expand_step(ARCH, TINY, Method.LORA, TuningSettings(seq=32, recompute="attention"))
    added = [n for n in re.nodes if n.phase == Phase.RECOMPUTE]
    # per layer, the score GEMM and the softmax, at their forward shapes, just before the context's backward
    assert [n.op.name for n in added] == [f"L{i}.{o}.re" for i in (3, 2, 1, 0) for o in ("attn_scores", "softmax")]
    fwd = {n.op.name: n.op for n in base.nodes}
    assert all(n.op == replace(fwd[n.op.name[:-3]], name=n.op.name) for n in added)
    names = [n.op.name for n in re.nodes]
    assert names.index("L3.softmax.re") + 1 == names.index("L3.attn_context.bwd_dp")
    assert len(re.nodes) == len(base.nodes) + 8
    # the forward keeps no probabilities (4 heads x 32 x 32 x 2 B per layer) and rereads Q and K instead
    assert _saved(base) - _saved(re) == {f"L{i}.softmax" for i in range(4)}
    probs = 4 * 32 * 32 * 2
    assert peak_memory(base).breakdown["attention"] >= probs > peak_memory(re).breakdown["attention"] - probs


def test_recompute_full_keeps_only_layer_inputs_and_reruns_each_layer():
    base = expand_step(ARCH, TINY, Method.LORA, TuningSettings(seq=32))
    full = expand_step(ARCH, TINY, Method.LORA, TuningSettings(seq=32, recompute="full"))
    layer_fwd = [n for n in base.nodes if n.phase == Phase.FORWARD and n.layer == 0]
    added = [n for n in full.nodes if n.phase == Phase.RECOMPUTE]
    assert len(added) == 4 * len(layer_fwd)  # one whole forward per backward layer
    assert [n.op.name for n in added if n.layer == 0] == [f"{n.op.name}.re" for n in layer_fwd]
    # what the forward keeps: the 4 layer inputs (32 tokens x 64 x 2 B each) and the head's tensors, nothing else
    layer_inputs = {"embeddings", "L0.mlp_residual", "L1.mlp_residual", "L2.mlp_residual"}
    assert {x for x in _saved(full) if not x.startswith("head.")} == layer_inputs | {"L3.mlp_residual"}
    r = peak_memory(full)
    check_order(full)
    assert r.peak_bytes < peak_memory(base).peak_bytes
