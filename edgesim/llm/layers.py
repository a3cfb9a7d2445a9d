"""Expand a transformer decoder layer into ops: GEMMs for the projections, attention and LoRA, vector ops
for norms, rotary embedding, softmax, activations and residual adds.

Shapes for T = batch·seq tokens, hidden h, intermediate I, heads H of dimension d, kv heads H_kv:
- projections: (T×h)·(h×out) with out = h for q/o, H_kv·d for k/v, I for gate/up; down is (T×I)·(I×h);
- attention per head (batch·H independent GEMMs): scores (seq×d)·(d×seq), context (seq×seq)·(seq×d),
  the full seq×seq square (a causal mask saves no MACs on a dense array); K and V at the KV-cache width;
- LoRA of rank r on a target projection: A (T×h)·(h×r), B (T×r)·(r×out), and an add into the output;
- SwiGLU MLP: gate and up, SiLU(gate)·up, down (GeGLU, Gemma: GELU(gate)·up); ReLU/GELU MLP (OPT): fc1,
  activation, fc2;
- q is heads·d wide (d the model's head size, not always h / H), o maps heads·d back to h;
- sliding-window attention: each query attends to at most `sliding_window` positions, so the per-head GEMMs are
  (seq×d)·(d×W') and (seq×W')·(W'×d) with W' = min(seq, window): the banded work, not the square;
- mixture of experts (SwiGLU experts): a router (T×h)·(h×E) and its softmax; the T·k routed token slots are spread
  evenly over the experts the batch touches, n = ⌈E·(1 − (1 − k/E)^T)⌉ of them (`ModelShape.experts_touched`), as
  batched GEMMs of n experts with ⌈T·k/n⌉ tokens each, whose weights are n distinct matrices (all E are stored);
  the weighted sum of each token's k expert outputs; a dense shared expert beside them if the model has one.

`decoder_layer_nodes` also says which tensors each op reads and writes, and which weight it uses,
so a tuning step can derive backward ops and tensor lifetimes from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgesim.llm.model import ModelShape
from edgesim.ops import Gemm, VectorKind, VectorOp, WeightFormat
from edgesim.units import bits_to_bytes

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


@dataclass(frozen=True, slots=True)
class FwdNode:
    """A forward op with its dataflow: activation tensors read, tensor written, weight used."""

    op: Op
    inputs: tuple[str, ...]
    output: str
    weight: str | None = None  # the projection's weight (None for activation x activation ops)
    role: str = "vector"  # linear, lora_a, lora_b, attn_scores, attn_context or vector
    stored: int = 0  # weight matrices stored (0: one per GEMM batch entry); a batched expert GEMM reads the `batch`
    # experts the tokens touch, while all of the model's experts are stored (and trained, in a full fine-tune)


ALL_PROJECTIONS = "all"  # in lora_targets: an adapter on every projection of the layer (attention and MLP)


def output_bytes(op: Op) -> float:
    """Bytes of the tensor an op writes."""
    if isinstance(op, Gemm):
        return op.batch * op.m * op.n * bits_to_bytes(op.c_bits)
    return op.elements * bits_to_bytes(op.bits)


class _Builder:
    def __init__(self, prefix: str, st: LayerSettings, tokens: int):
        self.p, self.st, self.t = prefix, st, tokens
        self.nodes: list[FwdNode] = []

    def vector(self, name: str, kind: VectorKind, elements: int, inputs: tuple[str, ...]) -> str:
        out = f"{self.p}{name}"
        self.nodes.append(FwdNode(VectorOp(name=out, kind=kind, elements=elements, bits=self.st.vector_bits),
                                  inputs, out))
        return out

    def gemm(self, name: str, op: Gemm, inputs: tuple[str, ...], role: str) -> str:
        self.nodes.append(FwdNode(op, inputs, op.name, role=role))
        return op.name

    def projection(self, name: str, x: str, k: int, n: int, *, tokens: int | None = None, batch: int = 1,
                   stored: int = 0) -> str:
        """(tokens×k)·(k×n) with a weight, plus its LoRA adapter if targeted; `batch` > 1: that many experts at once,
        each of `tokens` tokens, out of `stored` weight matrices stored (`FwdNode.stored`)."""
        st, t, full = self.st, self.t if tokens is None else tokens, f"{self.p}{name}"
        op = Gemm(name=full, m=t, n=n, k=k, batch=batch, a_bits=st.a_bits, b_bits=st.w_bits, c_bits=st.a_bits,
                  weight_density=st.weight_density, weight_format=st.weight_format, nm=st.nm)
        self.nodes.append(FwdNode(op, (x,), full, weight=f"{full}.weight", role="linear", stored=stored))
        if st.lora_rank == 0 or (name not in st.lora_targets and ALL_PROJECTIONS not in st.lora_targets):
            return full
        r, vb = st.lora_rank, st.vector_bits
        a = Gemm(name=f"{full}.lora_a", m=t, n=r, k=k, batch=batch, a_bits=st.a_bits, b_bits=vb, c_bits=vb)
        b = Gemm(name=f"{full}.lora_b", m=t, n=n, k=r, batch=batch, a_bits=vb, b_bits=vb, c_bits=vb)
        self.nodes.append(FwdNode(a, (x,), a.name, weight=f"{a.name}.weight", role="lora_a", stored=stored))
        self.nodes.append(FwdNode(b, (a.name,), b.name, weight=f"{b.name}.weight", role="lora_b", stored=stored))
        return self.vector(f"{name}.lora_add", VectorKind.ADD, batch * t * n, (full, b.name))


def decoder_layer_nodes(model: ModelShape, st: LayerSettings, prefix: str = "", x: str = "x",
                        layer: int = 0) -> tuple[list[FwdNode], str]:
    """The forward ops of decoder layer `layer` (its index sets its attention window) in execution order, reading
    tensor `x`; returns (nodes, output)."""
    t, h, d, qd = st.batch * st.seq, model.hidden, model.head_dim, model.q_dim
    b = _Builder(prefix, st, t)
    norm = VectorKind.RMSNORM if model.norm == "rmsnorm" else VectorKind.LAYERNORM
    xn = b.vector("input_norm", norm, t * h, (x,))
    q = b.projection("q_proj", xn, h, qd)
    k = b.projection("k_proj", xn, h, model.kv_dim)
    v = b.projection("v_proj", xn, h, model.kv_dim)
    if model.mlp in GATED:  # LLaMA-style models use rotary position embeddings
        q = k = b.vector("rope", VectorKind.ROPE, t * (qd + model.kv_dim), (q, k))
    heads, p, keys = st.batch * model.heads, b.p, model.attended(st.seq, layer)
    scores = b.gemm("attn_scores", Gemm(name=f"{p}attn_scores", m=st.seq, n=keys, k=d, batch=heads, a_bits=st.a_bits,
                                        b_bits=st.kv_bits, c_bits=st.vector_bits), (q, k), "attn_scores")
    probs = b.vector("softmax", VectorKind.SOFTMAX, heads * st.seq * keys, (scores,))
    ctx = b.gemm("attn_context", Gemm(name=f"{p}attn_context", m=st.seq, n=d, k=keys, batch=heads, a_bits=st.a_bits,
                                      b_bits=st.kv_bits, c_bits=st.a_bits), (probs, v), "attn_context")
    o = b.projection("o_proj", ctx, qd, h)
    h1 = b.vector("attn_residual", VectorKind.ADD, t * h, (x, o))
    hn = b.vector("post_norm", norm, t * h, (h1,))
    if model.moe:
        down = _moe(b, model, hn, t)
    elif model.mlp in GATED:
        down = _gated(b, "", hn, h, model.intermediate, _ACT[model.mlp])
    else:
        act = VectorKind.RELU if model.mlp == "relu" else VectorKind.GELU
        f1 = b.projection("fc1", hn, h, model.intermediate)
        a = b.vector(model.mlp, act, t * model.intermediate, (f1,))
        down = b.projection("fc2", a, model.intermediate, h)
    out = b.vector("mlp_residual", VectorKind.ADD, t * h, (h1, down))
    return b.nodes, out


GATED = ("swiglu", "geglu")  # gated MLPs: act(gate)·up
_ACT = {"swiglu": VectorKind.SILU, "geglu": VectorKind.GELU}


def _gated(b: _Builder, tag: str, x: str, h: int, inter: int, act: VectorKind, *, tokens: int | None = None,
           batch: int = 1, stored: int = 0) -> str:
    """gate and up, act(gate)·up, down (`tag` prefixes the names: "" for the dense MLP, "expert_", "shared_")."""
    n = batch * (b.t if tokens is None else tokens) * inter
    g = b.projection(f"{tag}gate_proj", x, h, inter, tokens=tokens, batch=batch, stored=stored)
    u = b.projection(f"{tag}up_proj", x, h, inter, tokens=tokens, batch=batch, stored=stored)
    gs = b.vector(f"{tag}{'silu' if act == VectorKind.SILU else 'gelu'}", act, n, (g,))
    m = b.vector(f"{tag}gate_mul", VectorKind.MUL, n, (gs, u))
    return b.projection(f"{tag}down_proj", m, inter, h, tokens=tokens, batch=batch, stored=stored)


def _moe(b: _Builder, model: ModelShape, x: str, t: int) -> str:
    """Router, the routed experts as batched GEMMs over the experts the batch touches, the weighted combine, and the
    shared expert (module docstring)."""
    h, e, k = model.hidden, model.experts, model.experts_per_token
    logits = b.projection("router", x, h, e)
    b.vector("router_softmax", VectorKind.SOFTMAX, t * e, (logits,))
    n = model.experts_loaded(t)
    per = -(-t * k // n)  # token slots per loaded expert, spread evenly
    routed = _gated(b, "expert_", x, h, model.expert_intermediate or model.intermediate, VectorKind.SILU, tokens=per,
                    batch=n, stored=e)
    out = b.vector("expert_combine", VectorKind.MUL, t * k * h, (routed, f"{b.p}router_softmax"))
    if model.shared_expert_intermediate:
        shared = _gated(b, "shared_", x, h, model.shared_expert_intermediate, VectorKind.SILU)
        out = b.vector("shared_add", VectorKind.ADD, t * h, (out, shared))
    return out


def decoder_layer_forward(model: ModelShape, st: LayerSettings, prefix: str = "", layer: int = 0) -> list[Op]:
    """The forward ops of decoder layer `layer`, in execution order."""
    return [n.op for n in decoder_layer_nodes(model, st, prefix, layer=layer)[0]]
