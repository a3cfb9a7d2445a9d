"""Sensitivity measurement: Linear layers grouped by path, pruning and fake quantization, CSV that luc.py consumes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from edgesim.frontend.luc import luc_sparsity  # noqa: E402
from edgesim.frontend.torch.sensitivity import (  # noqa: E402
    capture,
    decoder_layers,
    fake_quant,
    magnitude_prune,
    nm_prune,
    pruning_mse,
    quant_mse,
)


class UserBlock(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.attn = nn.ModuleDict({"qkv": nn.Linear(d, 3 * d), "out": nn.Linear(d, d)})
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.attn["qkv"](x).chunk(3, dim=-1)
        a = torch.softmax(q @ k.transpose(-1, -2) / 4, dim=-1) @ v
        x = x + self.attn["out"](a)
        return x + self.ff(x)


class UserModel(nn.Module):
    """A user's model unlike the project's: different names, biases, GELU, blocks under `body.blocks`."""

    def __init__(self, layers: int = 4, d: int = 16, vocab: int = 256) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.body = nn.Module()
        self.body.blocks = nn.ModuleList(UserBlock(d) for _ in range(layers))
        self.head = nn.Linear(d, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.emb(ids)
        for b in self.body.blocks:
            x = b(x)
        return self.head(x)


def test_linears_are_grouped_into_decoder_layers_by_path():
    torch.manual_seed(0)
    refs = decoder_layers(UserModel(layers=12))
    assert [r.path for r in refs] == [f"body.blocks.{i}" for i in range(12)]  # numeric order, not 0, 1, 10, 11, 2
    assert [n for n, _ in refs[0].linears] == ["attn.qkv", "attn.out", "ff.0", "ff.2"]


def test_model_without_numbered_blocks_is_refused():
    with pytest.raises(ValueError, match="numbered"):
        decoder_layers(nn.ModuleDict({"a": nn.Linear(4, 4)}))


def test_magnitude_and_nm_pruning():
    w = torch.tensor([[1.0, -2.0, 3.0, -4.0], [0.5, 0.1, -0.2, 0.3]])
    p = magnitude_prune(w, 0.5)
    assert torch.equal(p, torch.tensor([[1.0, -2.0, 3.0, -4.0], [0.0, 0.0, 0.0, 0.0]]))  # the 4 smallest |w| of the matrix
    assert torch.equal(nm_prune(w, 2, 4), torch.tensor([[0.0, 0.0, 3.0, -4.0], [0.5, 0.0, 0.0, 0.3]]))
    assert torch.equal(nm_prune(w, 1, 4)[1], torch.tensor([0.5, 0.0, 0.0, 0.0]))


def test_fake_quant_symmetric_min_max_per_row():
    x = torch.tensor([[1.0, 0.6, -0.3], [4.0, -4.0, 1.0]])
    q = fake_quant(x, 2)  # qmax 1, scale = row max
    assert torch.equal(q, torch.tensor([[1.0, 1.0, 0.0], [4.0, -4.0, 0.0]]))
    q4 = fake_quant(x, 4)  # qmax 7
    assert torch.allclose(q4[1], torch.tensor([4.0, -4.0, 8.0 / 7]))  # 1.0 / (4 / 7) = 1.75 rounds to 2 steps
    w = torch.randn(8, 32)
    assert (fake_quant(w, 8, dim=1) - w).abs().max() <= w.abs().amax() / 127 / 2 + 1e-6


def test_pruning_and_quant_mse_feed_luc(tiny_model):
    refs = decoder_layers(tiny_model)
    caps = capture(tiny_model, refs, [torch.randint(0, 256, (1, 24)) for _ in range(2)])
    df = pruning_mse(refs, caps, progress=False)
    assert list(df.columns) == ["layer", "pruning_ratio", "sample", "output_mse"] and len(df) == 4 * 7 * 2
    per = df.groupby(["layer", "pruning_ratio"])["output_mse"].mean().unstack()
    assert (per[0.9] > per[0.05]).all() and (per[0.05] > 0).all()
    res = luc_sparsity(df, 0.5)
    assert abs(sum(res.sparsity) / 4 - 0.5) < 1e-9 and res.unmeasured == ()
    q = quant_mse(refs, caps, bits=(2, 4, 8), progress=False).groupby(["layer", "bits"])["output_mse"].mean().unstack()
    assert (q[2] > q[4]).all() and (q[4] > q[8]).all()


def test_capture_restores_weights_and_handles_kwargs():
    torch.manual_seed(0)
    model = UserModel()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    refs = decoder_layers(model)
    caps = capture(model, refs, [torch.randint(0, 256, (1, 8))])
    pruning_mse(refs, caps, ratios=(0.5,), progress=False)
    quant_mse(refs, caps, bits=(4,), progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(not lin._forward_pre_hooks and not lin._forward_hooks for r in refs for _, lin in r.linears)
