"""Sweep workloads for issue 14: RAG (its indexing as a `tune` workload, its queries as an `infer` one) and a corpus
(`samples`, `epochs`: a tuning workload costs the whole adaptation). Older specs keep their point ids and stored
spec text, so their databases still resume."""

from __future__ import annotations

import pytest

from edgesim import api
from edgesim.config.hardware import load_arch, resolve_hw_path
from edgesim.config.models import load_model
from edgesim.config.sweep import WorkloadSpec, load_sweep_spec
from edgesim.errors import ConfigError
from edgesim.llm.inference import InferenceSettings
from edgesim.llm.rag import RagSettings
from edgesim.sweep.task import Task, evaluate_task

SPEC = """\
name: rag
hardware: edge_npu_16x16
parameters:
  pe_array.rows: [8, 16]
workloads:
  - {kind: tune, model: tiny, method: rag, seq: 16, samples: 10, encoder: tiny, chunk_tokens: 8}
  - {kind: tune, model: tiny, method: lora, seq: 16, samples: 10, epochs: 2}
  - {kind: infer, model: tiny, method: rag, prompt: 16, generate: 8, encoder: tiny, chunk_tokens: 8, chunks: 50, top_k: 2}
objectives: [latency_s, energy_j]
mapper: heuristic
"""


def _task(w: WorkloadSpec) -> Task:
    return Task(point_id="p", point_key="k", hardware=str(resolve_hw_path(None)), overrides=(), workload=w,
                mapper="heuristic", latency_tolerance=0.0, cache_dir=None)


def test_the_spec_loads_with_labels(write):
    spec = load_sweep_spec(write("s.yaml", SPEC))
    assert [w.label for w in spec.workloads] == ["tune tiny rag seq16 n10", "tune tiny lora seq16 n10x2",
                                                 "infer tiny rag p16+g8 c50"]


def test_older_workloads_keep_their_point_ids():
    # the key of a workload without the new fields is exactly the old field set (no samples, epochs, encoder, ...)
    w = WorkloadSpec(kind="tune", model="tiny", method="lora")
    assert set(w.key()) == {"kind", "model", "method", "seq", "batch", "base_bits", "lora_rank", "trace", "prompt",
                            "generate"}
    assert "samples" in WorkloadSpec(kind="tune", model="tiny", method="lora", samples=5).key()


def test_rag_tune_workload_is_the_indexing_of_the_corpus():
    w = WorkloadSpec(kind="tune", model="tiny", method="rag", seq=16, samples=10, encoder="tiny", chunk_tokens=8)
    row = evaluate_task(_task(w))
    assert row["status"] == "done", row["error"]
    # 10 samples x 16 tokens = 160 tokens = 20 chunks of 8 (edgesim.llm.adaptation.Corpus.chunks)
    ix = api.index_rag(load_arch(), load_model("tiny"), RagSettings(chunks=20, chunk_tokens=8, top_k=1))
    assert row["latency_s"] == pytest.approx(ix.seconds) and row["memory"]["index"] == 20 * 64
    assert row["tokens_per_s"] == pytest.approx(160 / ix.seconds)


def test_a_corpus_scales_the_tuning_step_to_the_whole_adaptation():
    one = evaluate_task(_task(WorkloadSpec(kind="tune", model="tiny", method="lora", seq=16)))
    all_ = evaluate_task(_task(WorkloadSpec(kind="tune", model="tiny", method="lora", seq=16, samples=10, epochs=2)))
    assert all_["steps"] == 20  # 10 samples at batch 1, 2 epochs
    for key in ("latency_s", "energy_j", "dram_bytes"):
        assert all_[key] == pytest.approx(20 * one[key])
    assert all_["peak_memory_bytes"] == one["peak_memory_bytes"]


def test_rag_infer_workload_is_one_query():
    w = WorkloadSpec(kind="infer", model="tiny", method="rag", prompt=16, generate=8, encoder="tiny", chunk_tokens=8,
                     chunks=50, top_k=2)
    row = evaluate_task(_task(w))
    assert row["status"] == "done", row["error"]
    r = api.infer_rag(load_arch(), load_model("tiny"), load_model("tiny"),
                      InferenceSettings(prompt=16, generate=8, base_bits=8), RagSettings(chunks=50, chunk_tokens=8, top_k=2))
    assert row["latency_s"] == pytest.approx(r.query_seconds(8))
    assert set(row["phases"]) == {"retrieve", "prefill", "decode"}
    assert row["memory"]["kv_cache"] == 2 * 4 * (16 + 2 * 8 + 8) * 32  # the retrieved chunks stay in the KV cache


def test_bad_rag_workloads_are_reported(write):
    bad = SPEC.replace("chunk_tokens: 8}", "chunk_tokens: 8, chunks: 5}", 1).replace("index: flat", "")
    bad = bad.replace("method: rag, prompt: 16", "method: rag, index: hnsw, prompt: 16")
    with pytest.raises(ConfigError) as exc:
        load_sweep_spec(write("s.yaml", bad))
    msg = str(exc.value)
    assert "workloads[0].chunks: with samples the chunks are the corpus split into chunk_tokens chunks" in msg
    assert "workloads[2].index: expected flat or ivf, got 'hnsw'" in msg
