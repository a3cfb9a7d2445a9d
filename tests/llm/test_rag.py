"""RAG's costs (`edgesim.llm.rag`) against hand calculations on the tiny model: the index's memory, the indexing
pass, the retrieval (search and top-k on the vector unit) and the longer prefill with its KV cache.

Every expected number is worked out in the comments from the module docstrings (edgesim/llm/rag.py,
edgesim/cost/vector.py, edgesim/llm/layers.py) and hw_configs/edge_npu_16x16.yaml, not taken from the code."""

from __future__ import annotations

import json

import pytest

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.cost.vector import evaluate_vector
from edgesim.llm.inference import InferenceSettings, run_inference
from edgesim.llm.rag import IndexKind, RagSettings, index_bytes, index_ops, query_ops, run_rag
from edgesim.ops import Gemm, VectorOp

ARCH = load_arch()  # edge_npu_16x16: 800 MHz; vector unit 16 lanes x 1 op; DRAM 12.8 GB/s = 16 B/cycle, 100 ns =
# 80 cycles; global buffer 64 B/cycle
TINY = load_model("tiny")  # 4 layers, hidden 64, intermediate 172, 4 heads of 16, kv dim 32, vocab 256


def test_index_memory_by_hand():
    # flat: 1,000 chunks x 64 dims x 1 B (8-bit embeddings) = 64,000 B
    assert index_bytes(TINY, RagSettings(chunks=1000, embed_bits=8)) == 64_000
    # ivf with 10 lists: + 10 centroids x 64 x 1 B + a 4-byte list id per chunk = 64,000 + 640 + 4,000
    assert index_bytes(TINY, RagSettings(chunks=1000, embed_bits=8, index=IndexKind.IVF, ivf_lists=10)) == 68_640
    # 16-bit embeddings double the vectors: 128,000 B
    assert index_bytes(TINY, RagSettings(chunks=1000, embed_bits=16)) == 128_000


def test_ivf_scans_the_probed_fraction():
    rs = RagSettings(chunks=1000, index=IndexKind.IVF, ivf_lists=10, ivf_probe=3)
    assert rs.scanned == 300  # 3 of 10 equal lists
    assert RagSettings(chunks=1000, index=IndexKind.IVF).lists == 32  # round(sqrt(1000)) = 31.6 -> 32
    assert RagSettings(chunks=1000).scanned == 1000  # flat scans all


def test_indexing_runs_the_encoder_over_every_chunk():
    # 10 chunks of 8 tokens: T = 80 tokens per layer. Per layer, MACs (edgesim/llm/layers.py shapes):
    #   q 80*64*64 = 327,680; k and v 80*64*32 = 163,840 each; o 327,680;
    #   gate and up 80*64*172 = 880,640 each; down 80*172*64 = 880,640;
    #   attention per sequence and head (10 x 4 = 40): scores 8*8*16 = 1,024 and context 8*16*8 = 1,024 -> 81,920
    # = 3,706,880 per layer; 4 layers: 14,827,520
    ops = index_ops(TINY, RagSettings(chunks=10, chunk_tokens=8), vb=16)
    assert sum(op.macs for op in ops if isinstance(op, Gemm)) == 14_827_520
    pool = [op for op in ops if op.name == "index.pool"]
    assert len(pool) == 1 and isinstance(pool[0], VectorOp) and pool[0].elements == 80 * 64  # mean over the tokens


def test_retrieval_search_costs_by_hand():
    # flat, 1,000 chunks, 64 dims, 8-bit embeddings: query.scan is a DOT over 64,000 elements: 2 ops each = 128,000
    # ops / 16 lanes = 8,000 vector cycles; it reads 64,000 B from DRAM (4,000 cycles) and the buffer writes then
    # reads them (128,000 B / 64 B = 2,000 cycles); total = 80 (DRAM latency) + max(8,000, 4,000, 2,000) = 8,080
    ops = {op.name: op for op in query_ops(TINY, RagSettings(chunks=1000, embed_bits=8), vb=16)}
    scan, topk = ops["query.scan"], ops["query.topk"]
    assert isinstance(scan, VectorOp) and isinstance(topk, VectorOp)
    c = evaluate_vector(ARCH, scan)
    assert (c.vector_cycles, c.dram_bytes, c.total_cycles) == (8_000, 64_000, 8_080)
    # top-k over 1,000 16-bit scores: 2,000 ops / 16 = 125 cycles; 2,000 B in: 125 DRAM cycles; total 80 + 125
    t = evaluate_vector(ARCH, topk)
    assert (t.vector_cycles, t.dram_bytes, t.total_cycles) == (125, 2_000, 205)
    # the query's own embedding: 1 sequence of 32 tokens through the encoder, pooled
    assert ops["query.pool"].elements == 32 * 64  # type: ignore[union-attr]


