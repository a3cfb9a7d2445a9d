"""Retrieval-augmented generation (RAG) as an adaptation method: what it costs on the accelerator.

Instead of tuning, the personal corpus is split into `chunks` chunks of `chunk_tokens` tokens, embedded once by a
small encoder (e.g. `workloads/models/minilm_l6.yaml`) and stored as an index. Each query then:
1. embeds the query (`query_tokens` through the encoder, mean-pooled);
2. scores it against the index on the vector unit (`VectorKind.DOT`, the stored embeddings streaming from DRAM) and
   keeps the `top_k` best (`VectorKind.TOPK`): `flat` scans every chunk; `ivf` (an inverted-file index) scans the
   `ivf_lists` centroids and the `ivf_probe` lists nearest to the query, i.e. about probe/lists of the chunks;
3. prefills the prompt lengthened by the retrieved chunks (top_k x chunk_tokens tokens), with the KV cache that
   longer context needs; generation then decodes as usual (`edgesim.llm.inference`, the untuned base model).

Costs: indexing = the encoder's forward over chunks x chunk_tokens tokens (each chunk its own sequence) plus the
pooling; per query = the query's embedding + the search + the generation with the longer prompt. Memory: the
index (chunks x embedding width, plus the IVF centroids) and the encoder's weights, beside the model's.
The encoder is bidirectional: its layers cost what a decoder layer of its shape costs without a causal mask,
which a dense array does not exploit anyway (`edgesim.llm.layers`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from edgesim.arch import ArchSpec
from edgesim.llm.inference import InferenceSettings, run_cost, run_inference
from edgesim.llm.layers import LayerSettings, decoder_layer_forward
from edgesim.llm.model import ModelShape
from edgesim.operands import operand_model
from edgesim.ops import Gemm, Op, VectorKind, VectorOp
from edgesim.results import Engine, InfeasibleOp, InferenceResult
from edgesim.units import bits_to_bytes, cycles_to_seconds


class IndexKind(StrEnum):
    FLAT = "flat"  # brute force: every stored embedding per query
    IVF = "ivf"  # inverted file: centroids, then the nearest lists only


@dataclass(frozen=True, slots=True, kw_only=True)
class RagSettings:
    chunks: int = 10_000  # stored chunks of the personal corpus
    chunk_tokens: int = 128
    top_k: int = 4  # chunks retrieved per query (added to the prompt)
    query_tokens: int = 32  # tokens of the query the encoder embeds
    embed_bits: int = 8  # stored embedding element width
    encoder_bits: int = 8  # the encoder's weight and activation width
    index: IndexKind = IndexKind.FLAT
    ivf_lists: int = 0  # ivf: clusters (0: round(sqrt(chunks)))
    ivf_probe: int = 8  # ivf: clusters scanned per query

    def __post_init__(self) -> None:
        for name in ("chunks", "chunk_tokens", "top_k", "query_tokens", "embed_bits", "encoder_bits", "ivf_probe"):
            if getattr(self, name) < 1:
                raise ValueError(f"RAG {name} must be >= 1, got {getattr(self, name)}")
        if self.top_k > self.chunks:
            raise ValueError(f"RAG top_k ({self.top_k}) exceeds the stored chunks ({self.chunks})")

    @property
    def lists(self) -> int:
        return self.ivf_lists or max(1, round(math.sqrt(self.chunks)))

    @property
    def scanned(self) -> int:
        """Stored embeddings scored per query (IVF: the probed lists, assumed of equal size)."""
        if self.index == IndexKind.FLAT:
            return self.chunks
        return min(self.chunks, math.ceil(self.chunks * min(self.ivf_probe, self.lists) / self.lists))


def encoder_ops(encoder: ModelShape, sequences: int, tokens: int, bits: int, vb: int, prefix: str) -> list[Op]:
    """The encoder's forward over `sequences` sequences of `tokens` tokens, then mean pooling to one vector each."""
    st = LayerSettings(seq=tokens, batch=sequences, w_bits=bits, a_bits=bits, kv_bits=bits, vector_bits=vb)
    ops: list[Op] = []
    for layer in range(encoder.layers):
        ops += decoder_layer_forward(encoder, st, f"{prefix}L{layer}.")
    ops.append(VectorOp(name=f"{prefix}pool", kind=VectorKind.ADD, elements=sequences * tokens * encoder.hidden, bits=vb))
    return ops


def index_ops(encoder: ModelShape, rs: RagSettings, vb: int) -> list[Op]:
    """Embedding the whole corpus once (and, for IVF, assigning each chunk to its nearest centroid)."""
    ops = encoder_ops(encoder, rs.chunks, rs.chunk_tokens, rs.encoder_bits, vb, "index.")
    if rs.index == IndexKind.IVF:
        ops.append(VectorOp(name="index.assign", kind=VectorKind.DOT, elements=rs.chunks * rs.lists * encoder.hidden,
                            bits=rs.embed_bits))
    return ops


def query_ops(encoder: ModelShape, rs: RagSettings, vb: int) -> list[Op]:
    """One query's embedding and search (the generation is costed separately)."""
    d = encoder.hidden
    ops = encoder_ops(encoder, 1, rs.query_tokens, rs.encoder_bits, vb, "query.")
    if rs.index == IndexKind.IVF:
        ops.append(VectorOp(name="query.centroids", kind=VectorKind.DOT, elements=rs.lists * d, bits=rs.embed_bits))
        ops.append(VectorOp(name="query.probe", kind=VectorKind.TOPK, elements=rs.lists, bits=vb))
    ops.append(VectorOp(name="query.scan", kind=VectorKind.DOT, elements=rs.scanned * d, bits=rs.embed_bits))
    ops.append(VectorOp(name="query.topk", kind=VectorKind.TOPK, elements=rs.scanned, bits=vb))
    return ops


