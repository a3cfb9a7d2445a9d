"""One tuning step of an LLM as an ordered op graph: forward, backward-data, backward-weight, optimizer.

Methods (DESIGN.md section 3):
- full: every decoder-layer projection is trained; backward through all layers.
- lora: frozen base, LoRA adapters (rank r on `lora_targets`) in every layer; backward through all layers.
- qlora: as lora with the base weights stored as NF4 (4.127 bits per weight with double-quantised block scales);
  before each use (forward and backward-data) a projection's weight is dequantised on the vector unit to
  `qlora_compute_bits` (16) and the GEMM runs at that width.
- partial: the last `partial_layers` layers are fully trained; backward only through them.
- edge-llm: per-layer compression from the trace; forward only up to the active phase's exit layer,
  the exit head there, backward-data from the exit down to the first layer of the phase's trainable window
  (activation gradients only, beyond the window), adapters trained in the window only.
The embedding table and the LM/exit heads stay frozen. The loss is a softmax cross-entropy over the
vocabulary on the vector unit.

Backward ops of a forward (M×K)·(K×N) projection with weight W: backward-data dX = dY·Wᵀ, an
(M×N)·(N×K) GEMM at the weight's compression; backward-weight dW = Xᵀ·dY, (K×M)·(M×N), only when W is
trained. Attention: dQ = dS·K and dK = dSᵀ·Q; dP = dO·Vᵀ and dV = Pᵀ·dO. A vector op's backward does twice
the forward work (`VectorOp.backward`) and reads the incoming gradient plus only what it needs (`SAVED`): a norm or
activation its input, a product both factors, softmax its output; an add or rotary embedding nothing (its backward
is the identity or a fixed rotation). So the forward tensors that stay alive until the backward are exactly the ones
a backward op reads.

Activation recomputation (`recompute`): `attention` keeps no score or probability tensor for the backward and
re-runs each layer's score GEMM and softmax just before that layer's attention backward; `full` keeps only each
layer's input and re-runs the layer's whole forward (with QLoRA's dequantisation) before its backward, as
gradient checkpointing per decoder layer does. Re-run ops are phase `recompute`.

Every node names the tensors it reads and the tensor it writes, so `edgesim.llm.memory` can derive lifetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from edgesim.arch import ArchSpec
from edgesim.cost.vector import NF4_BITS_PER_WEIGHT, SAVED
from edgesim.llm.layers import FwdNode, LayerSettings, decoder_layer_nodes, output_bytes
from edgesim.llm.model import ModelShape
from edgesim.llm.trace import EdgeLlmPhase, LayerPolicy, uniform_policy
from edgesim.methods import Method, Phase
from edgesim.operands import operand_model
from edgesim.ops import Gemm, Op, VectorKind, VectorOp
from edgesim.units import bits_to_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TuningSettings:
    seq: int = 512
    batch: int = 1
    lora_rank: int = 8
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    partial_layers: int = 8
    base_bits: int = 16  # weights and activations of the uncompressed methods (fp16)
    qlora_compute_bits: int = 16  # QLoRA's GEMMs run on weights dequantised from NF4 to this width
    grad_bits: int = 16  # activation gradients
    param_bits: int = 16  # trainable parameters and their gradients
    optimizer: str = "adam"  # adam (2 fp32 states per parameter) or sgd (none)
    optimizer_state_bits: int = 32
    vector_bits: int = 16
    full_forward: bool = False  # edge-llm: the training forward runs every layer (the released code), not up to the exit
    train_exit_heads: bool = False  # edge-llm: the exit head is trained too (the authors' released code), not frozen
    recompute: str = "none"  # none, attention (scores and softmax re-run in the backward) or full (whole layers)
    # uniform compression of the frozen base weights (lora, partial's frozen layers): their width (None: base_bits,
    # activations stay at base_bits) and unstructured sparsity. Full tuning trains every weight, QLoRA's are NF4 and
    # edge-llm's come from its trace, so those refuse it (`compression_problem`).
    weight_bits: int | None = None
    weight_sparsity: float = 0.0


RECOMPUTE_CHOICES = ("none", "attention", "full")


@dataclass(frozen=True, slots=True, kw_only=True)
class StepNode:
    op: Op
    phase: Phase
    layer: int  # decoder layer, or -1 for the embedding, heads and loss
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    output_bytes: float  # of each output tensor
    category: str  # of the outputs: activation, attention, gradient (of an activation) or param_grad


@dataclass(frozen=True, slots=True, kw_only=True)
class TuningStep:
    model: ModelShape
    method: Method
    label: str
    nodes: tuple[StepNode, ...]
    persistent_bytes: dict[str, float]  # weights, trainable_params, gradients, optimizer_state
    trainable_params: int
    forward_layers: int
    backward_layers: tuple[int, ...]
    inputs: dict[str, float] = field(default_factory=dict)  # tensors that exist before the first op


def compression_problem(method: Method | str, weight_bits: int | None, weight_sparsity: float) -> str | None:
    """Why uniform base-weight compression cannot apply to `method` (None: it can)."""
    if weight_bits is None and weight_sparsity == 0:
        return None
    if not 0 <= weight_sparsity < 1:
        return f"weight sparsity must be in [0, 1), got {weight_sparsity}"
    reasons = {Method.FULL: "full tuning trains every weight, so there is no frozen base to compress",
               Method.QLORA: "qlora's base weights are NF4 blocks (its own compression)",
               Method.EDGE_LLM: "edge-llm's compression is its trace's per-layer policy"}
    return reasons.get(Method(method)) if method in {m.value for m in Method} else None


def _policy(method: Method, st: TuningSettings, traced: LayerPolicy | None, trained: bool = False) -> LayerPolicy:
    """The trace's policy when one is given (any method: e.g. LoRA on a LUC-compressed model), else uniform: the
    settings' base-weight compression on frozen layers, none on layers whose weights are trained."""
    if traced is not None:
        return traced
    if method == Method.QLORA:
        return LayerPolicy(w_bits=st.qlora_compute_bits, a_bits=st.base_bits, kv_bits=st.base_bits)
    return uniform_policy(st.base_bits, None, 0.0) if trained else uniform_policy(st.base_bits, st.weight_bits,
                                                                                  st.weight_sparsity)


