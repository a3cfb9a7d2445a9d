"""Expand a transformer decoder layer into ops: GEMMs for the projections, attention and LoRA, vector ops
for norms, rotary embedding, softmax, activations and residual adds.

Shapes for T = batch·seq tokens, hidden h, intermediate I, heads H of dimension d, kv heads H_kv:
- projections: (T×h)·(h×out) with out = h for q/o, H_kv·d for k/v, I for gate/up; down is (T×I)·(I×h);
- attention per head (batch·H independent GEMMs): scores (seq×d)·(d×seq), context (seq×seq)·(seq×d),
  the full seq×seq square (a causal mask saves no MACs on a dense array); K and V at the KV-cache width;
- LoRA of rank r on a target projection: A (T×h)·(h×r), B (T×r)·(r×out), and an add into the output;
- SwiGLU MLP: gate and up, SiLU(gate)·up, down; ReLU/GELU MLP (OPT): fc1, activation, fc2.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgesim.models import ModelShape
from edgesim.ops import Gemm, WeightFormat
from edgesim.vector import VectorKind, VectorOp

Op = Gemm | VectorOp


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerSettings:
    seq: int = 512
    batch: int = 1
    w_bits: int = 8
    a_bits: int = 8
    kv_bits: int = 8
    vector_bits: int = 16  # width of tensors the vector unit reads and writes (fp16)
    weight_density: float = 1.0
    weight_format: WeightFormat = WeightFormat.DENSE
    nm: tuple[int, int] | None = None
    lora_rank: int = 0
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")


def _linear(name: str, tokens: int, k: int, n: int, st: LayerSettings) -> Gemm:
    return Gemm(name=name, m=tokens, n=n, k=k, a_bits=st.a_bits, b_bits=st.w_bits, c_bits=st.a_bits,
                weight_density=st.weight_density, weight_format=st.weight_format, nm=st.nm)


def _projection(name: str, tokens: int, k: int, n: int, st: LayerSettings) -> list[Op]:
    ops: list[Op] = [_linear(name, tokens, k, n, st)]
    if st.lora_rank > 0 and name.split(".")[-1] in st.lora_targets:
        r = st.lora_rank
        ops += [Gemm(name=f"{name}.lora_a", m=tokens, n=r, k=k, a_bits=st.a_bits, b_bits=st.vector_bits,
                     c_bits=st.vector_bits),
                Gemm(name=f"{name}.lora_b", m=tokens, n=n, k=r, a_bits=st.vector_bits, b_bits=st.vector_bits,
                     c_bits=st.vector_bits),
                VectorOp(name=f"{name}.lora_add", kind=VectorKind.ADD, elements=tokens * n, bits=st.vector_bits)]
    return ops


def decoder_layer_forward(model: ModelShape, st: LayerSettings, prefix: str = "") -> list[Op]:
    """The forward ops of one decoder layer, in execution order."""
    t, h, d = st.batch * st.seq, model.hidden, model.head_dim
    vb = st.vector_bits
    norm = VectorKind.RMSNORM if model.norm == "rmsnorm" else VectorKind.LAYERNORM
    p = prefix
    ops: list[Op] = [VectorOp(name=f"{p}input_norm", kind=norm, elements=t * h, bits=vb)]
    ops += _projection(f"{p}q_proj", t, h, h, st)
    ops += _projection(f"{p}k_proj", t, h, model.kv_dim, st)
    ops += _projection(f"{p}v_proj", t, h, model.kv_dim, st)
    if model.mlp == "swiglu":  # LLaMA-style models use rotary position embeddings
        ops.append(VectorOp(name=f"{p}rope", kind=VectorKind.ROPE, elements=t * (h + model.kv_dim), bits=vb))
    heads = st.batch * model.heads
    ops += [Gemm(name=f"{p}attn_scores", m=st.seq, n=st.seq, k=d, batch=heads, a_bits=st.a_bits, b_bits=st.kv_bits,
                 c_bits=vb),
            VectorOp(name=f"{p}softmax", kind=VectorKind.SOFTMAX, elements=heads * st.seq * st.seq, bits=vb),
            Gemm(name=f"{p}attn_context", m=st.seq, n=d, k=st.seq, batch=heads, a_bits=st.a_bits, b_bits=st.kv_bits,
                 c_bits=st.a_bits)]
    ops += _projection(f"{p}o_proj", t, h, h, st)
    ops += [VectorOp(name=f"{p}attn_residual", kind=VectorKind.ADD, elements=t * h, bits=vb),
            VectorOp(name=f"{p}post_norm", kind=norm, elements=t * h, bits=vb)]
    inter = model.intermediate
    if model.mlp == "swiglu":
        ops += _projection(f"{p}gate_proj", t, h, inter, st)
        ops += _projection(f"{p}up_proj", t, h, inter, st)
        ops += [VectorOp(name=f"{p}silu", kind=VectorKind.SILU, elements=t * inter, bits=vb),
                VectorOp(name=f"{p}gate_mul", kind=VectorKind.MUL, elements=t * inter, bits=vb)]
        ops += _projection(f"{p}down_proj", t, inter, h, st)
    else:
        act = VectorKind.RELU if model.mlp == "relu" else VectorKind.GELU
        ops += _projection(f"{p}fc1", t, h, inter, st)
        ops.append(VectorOp(name=f"{p}{model.mlp}", kind=act, elements=t * inter, bits=vb))
        ops += _projection(f"{p}fc2", t, inter, h, st)
    ops.append(VectorOp(name=f"{p}mlp_residual", kind=VectorKind.ADD, elements=t * h, bits=vb))
    return ops
