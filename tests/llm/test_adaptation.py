"""Adapting to a corpus (`edgesim.llm.adaptation`): steps and chunks of a corpus, the break-even number of queries
between tuning and RAG (hand-worked), and `edgesim infer --compare lora,rag --samples N`."""

from __future__ import annotations

import json

import pytest

from edgesim.cli import main
from edgesim.llm.adaptation import BreakEven, Corpus


def test_corpus_steps_and_chunks_by_hand():
    c = Corpus(samples=1000, sample_tokens=256, epochs=3, batch=8)
    assert c.steps == 125 * 3  # ceil(1000 / 8) = 125 per epoch
    assert c.chunks(128) == 2000  # 256,000 tokens / 128
    assert Corpus(samples=10, sample_tokens=100).chunks(128) == 8  # ceil(1000 / 128) = 7.8 -> 8
    with pytest.raises(ValueError, match="epochs"):
        Corpus(samples=1, epochs=0)


@pytest.mark.parametrize(("tune_once", "rag_once", "tuned_q", "rag_q", "after", "until"), [
    (1000.0, 10.0, 1.0, 2.0, 990.0, None),  # (1000 - 10) / (2 - 1): tuning cheaper after 990 queries
    (5.0, 10.0, 1.0, 2.0, 0.0, None),  # lower one-time and per-query cost: tuning cheaper from the first query
    (5.0, 10.0, 2.0, 2.0, 0.0, None),  # equal queries, cheaper tuning: from the first query
    (1000.0, 10.0, 2.0, 2.0, None, None),  # equal queries, dearer tuning: never
    (1000.0, 10.0, 3.0, 2.0, None, None),  # RAG cheaper both ways: never
    (10.0, 10.0, 3.0, 2.0, None, None),  # equal one-time costs, RAG's queries cheaper: never
    (4.0, 10.0, 3.0, 2.0, None, 6.0),  # tuning cheaper only up to (10 - 4) / (3 - 2) = 6 queries
])
def test_break_even_by_hand(tune_once, rag_once, tuned_q, rag_q, after, until):
    b = BreakEven(metric="time", tune_once=tune_once, rag_once=rag_once, tuned_query=tuned_q, rag_query=rag_q)
    assert (b.queries, b.until) == (after, until)


def test_break_even_text():
    assert BreakEven(metric="time", tune_once=1000, rag_once=10, tuned_query=1, rag_query=2).describe() == \
        "time: tuning is cheaper after 990 queries"
    assert "RAG is never dearer" in BreakEven(metric="energy", tune_once=9, rag_once=1, tuned_query=1,
                                              rag_query=1).describe()
    assert BreakEven(metric="time", tune_once=4, rag_once=10, tuned_query=3, rag_query=2).describe() == \
        "time: tuning is cheaper only up to 6 queries, RAG after"


ARGS = ["infer", "--model", "tiny", "--encoder", "tiny", "--prompt", "16", "--generate", "8", "--chunk-tokens", "8",
        "--top-k", "2", "--query-tokens", "8", "--compare", "lora,rag", "--samples", "40", "--sample-tokens", "16"]


def test_infer_reports_the_adaptation_and_its_break_even(capsys):
    assert main([*ARGS, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    a, rag = data["adaptation"], data["rag"]
    assert a["tuning_steps"] == 40 and rag["settings"]["chunks"] == 80  # 40 x 16 tokens / 8
    t = a["break_even"]["time"]
    assert t["tune_once"] == pytest.approx(40 * a["step_seconds"])
    assert t["rag_once"] == pytest.approx(rag["index_seconds"]) and t["rag_query"] == pytest.approx(rag["query_seconds"])
    lora = data["methods"][0]
    assert t["tuned_query"] == pytest.approx(lora["prefill_seconds"] + 8 * lora["decode_seconds_per_token"])
    if t["rag_query"] > t["tuned_query"]:
        assert t["queries"] == pytest.approx(max(0.0, (t["tune_once"] - t["rag_once"]) / (t["rag_query"] - t["tuned_query"])))


@pytest.mark.parametrize(("extra", "message"), [
    (["--chunks", "10"], "--chunks: with --samples the chunks are the corpus split"),
    (["--epochs", "0"], "--epochs: expected a positive integer, got 0"),
])
def test_adaptation_flag_errors(extra, message, capsys):
    assert main([*ARGS, *extra]) == 2
    assert message in capsys.readouterr().err


def test_samples_need_both_lora_and_rag(capsys):
    assert main(["infer", "--model", "tiny", "--method", "rag", "--samples", "10", "--encoder", "tiny",
                 "--chunk-tokens", "8", "--prompt", "16", "--generate", "8"]) == 2
    assert "--samples: compares tuning with RAG on a corpus" in capsys.readouterr().err


TUNE = ["tune", "--model", "tiny", "--seq", "16", "--encoder", "tiny", "--chunk-tokens", "8", "--no-cache"]


def test_tune_rag_indexes_the_corpus(capsys):
    assert main([*TUNE, "--method", "rag", "--samples", "10", "--time-budget", "1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (rag,) = data["adaptation"]["methods"]
    assert rag["method"] == "rag" and rag["chunks"] == 20  # 10 samples x 16 tokens / 8 tokens per chunk
    assert rag["index_bytes"] == 20 * 64  # 8-bit embeddings of the tiny encoder's 64 dims
    per_chunk = rag["adapt_seconds"] / 20
    assert rag["within_budget"]["chunks"] == int(1 / per_chunk)


def test_tune_over_a_corpus_and_a_budget(capsys):
    assert main([*TUNE, "--compare", "lora,rag", "--samples", "10", "--epochs", "2", "--time-budget", "0.5",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    lora = data["adaptation"]["methods"][0]
    assert lora["method"] == "lora" and lora["steps"] == 20  # 10 samples at batch 1, 2 epochs
    assert lora["adapt_seconds"] == pytest.approx(20 * lora["step_seconds"])
    assert lora["step_seconds"] == pytest.approx(data["methods"][0]["seconds"])  # the step the table reports
    b = lora["within_budget"]
    assert b["steps"] == int(0.5 / lora["step_seconds"]) and b["samples"] == b["steps"]
    assert b["epochs_over_corpus"] == pytest.approx(b["steps"] / 10)


@pytest.mark.parametrize(("extra", "message"), [
    (["--method", "rag", "--format", "csv"], "--format csv: has one row per tuning step; rag has no tuning step"),
    (["--epochs", "3"], "--epochs: counts passes over a corpus: give --samples too"),
    (["--method", "rag", "--samples", "10", "--chunks", "5"], "--chunks: with --samples the chunks are the corpus"),
    (["--time-budget", "0"], "--time-budget: expected a positive number of seconds, got 0.0"),
    (["--compare", "lora,retrieval"], "unknown method(s) retrieval"),
])
def test_tune_adaptation_errors(extra, message, capsys):
    assert main([*TUNE, *extra]) == 2
    assert message in capsys.readouterr().err
