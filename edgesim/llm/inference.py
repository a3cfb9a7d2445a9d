"""Inference with a tuned model: prefill of a prompt, then per-token decode, with Edge-LLM's voting.

Vanilla (a LoRA-tuned model): adapters merged into the base weights, one LM head at the last layer.
Edge-LLM: the base weights stay compressed (merging would undo the sparsity and the low bit-widths),
so every adapted projection also runs its LoRA A/B stream; every exit in the trace runs its own head
(final norm, LM head, softmax over the vocabulary) and the exits vote: element-wise max of their
probabilities, renormalised (DESIGN.md 2(b)). Those heads and the adapter stream are the real extra
cost of voting, and they are counted.

`voting_streams=2` is the authors' released code (GATECH-EIC/Edge-LLM, `models/edge_llama_modelling.py`, eval mode):
every layer runs twice, once as the frozen backbone (no adapters) and once as the adapted stream, which restarts from
the backbone's hidden state after each exit layer; each stream keeps its own K and V. The released script also turns
the KV cache off during evaluation (recomputing the whole context per token); that is an artefact of the research
code, not of the method, and is not modelled: both streams here decode with a KV cache.

Decode at context c (tokens already in the KV cache): each projection is a (1×K)·(K×N) product, the
attention reads the cache (scores (1×d)·(d×c) and context (1×c)·(c×d) per head) and appends one K and
one V row per layer. Memory: weights (with sparsity metadata), the KV cache of the whole context
(2 × layers × context × kv dim at the KV width) and the heads.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgesim.arch import ArchSpec
from edgesim.errors import Infeasible
from edgesim.evaluate import run_op
from edgesim.llm.layers import LayerSettings, decoder_layer_forward, decoder_layer_nodes
from edgesim.llm.model import ModelShape
from edgesim.llm.trace import LayerPolicy, Trace, uniform_policy
from edgesim.operands import operand_model
from edgesim.ops import Gemm, Op, VectorKind, VectorOp
from edgesim.results import Engine, InfeasibleOp, InferenceResult
from edgesim.units import bits_to_bytes, cycles_to_seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class InferenceSettings:
    prompt: int = 512
    generate: int = 128
    base_bits: int = 16
    vector_bits: int = 16
    lora_rank: int = 8
    voting_streams: int = 1  # edge-llm: 2 runs the backbone and the adapted stream side by side (released code)
    # uniform compression of the base weights when no trace is given (as TuningSettings'); the head stays at base_bits
    weight_bits: int | None = None
    weight_sparsity: float = 0.0


def _layer_settings(pol: LayerPolicy, tokens: int, lora: int, vb: int) -> LayerSettings:
    return LayerSettings(seq=tokens, batch=1, w_bits=pol.w_bits, a_bits=pol.a_bits, kv_bits=pol.kv_bits, vector_bits=vb,
                         weight_density=pol.weight_density, weight_format=pol.weight_format, nm=pol.nm,
                         lora_rank=(lora if pol.lora_rank is None else pol.lora_rank) if lora else 0)


def _layer_ops(model: ModelShape, pol: LayerPolicy, tokens: int, ctx: int, lora: int, vb: int, prefix: str,
               layer: int) -> list[Op]:
    """Layer `layer`'s forward for `tokens` new tokens attending to `ctx` positions."""
    ops = decoder_layer_forward(model, _layer_settings(pol, tokens, lora, vb), prefix, layer)
    if ctx == tokens:
        return ops
    heads, d, keys = model.heads, model.head_dim, model.attended(ctx, layer)
    out: list[Op] = []
    for op in ops:  # decode: attention against the cache instead of the (tokens x tokens) square
        if isinstance(op, Gemm) and op.name.endswith("attn_scores"):
            op = Gemm(name=op.name, m=tokens, n=keys, k=d, batch=heads, a_bits=op.a_bits, b_bits=op.b_bits, c_bits=op.c_bits)
        elif isinstance(op, Gemm) and op.name.endswith("attn_context"):
            op = Gemm(name=op.name, m=tokens, n=d, k=keys, batch=heads, a_bits=op.a_bits, b_bits=op.b_bits, c_bits=op.c_bits)
        elif isinstance(op, VectorOp) and op.name.endswith("softmax"):
            op = VectorOp(name=op.name, kind=op.kind, elements=heads * tokens * keys, bits=op.bits)
        out.append(op)
    return out


def _heads(model: ModelShape, exits: tuple[int, ...], tokens: int, head_bits: int, vb: int) -> list[Op]:
    norm = VectorKind.RMSNORM if model.norm == "rmsnorm" else VectorKind.LAYERNORM
    ops: list[Op] = []
    for e in exits:
        ops += [VectorOp(name=f"exit{e}.norm", kind=norm, elements=tokens * model.hidden, bits=vb),
                Gemm(name=f"exit{e}.logits", m=tokens, n=model.vocab, k=model.hidden, a_bits=vb, b_bits=head_bits, c_bits=vb),
                VectorOp(name=f"exit{e}.softmax", kind=VectorKind.SOFTMAX, elements=tokens * model.vocab, bits=vb)]
    if len(exits) > 1:  # vote: element-wise max over exits, then renormalise
        ops += [VectorOp(name="vote.max", kind=VectorKind.ADD, elements=(len(exits) - 1) * tokens * model.vocab, bits=vb),
                VectorOp(name="vote.renorm", kind=VectorKind.MUL, elements=tokens * model.vocab, bits=vb)]
    return ops