def _category(node: FwdNode) -> str:
    return "attention" if node.role == "attn_scores" or node.output.endswith("softmax") else "activation"


class _StepBuilder:
    def __init__(self, st: TuningSettings):
        self.st = st
        self.nodes: list[StepNode] = []

    def add(self, op: Op, phase: Phase, layer: int, inputs: tuple[str, ...], output: str | tuple[str, ...],
            category: str) -> None:
        # parameter gradients and optimizer results live in persistent buffers, counted apart
        size = 0.0 if category == "param_grad" else output_bytes(op)
        outputs = (output,) if isinstance(output, str) else output
        self.nodes.append(StepNode(op=op, phase=phase, layer=layer, inputs=inputs, outputs=outputs,
                                   output_bytes=size, category=category))

    def gemm(self, name: str, m: int, n: int, k: int, *, batch: int = 1, a_bits: int, b_bits: int, like: Gemm | None = None,
             c_bits: int | None = None) -> Gemm:
        extra = {} if like is None else {"weight_density": like.weight_density, "weight_format": like.weight_format,
                                         "nm": like.nm}
        return Gemm(name=name, m=m, n=n, k=k, batch=batch, a_bits=a_bits, b_bits=b_bits,
                    c_bits=c_bits or self.st.grad_bits, **extra)  # type: ignore[arg-type]

    def dequant(self, f: FwdNode, layer: int, phase: Phase) -> str:
        """QLoRA: dequantise the projection's NF4 weight to the GEMM's width on the vector unit; the name of the
        dequantised weight (a transient workspace tensor the GEMM reads)."""
        assert isinstance(f.op, Gemm)
        tag = {Phase.FORWARD: "fwd", Phase.RECOMPUTE: "re"}.get(phase, "bwd")
        name = f"{f.op.name}.dequant_{tag}"
        self.add(VectorOp(name=name, kind=VectorKind.DEQUANT_NF4, elements=f.op.batch * f.op.k * f.op.n, bits=f.op.b_bits),
                 phase, layer, (), name, "workspace")
        return name

    def backward(self, f: FwdNode, layer: int, trains_weight: bool, dequant: bool = False,
                 saved: dict[str, str] | None = None) -> None:
        """Backward ops of one forward node, given the gradient d:<output> (QLoRA: `dequant` its weight first).
        `saved` renames forward tensors to their recomputed copies (gradients keep the forward names)."""
        g, dy, op = self.st.grad_bits, f"d:{f.output}", f.op
        re = saved or {}
        ins = tuple(re.get(x, x) for x in f.inputs)
        if isinstance(op, VectorOp):
            back = replace(op, name=f"{op.name}.bwd", backward=True, bits=self.st.vector_bits)
            need = SAVED[op.kind]
            reads = ins if need == "inputs" else (re.get(f.output, f.output),) if need == "output" else ()
            self.add(back, Phase.BACKWARD_DATA, layer, (dy, *reads), tuple(f"d:{x}" for x in f.inputs), "gradient")
            return
        assert isinstance(op, Gemm)
        if f.role in ("linear", "lora_a", "lora_b"):
            x = ins[0]
            dx = self.gemm(f"{op.name}.bwd_data", op.m, op.k, op.n, batch=op.batch, a_bits=g, b_bits=op.b_bits,
                           like=op if f.role == "linear" else None)
            w = (self.dequant(f, layer, Phase.BACKWARD_DATA),) if dequant else ()
            self.add(dx, Phase.BACKWARD_DATA, layer, (dy, *w), f"d:{x}", "gradient")
            if trains_weight:
                dw = self.gemm(f"{op.name}.bwd_weight", op.k, op.n, op.m, batch=op.batch, a_bits=op.a_bits, b_bits=g,
                               c_bits=self.st.param_bits)
                self.add(dw, Phase.BACKWARD_WEIGHT, layer, (x, dy), f"grad:{f.weight}", "param_grad")
            return
        # attention: both operands are activations
        a_in, b_in = ins
        if f.role == "attn_scores":  # S = Q·Kᵀ per head: (seq×d)·(d×seq)
            d_a = self.gemm(f"{op.name}.bwd_dq", op.m, op.k, op.n, batch=op.batch, a_bits=g, b_bits=op.b_bits)
            d_b = self.gemm(f"{op.name}.bwd_dk", op.n, op.k, op.m, batch=op.batch, a_bits=g, b_bits=op.a_bits)
        else:  # O = P·V per head: (seq×seq)·(seq×d)
            d_a = self.gemm(f"{op.name}.bwd_dp", op.m, op.k, op.n, batch=op.batch, a_bits=g, b_bits=op.b_bits)
            d_b = self.gemm(f"{op.name}.bwd_dv", op.k, op.n, op.m, batch=op.batch, a_bits=op.a_bits, b_bits=g)
        self.add(d_a, Phase.BACKWARD_DATA, layer, (dy, b_in), f"d:{f.inputs[0]}", "gradient")
        self.add(d_b, Phase.BACKWARD_DATA, layer, (dy, a_in), f"d:{f.inputs[1]}", "gradient")

    def rerun(self, nodes: list[FwdNode], layer: int, saved: dict[str, str], dequant: bool) -> None:
        """Re-run forward `nodes` in the backward pass, writing `<tensor>.re` copies and recording them in `saved`."""
        for f in nodes:
            op = replace(f.op, name=f"{f.op.name}.re")
            inputs = tuple(saved.get(x, x) for x in f.inputs)
            if dequant and f.role == "linear":
                inputs = (*inputs, self.dequant(f, layer, Phase.RECOMPUTE))
            saved[f.output] = f"{f.output}.re"
            self.add(op, Phase.RECOMPUTE, layer, inputs, saved[f.output], _category(f))


