"""Vector-unit ops, decoder-layer expansion and model shape configs, against hand calculations."""

from __future__ import annotations

import pytest

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.cost.vector import evaluate_vector
from edgesim.errors import ConfigError
from edgesim.llm.layers import LayerSettings, decoder_layer_forward
from edgesim.ops import Gemm, VectorKind, VectorOp


def test_vector_op_compute_bound_by_hand():
    arch = load_arch()  # 16 lanes x 1 op/cycle, 16 B/cycle DRAM, 64 B/cycle buffer, 80-cycle latency
    c = evaluate_vector(arch, VectorOp(name="sm", kind=VectorKind.SOFTMAX, elements=16_000, bits=16))
    # softmax: 8 ops/element -> 128,000 ops / 16 per cycle = 8,000 cycles; streams 2 x 32,000 B = 64,000 B
    # -> 4,000 DRAM cycles and 2 x 64,000 / 64 = 2,000 buffer cycles; total = 80 + 8,000.
    assert c.vector_cycles == 8000
    assert c.dram_bytes == 64_000 and c.dram_cycles == 4000
    assert c.total_cycles == 8080
    # energy: 128,000 ops x 0.9 pJ + DRAM 64,000 B x 36 + buffer 64,000 B x (5.0 + 5.5)
    assert c.energy_pj == pytest.approx(128_000 * 0.9 + 64_000 * 36 + 64_000 * 10.5)


@pytest.mark.parametrize(("kind", "reads", "writes"), [
    (VectorKind.MUL, 3, 2),  # dy, a, b in; da = dy*b and db = dy*a out
    (VectorKind.ADD, 1, 2),  # dy in; dy to each input (the gradient passes through)
    (VectorKind.ROPE, 1, 1),  # dy in; its inverse rotation out (the angles are fixed, nothing saved)
    (VectorKind.SOFTMAX, 2, 1),  # dy and the saved output y in; dx = y * (dy - sum(dy * y)) out
    (VectorKind.RMSNORM, 2, 1),  # dy and the saved input x in; dx out
])
def test_backward_streams_by_hand(kind, reads, writes):
    """A backward reads the incoming gradient and what the forward saved, and writes a gradient per forward input:
    N = 16,000 fp16 elements per stream, 32,000 B each."""
    c = evaluate_vector(load_arch(), VectorOp(name="b", kind=kind, elements=16_000, bits=16, backward=True))
    assert c.dram_bytes == (reads + writes) * 32_000
    # DRAM energy: 36 pJ/B read and written alike on the default NPU
    assert c.level_energy_pj["dram"] == pytest.approx((reads + writes) * 32_000 * 36)


def test_elementwise_add_is_memory_bound():
    c = evaluate_vector(load_arch(), VectorOp(name="add", kind=VectorKind.ADD, elements=16_000, bits=16))
    # 16,000 ops / 16 = 1,000 cycles of work; 3 streams x 32,000 B = 96,000 B / 16 = 6,000 DRAM cycles
    assert (c.vector_cycles, c.dram_cycles, c.total_cycles) == (1000, 6000, 6080)


def test_adam_streams_four_in_three_out():
    c = evaluate_vector(load_arch(), VectorOp(name="adam", kind=VectorKind.ADAM, elements=1000, bits=32))
    assert c.dram_bytes == 7 * 1000 * 4


def test_llama7b_layer_shapes():
    model = load_model("llama7b")
    assert (model.hidden, model.intermediate, model.heads, model.head_dim) == (4096, 11008, 32, 128)
    ops = {op.name: op for op in decoder_layer_forward(model, LayerSettings(seq=512, lora_rank=8))}
    q, down = ops["q_proj"], ops["down_proj"]
    assert isinstance(q, Gemm) and (q.m, q.n, q.k) == (512, 4096, 4096)
    assert isinstance(down, Gemm) and (down.m, down.n, down.k) == (512, 4096, 11008)
    scores, ctx = ops["attn_scores"], ops["attn_context"]
    assert isinstance(scores, Gemm) and (scores.batch, scores.m, scores.n, scores.k) == (32, 512, 512, 128)
    assert isinstance(ctx, Gemm) and (ctx.batch, ctx.m, ctx.n, ctx.k) == (32, 512, 128, 512)
    lora_a, lora_b = ops["q_proj.lora_a"], ops["q_proj.lora_b"]
    assert isinstance(lora_a, Gemm) and (lora_a.m, lora_a.n, lora_a.k) == (512, 8, 4096)
    assert isinstance(lora_b, Gemm) and (lora_b.m, lora_b.n, lora_b.k) == (512, 4096, 8)
    assert "k_proj.lora_a" not in ops
    softmax = ops["softmax"]
    assert isinstance(softmax, VectorOp) and softmax.elements == 32 * 512 * 512
    # a dense layer's MACs: 4 h^2 T + 3 h I T + 2 H seq^2 d (+ LoRA 2 x 2 r h T)
    gemm_macs = sum(op.macs for op in ops.values() if isinstance(op, Gemm))
    h, i, t = 4096, 11008, 512
    assert gemm_macs == 4 * h * h * t + 3 * h * i * t + 2 * 32 * 512 * 512 * 128 + 2 * 2 * 8 * h * t


def test_gqa_and_opt_shapes():
    tiny = load_model("tinyllama_1b")
    ops = {op.name: op for op in decoder_layer_forward(tiny, LayerSettings(seq=64))}
    k = ops["k_proj"]
    assert isinstance(k, Gemm) and k.n == 4 * 64  # 4 kv heads of dimension 2048 / 32
    opt = {op.name: op for op in decoder_layer_forward(load_model("opt_1b3"), LayerSettings(seq=64))}
    assert "fc1" in opt and "relu" in opt and "rope" not in opt and "gate_proj" not in opt
    assert opt["input_norm"].kind == VectorKind.LAYERNORM  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["llama7b", "llama2_13b", "tinyllama_1b", "opt_1b3", "tiny"])
def test_model_configs_load(name):
    assert load_model(name).layers > 0


def test_bad_model_config(write):
    path = write("m.yaml", "name: x\nhidden: 100\nintermediate: 10\nlayers: 2\nheads: 3\nkv_heads: 3\n"
                           "vocab: 10\nmax_seq: 8\nmlp: swiglu\nnorm: rmsnorm\n")
    with pytest.raises(ConfigError, match="hidden \\(100\\) must be a multiple of heads \\(3\\)"):
        load_model(str(path))
    with pytest.raises(ConfigError, match="did you mean 'llama7b'"):
        load_model("llama7")