def pass_ops(model: ModelShape, policies: list[LayerPolicy], lora: int, exits: tuple[int, ...], tokens: int, ctx: int,
             head_bits: int, vb: int, streams: int = 1) -> list[Op]:
    """One forward pass over `tokens` new tokens; `streams=2` adds the backbone stream (no adapters) beside the
    adapted one in every layer."""
    ops: list[Op] = []
    for layer in range(model.layers):
        if streams == 2:
            ops += _layer_ops(model, policies[layer], tokens, ctx, 0, vb, f"L{layer}.backbone.", layer)
        ops += _layer_ops(model, policies[layer], tokens, ctx, lora, vb, f"L{layer}.", layer)
    return ops + _heads(model, exits, 1, head_bits, vb)  # logits only for the position being generated


def run_cost(arch: ArchSpec, ops: list[Op], engine: Engine) -> tuple[float, float, float, list[InfeasibleOp]]:
    """Cycles, energy (pJ) and DRAM bytes of the feasible ops, and the infeasible ones."""
    cycles = energy = dram = 0.0
    infeasible = []
    for op in ops:
        r = run_op(arch, op, engine, max_events=0)
        if isinstance(r.cost, Infeasible):
            infeasible.append(InfeasibleOp(op.name, r.cost.reason))
            continue
        cycles += r.total_cycles
        energy += r.cost.energy_pj
        dram += r.cost.dram_bytes
    return cycles, energy, dram, infeasible


def run_inference(arch: ArchSpec, model: ModelShape, st: InferenceSettings, trace: Trace | None,
                  engine: Engine = Engine.ANALYTIC, samples: int = 4) -> InferenceResult:
    """Prefill once; decode cost sampled at `samples` evenly spaced contexts and averaged (it is linear in context)."""
    exits: tuple[int, ...]
    if st.voting_streams not in (1, 2):
        raise ValueError(f"voting_streams must be 1 or 2, got {st.voting_streams}")
    streams = 1
    if trace is None:
        pol = uniform_policy(st.base_bits, st.weight_bits, st.weight_sparsity)
        policies, lora, exits, label = [pol] * model.layers, 0, (model.layers - 1,), "lora (merged, one exit)"
    else:
        policies, lora = list(trace.policies), st.lora_rank
        exits, streams = trace.exit_layers, st.voting_streams
        kind = "backbone + adapted streams" if streams == 2 else "adapter stream"
        label = f"edge-llm ({kind}, {len(trace.exit_layers)} voting exits)"
    head_bits = st.base_bits if trace is None else min(st.base_bits, max(p.w_bits for p in policies))
    prefill = pass_ops(model, policies, lora, exits, st.prompt, st.prompt, head_bits, st.vector_bits, streams)
    pre_c, pre_e, pre_d, infeasible = run_cost(arch, prefill, engine)
    dec_c = dec_e = dec_d = 0.0
    points = [st.prompt + round((i + 0.5) * st.generate / samples) for i in range(samples)]
    for ctx in points:
        c, e, d, bad = run_cost(arch, pass_ops(model, policies, lora, exits, 1, ctx, head_bits, st.vector_bits, streams),
                          engine)
        dec_c, dec_e, dec_d = dec_c + c / samples, dec_e + e / samples, dec_d + d / samples
        infeasible += [o for o in bad if o.name not in {x.name for x in infeasible}]
    weights = float(model.vocab * model.hidden * bits_to_bytes(st.base_bits))  # embedding table
    # one head per exit; with tied embeddings the last one is the embedding table itself
    weights += (len(exits) - model.tied_embeddings) * model.vocab * model.hidden * bits_to_bytes(head_bits)
    for layer, pol in enumerate(policies):
        layer_st = _layer_settings(pol, 1, lora, st.vector_bits)
        for f in decoder_layer_nodes(model, layer_st, f"L{layer}.")[0]:
            if isinstance(f.op, Gemm) and f.role != "vector" and not f.role.startswith("attn"):
                weights += (f.stored or f.op.batch) * operand_model(arch, f.op).b_stored_bytes
    ctx_end = st.prompt + st.generate
    kv = streams * sum(2 * model.attended(ctx_end, i) * model.kv_dim * bits_to_bytes(p.kv_bits)
                       for i, p in enumerate(policies))
    widest = max(model.attended(st.prompt, i) for i in range(min(model.layers, model.sliding_window_pattern)))
    workspace = st.prompt * model.heads * widest * bits_to_bytes(st.vector_bits)  # the widest layer's prefill scores
    dec_s = cycles_to_seconds(dec_c, arch.clock_mhz)
    return InferenceResult(label=label, prefill_seconds=cycles_to_seconds(pre_c, arch.clock_mhz),
                           decode_seconds_per_token=dec_s, tokens_per_second=1.0 / dec_s if dec_s else 0.0,
                           energy_pj_per_token=dec_e, prefill_energy_pj=pre_e, weight_bytes=weights, kv_cache_bytes=kv,
                           peak_bytes=weights + kv + workspace, exits=exits, prefill_dram_bytes=pre_d,
                           dram_bytes_per_token=dec_d, infeasible_ops=tuple(infeasible),
                           ops=len(prefill))