def _layer_settings(pol: LayerPolicy, st: TuningSettings, lora: bool) -> LayerSettings:
    return LayerSettings(seq=st.seq, batch=st.batch, w_bits=pol.w_bits, a_bits=pol.a_bits, kv_bits=pol.kv_bits,
                         vector_bits=st.vector_bits, weight_density=pol.weight_density,
                         weight_format=pol.weight_format, nm=pol.nm,
                         lora_rank=(st.lora_rank if pol.lora_rank is None else pol.lora_rank) if lora else 0,
                         lora_targets=st.lora_targets)


def default_seq(model: ModelShape, trace_seq: int | None) -> int:
    """The sequence length a tuning step runs at when none is given: the trace's, else 512 capped at the model's
    max_seq."""
    return trace_seq if trace_seq is not None else min(512, model.max_seq)


def expand_step(arch: ArchSpec, model: ModelShape, method: Method, st: TuningSettings = TuningSettings(),
                policies: list[LayerPolicy] | None = None, phase: EdgeLlmPhase | None = None) -> TuningStep:
    """The ops of one tuning step, in execution order, with tensor dataflow and persistent memory.

    `policies` (per layer) compress the base weights of any method; edge-llm requires them and `phase`.
    """
    L = model.layers
    if (why := compression_problem(method, st.weight_bits, st.weight_sparsity)) is not None:
        raise ValueError(why)
    if method == Method.EDGE_LLM:
        if policies is None or phase is None:
            raise ValueError("edge-llm needs per-layer policies and the active phase (from a trace)")
        n_fwd, train = (L if st.full_forward else phase.exit_layer + 1), range(phase.first, phase.last + 1)
        exit_layer = phase.exit_layer
        back = range(phase.first, phase.exit_layer + 1)  # the loss is at the exit: gradients flow back through every
        # layer between it and the window (activation gradients only beyond the window, which trains nothing there)
    else:
        n_fwd, exit_layer = L, L - 1
        train = range(max(0, L - st.partial_layers), L) if method == Method.PARTIAL else range(L)
        back = train
    adapters = method in (Method.LORA, Method.QLORA, Method.EDGE_LLM)
    b = _StepBuilder(st)
    t, h = st.batch * st.seq, model.hidden
    x = "embeddings"
    fwd: dict[int, list[FwdNode]] = {}
    weights = float(model.vocab * h * bits_to_bytes(st.base_bits))  # embedding table
    trainable = 0
    for layer in range(n_fwd):
        pol = _policy(method, st, policies[layer] if policies else None, trained=not adapters and layer in train)
        nodes, x = decoder_layer_nodes(model, _layer_settings(pol, st, adapters and layer in train), f"L{layer}.", x,
                                       layer=layer)
        if layer == exit_layer:
            x_exit = x  # the hidden state the exit head reads (layers after it, if run, feed nothing back)
        fwd[layer] = nodes
        for f in nodes:
            inputs = f.inputs
            if method == Method.QLORA and f.role == "linear":
                inputs = (*inputs, b.dequant(f, layer, Phase.FORWARD))
            b.add(f.op, Phase.FORWARD, layer, inputs, f.output, _category(f))
            if f.role == "linear":
                assert isinstance(f.op, Gemm)
                copies = f.stored or f.op.batch  # every expert is stored, not only those this batch touches
                weights += copies * (f.op.k * f.op.n * NF4_BITS_PER_WEIGHT / 8 if method == Method.QLORA
                                     else operand_model(arch, f.op).b_stored_bytes)
                if not adapters and layer in train:
                    trainable += copies * f.op.k * f.op.n
            elif f.role in ("lora_a", "lora_b"):
                assert isinstance(f.op, Gemm)
                trainable += (f.stored or f.op.batch) * f.op.k * f.op.n
    x = x_exit
    head_bits = policies[exit_layer].w_bits if policies else _policy(method, st, None, trained=True).w_bits
    head_bits = min(head_bits, st.base_bits) if method != Method.QLORA else st.base_bits
    if model.tied_embeddings:  # the head reads the embedding table, stored once at its width
        head_bits = st.base_bits
    else:
        weights += model.vocab * h * bits_to_bytes(head_bits)
    norm_kind = VectorKind.RMSNORM if model.norm == "rmsnorm" else VectorKind.LAYERNORM
    final_norm = VectorOp(name="head.norm", kind=norm_kind, elements=t * h, bits=st.vector_bits)
    head = Gemm(name="head.logits", m=t, n=model.vocab, k=h, a_bits=st.vector_bits, b_bits=head_bits, c_bits=st.vector_bits)
    loss = VectorOp(name="head.loss", kind=VectorKind.SOFTMAX, elements=t * model.vocab, bits=st.vector_bits)
    b.add(final_norm, Phase.FORWARD, -1, (x,), "head.norm", "activation")
    b.add(head, Phase.FORWARD, -1, ("head.norm",), "head.logits", "activation")
    b.add(loss, Phase.FORWARD, -1, ("head.logits",), "head.loss", "activation")
    b.add(replace(loss, name="head.loss.bwd", backward=True), Phase.BACKWARD_DATA, -1, ("head.loss", "head.logits"),
          "d:head.logits", "gradient")
    b.add(b.gemm("head.logits.bwd_data", t, h, model.vocab, a_bits=st.grad_bits, b_bits=head_bits),
          Phase.BACKWARD_DATA, -1, ("d:head.logits",), "d:head.norm", "gradient")
    head_trained = 0
    if method == Method.EDGE_LLM and st.train_exit_heads:  # dW = normᵀ·dlogits, (h×t)·(t×vocab)
        b.add(b.gemm("head.logits.bwd_weight", h, model.vocab, t, a_bits=st.vector_bits, b_bits=st.grad_bits,
                     c_bits=st.param_bits), Phase.BACKWARD_WEIGHT, -1, ("head.norm", "d:head.logits"),
              "grad:head.logits.weight", "param_grad")
        head_trained = model.vocab * h
        trainable += head_trained
    b.add(replace(final_norm, name="head.norm.bwd", backward=True), Phase.BACKWARD_DATA, -1, ("d:head.norm", x),
          f"d:{x}", "gradient")
    qlora = method == Method.QLORA
    if st.recompute not in RECOMPUTE_CHOICES:
        raise ValueError(f"recompute must be one of {', '.join(RECOMPUTE_CHOICES)}, got {st.recompute!r}")
    for layer in sorted(back, reverse=True):
        saved: dict[str, str] = {}
        if st.recompute == "full":
            b.rerun(fwd[layer], layer, saved, qlora)
        for f in reversed(fwd[layer]):
            if st.recompute == "attention" and f.role == "attn_context":
                scores = next(n for n in fwd[layer] if n.role == "attn_scores")
                probs = next(n for n in fwd[layer] if n.inputs == (scores.output,))
                b.rerun([scores, probs], layer, saved, qlora)
            trains = (f.role == "linear" and not adapters) or f.role in ("lora_a", "lora_b")
            b.backward(f, layer, trains, dequant=qlora and f.role == "linear", saved=saved)
    # the update reads every parameter gradient (persistent buffers: no activation memory), so it runs after them
    grads = tuple(out for n in b.nodes if n.category == "param_grad" for out in n.outputs)
    if trainable and st.optimizer == "adam":
        b.add(VectorOp(name="optimizer.adam", kind=VectorKind.ADAM, elements=trainable, bits=st.optimizer_state_bits),
              Phase.OPTIMIZER, -1, grads, "optimizer.updated", "param_grad")
    elif trainable:
        b.add(VectorOp(name="optimizer.sgd", kind=VectorKind.SGD, elements=trainable, bits=st.param_bits),
              Phase.OPTIMIZER, -1, grads, "optimizer.updated", "param_grad")
    states = 2 if st.optimizer == "adam" else 0
    persistent = {
        "weights": weights,
        # a trained exit head's weights are already counted with the weights; its gradient and state are not
        "trainable_params": (trainable - head_trained) * bits_to_bytes(st.param_bits) if adapters else 0.0,
        "gradients": trainable * bits_to_bytes(st.param_bits),
        "optimizer_state": trainable * states * bits_to_bytes(st.optimizer_state_bits),
    }
    label = str(method) if phase is None else f"{method} (window {phase.first}-{phase.last}, exit {phase.exit_layer})"
    return TuningStep(model=model, method=method, label=label, nodes=tuple(b.nodes), persistent_bytes=persistent,
                      trainable_params=trainable, forward_layers=n_fwd, backward_layers=tuple(sorted(back)),
                      inputs={"embeddings": t * h * bits_to_bytes(st.vector_bits)})