def index_bytes(encoder: ModelShape, rs: RagSettings) -> float:
    """The stored index: one embedding per chunk (plus the IVF centroids and a list id per chunk)."""
    out = rs.chunks * encoder.hidden * bits_to_bytes(rs.embed_bits)
    if rs.index == IndexKind.IVF:
        out += rs.lists * encoder.hidden * bits_to_bytes(rs.embed_bits) + rs.chunks * 4  # 32-bit list ids
    return float(out)


def encoder_weight_bytes(arch: ArchSpec, encoder: ModelShape, rs: RagSettings) -> float:
    """The encoder's projection weights as stored, plus its embedding table."""
    st = LayerSettings(seq=1, batch=1, w_bits=rs.encoder_bits, a_bits=rs.encoder_bits, kv_bits=rs.encoder_bits)
    per_layer = sum(operand_model(arch, op).b_stored_bytes for op in decoder_layer_forward(encoder, st)
                    if isinstance(op, Gemm) and not op.name.endswith(("attn_scores", "attn_context")))
    return float(encoder.layers * per_layer + encoder.vocab * encoder.hidden * bits_to_bytes(rs.encoder_bits))


@dataclass(frozen=True, slots=True, kw_only=True)
class RagResult:
    """Seconds, pJ and bytes. `generation` is the untuned model answering with the longer prompt."""

    index_seconds: float
    index_energy_pj: float
    retrieve_seconds: float  # per query: the query's embedding and the search
    retrieve_energy_pj: float
    generation: InferenceResult
    prompt_tokens: int  # the prompt as prefilled: the question plus top_k x chunk_tokens retrieved tokens
    index_bytes: float
    encoder_bytes: float
    infeasible_ops: tuple[InfeasibleOp, ...]

    def query_seconds(self, generate: int) -> float:
        """One query: retrieval, the longer prefill, and `generate` decoded tokens."""
        g = self.generation
        return self.retrieve_seconds + g.prefill_seconds + generate * g.decode_seconds_per_token

    def query_energy_pj(self, generate: int) -> float:
        g = self.generation
        return self.retrieve_energy_pj + g.prefill_energy_pj + generate * g.energy_pj_per_token

    @property
    def peak_bytes(self) -> float:
        """The model's inference peak (weights, the longer context's KV cache) plus the index and the encoder."""
        return self.generation.peak_bytes + self.index_bytes + self.encoder_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RagIndexing:
    """RAG's adaptation: embedding the corpus once. Seconds, pJ, bytes."""

    seconds: float
    energy_pj: float
    dram_bytes: float
    index_bytes: float
    encoder_bytes: float
    workspace_bytes: float  # one chunk's activations through the encoder (the largest layer output, x 2)
    infeasible_ops: tuple[InfeasibleOp, ...]

    @property
    def peak_bytes(self) -> float:
        return self.index_bytes + self.encoder_bytes + self.workspace_bytes


def run_index(arch: ArchSpec, encoder: ModelShape, rs: RagSettings, vector_bits: int = 16,
              engine: Engine = Engine.ANALYTIC) -> RagIndexing:
    """Indexing alone (what `edgesim tune --method rag` reports as RAG's adaptation)."""
    cycles, energy, dram, bad = run_cost(arch, index_ops(encoder, rs, vector_bits), engine)
    # chunks are embedded one after another: the live activations are one chunk's widest tensor, in and out
    widest = rs.chunk_tokens * max(encoder.hidden, encoder.intermediate) * bits_to_bytes(vector_bits)
    attn = encoder.heads * rs.chunk_tokens * rs.chunk_tokens * bits_to_bytes(vector_bits)
    return RagIndexing(seconds=cycles_to_seconds(cycles, arch.clock_mhz), energy_pj=energy, dram_bytes=dram,
                       index_bytes=index_bytes(encoder, rs), encoder_bytes=encoder_weight_bytes(arch, encoder, rs),
                       workspace_bytes=float(2 * max(widest, attn)), infeasible_ops=tuple(bad))


def run_rag(arch: ArchSpec, model: ModelShape, encoder: ModelShape, st: InferenceSettings, rs: RagSettings,
            engine: Engine = Engine.ANALYTIC) -> RagResult:
    vb = st.vector_bits
    ic, ie, _, bad_index = run_cost(arch, index_ops(encoder, rs, vb), engine)
    qc, qe, _, bad_query = run_cost(arch, query_ops(encoder, rs, vb), engine)
    prompt = st.prompt + rs.top_k * rs.chunk_tokens
    gen = run_inference(arch, model, replace(st, prompt=prompt), None, engine)
    gen = replace(gen, label=f"rag ({rs.index}, top {rs.top_k} of {rs.chunks:,} chunks of {rs.chunk_tokens} tokens)")
    bad: dict[str, InfeasibleOp] = {}
    for o in (*bad_index, *bad_query, *gen.infeasible_ops):
        bad.setdefault(o.name, o)
    return RagResult(index_seconds=cycles_to_seconds(ic, arch.clock_mhz), index_energy_pj=ie,
                     retrieve_seconds=cycles_to_seconds(qc, arch.clock_mhz), retrieve_energy_pj=qe, generation=gen,
                     prompt_tokens=prompt, index_bytes=index_bytes(encoder, rs),
                     encoder_bytes=encoder_weight_bytes(arch, encoder, rs), infeasible_ops=tuple(bad.values()))