def test_rag_prefills_the_retrieved_chunks_and_keeps_their_kv_cache():
    st = InferenceSettings(prompt=16, generate=8, base_bits=8, vector_bits=16)
    rs = RagSettings(chunks=50, chunk_tokens=8, top_k=2, query_tokens=8)
    r = run_rag(ARCH, TINY, TINY, st, rs)
    # the prompt grows by top_k x chunk_tokens = 16 tokens: 32 prefilled
    assert r.prompt_tokens == 32
    # KV cache at the end: 2 (K, V) x 4 layers x (32 + 8) positions x kv dim 32 x 1 B (8-bit) = 10,240 B
    assert r.generation.kv_cache_bytes == 10_240
    plain = run_inference(ARCH, TINY, st, None)
    assert plain.kv_cache_bytes == 2 * 4 * (16 + 8) * 32  # 6,144 B without retrieval
    assert r.generation.prefill_seconds > plain.prefill_seconds
    assert r.index_bytes == 50 * 64 * 1  # 8-bit embeddings of 64 dims
    # the tiny encoder's weights at 8 bits, per layer: q 64*64 + k 64*32 + v 64*32 + o 64*64 + gate, up 64*172 each
    # + down 172*64 = 45,312 B; 4 layers = 181,248 B; plus the 256 x 64 embedding table = 197,632 B
    assert r.encoder_bytes == 197_632
    assert r.retrieve_seconds > 0 and r.index_seconds > r.retrieve_seconds  # 50 chunks of 8 vs one query of 8


def test_bad_settings_name_the_field():
    with pytest.raises(ValueError, match="top_k"):
        RagSettings(chunks=3, top_k=4)
    with pytest.raises(ValueError, match="chunk_tokens"):
        RagSettings(chunk_tokens=0)


TINY_RAG = ["infer", "--model", "tiny", "--encoder", "tiny", "--prompt", "16", "--generate", "8", "--chunks", "50",
            "--chunk-tokens", "8", "--top-k", "2", "--query-tokens", "8"]


def test_infer_method_rag_reports_the_retrieval(capsys):
    from edgesim.cli import main
    assert main([*TINY_RAG, "--method", "rag", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rag = data["rag"]
    assert rag["prompt_tokens"] == 32 and rag["index_bytes"] == 50 * 64  # the hand numbers of the tests above
    row = data["methods"][0]
    assert row["label"].startswith("rag (flat, top 2 of 50 chunks")
    assert row["kv_cache_bytes"] == 10_240
    assert row["peak_bytes"] == rag["peak_bytes"]  # the index and the encoder are in the row's peak


@pytest.mark.parametrize(("extra", "message"), [
    (["--method", "rag", "--top-k", "51"], "--top-k: expected 1 to 50 (the stored --chunks), got 51"),
    (["--method", "rag", "--chunk-tokens", "200"], "--chunk-tokens: expected 1 to 128 (tiny's max_seq), got 200"),
    (["--method", "rag", "--top-k", "20"], "--prompt + --top-k x --chunk-tokens + --generate): expected 2 to 128"),
    (["--method", "rag", "--ivf-lists", "-1"], "--ivf-lists: expected 0 (round(sqrt(chunks))) or a positive number"),
    (["--method", "retrieval"], "--method: expected lora, edge-llm and/or rag, got 'retrieval'"),
])
def test_infer_rag_flag_errors(extra, message, capsys):
    from edgesim.cli import main
    assert main([*TINY_RAG, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgesim: error:") and message in err and "Traceback" not in err
