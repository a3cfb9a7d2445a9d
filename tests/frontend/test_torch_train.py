"""The small model trains on the real corpora, and checkpoints round-trip."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgesim.frontend.torch.data import adaptation_corpus, decode, encode, pretrain_corpus  # noqa: E402
from edgesim.frontend.torch.model import SmallConfig  # noqa: E402
from edgesim.frontend.torch.train import evaluate, load_checkpoint, pretrain, pretrained  # noqa: E402

CFG = SmallConfig(hidden=32, intermediate=88, layers=2, heads=2, kv_heads=1, max_seq=64)


def test_corpora_are_real_and_distinct_text():
    pre, adapt = pretrain_corpus(200_000), adaptation_corpus()
    assert b"def " in bytes(pre.train[:20_000].tolist()) and len(pre.train) > 150_000
    prose = decode(adapt.train[:5000])
    assert prose.count(" the ") > 10 and len(adapt.train) > 100_000
    assert decode(encode("héllo")) == "héllo"


def test_training_lowers_the_loss_and_checkpoints_round_trip(tmp_path):
    corpus = adaptation_corpus()
    val = corpus.fixed_batches(2, 4, 64)
    torch.manual_seed(0)
    from edgesim.frontend.torch.model import SmallLlama

    before = evaluate(SmallLlama(CFG), val)[0]
    model = pretrained(CFG, corpus, tmp_path / "c.pt", steps=40, progress=False, batch=8, seq=64)
    after = evaluate(model, val)[0]
    assert after < before - 1.0, (before, after)  # from ~ln(256) = 5.5 towards byte statistics
    again = load_checkpoint(tmp_path / "c.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    assert pretrain(CFG, corpus, steps=1, progress=False, batch=2, seq=16) is not None
