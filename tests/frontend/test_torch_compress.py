"""A trace's compression applied to the model for real: pruned and quantized weights, quantized activations, and a base
that stays frozen while adapters and exit heads train on top."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from edgesim.frontend.torch.adaptive import tune_edge_llm, tune_vanilla_lora  # noqa: E402
from edgesim.frontend.torch.compress import CompressedLinear, compress, compression_stats  # noqa: E402
from edgesim.frontend.torch.data import Corpus  # noqa: E402
from edgesim.frontend.torch.lora import add_lora  # noqa: E402
from edgesim.frontend.torch.sensitivity import fake_quant  # noqa: E402
from edgesim.llm.trace import LayerPolicy  # noqa: E402
from edgesim.ops import WeightFormat  # noqa: E402


def _policy(sparsity: float, bits: int, nm: tuple[int, int] | None = None) -> LayerPolicy:
    fmt = WeightFormat.NM if nm else (WeightFormat.UNSTRUCTURED if sparsity else WeightFormat.DENSE)
    return LayerPolicy(weight_density=1 - sparsity, weight_format=fmt, nm=nm, w_bits=bits, a_bits=bits, kv_bits=bits)


# the tiny model's 4 layers: dense 8-bit, 0.25 at 4 bits, 2:4 at 4 bits, 0.75 unquantized
POLICIES = (_policy(0.0, 8), _policy(0.25, 4), _policy(0.5, 4, (2, 4)), _policy(0.75, 16))


class Toy(nn.Module):
    """One decoder layer holding one 2x4 Linear named q_proj."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.ModuleDict({"q_proj": nn.Linear(4, 2, bias=False)})])


def test_prune_then_quantize_a_hand_computed_weight():
    toy = Toy()
    with torch.no_grad():
        toy.layers[0]["q_proj"].weight.copy_(torch.tensor([[1.0, -2.5, 3.0, -4.0], [0.1, 0.2, -0.3, 8.0]]))
    out = compress(toy, [_policy(0.5, 3)], activations=False)
    # pruning 0.5 of the 8 weights zeroes the 4 smallest |w|: 0.1, 0.2, -0.3 and 1.0
    # 3 bits: integer levels -4..3, scale = row max / 3; row 0 (scale 4/3): -2.5 -> -1.875 -> -2, 3 -> 2.25 -> 2, -4 -> -3
    # row 1 (scale 8/3): 8 -> 3
    expected = torch.tensor([[0.0, -8 / 3, 8 / 3, -4.0], [0.0, 0.0, 0.0, 8.0]])
    assert torch.allclose(out.layers[0]["q_proj"].weight, expected)
    assert toy.layers[0]["q_proj"].weight[0, 0] == 1.0  # the input model is not changed
    [st] = compression_stats(out)
    assert st.zero_fraction == 4 / 8 and st.max_levels == 4  # row 0 holds 0, -8/3, 8/3, -4


def test_each_layer_gets_its_policy(tiny_model):
    out = compress(tiny_model, POLICIES)
    stats = compression_stats(out)
    weights = [sum(lin.weight.numel() for lin in layer.modules() if isinstance(lin, nn.Linear)) for layer in out.layers]
    for st, pol, n in zip(stats, POLICIES, weights, strict=True):
        sparsity = 1 - pol.weight_density
        # 7 matrices, each rounds its count of pruned weights to an integer; quantization may round a few more to 0
        assert sparsity - 7 / n <= st.zero_fraction <= sparsity + 0.02, (st, pol)
        if pol.w_bits < 16:
            assert st.max_levels <= 2**pol.w_bits - 1  # symmetric: -qmax..qmax
    assert stats[0].max_levels > 2**4 and stats[3].max_levels > 2**4  # 8 bits and float keep more levels than 4 bits
    for lin in out.layers[2].modules():
        if isinstance(lin, nn.Linear):  # 2:4: at most 2 nonzeros in each group of 4 along the input dimension
            groups = lin.weight.reshape(lin.out_features, -1, 4)
            assert int((groups != 0).sum(-1).max()) <= 2
    exact = compress(tiny_model, [_policy(1 - p.weight_density, 16, p.nm) for p in POLICIES])  # no quantization
    for st, pol, n in zip(compression_stats(exact), POLICIES, weights, strict=True):
        assert abs(st.zero_fraction - (1 - pol.weight_density)) <= 7 / (2 * n)  # within rounding of each matrix


def test_activations_and_kv_are_quantized_per_token_with_an_identity_gradient(tiny_model):
    out = compress(tiny_model, POLICIES)
    q, k = out.layers[1].self_attn.q_proj, out.layers[1].self_attn.k_proj
    assert isinstance(q, CompressedLinear) and (q.a_bits, q.out_bits) == (4, None) and (k.a_bits, k.out_bits) == (4, 4)
    x = torch.randn(2, 5, 64, requires_grad=True)
    assert torch.allclose(q(x), F.linear(fake_quant(x, 4), q.weight))
    assert torch.allclose(k(x), fake_quant(F.linear(fake_quant(x, 4), k.weight), 4))
    k(x).sum().backward()  # straight-through: d sum(x W^T) / dx = the column sums of W
    assert x.grad is not None and torch.allclose(x.grad, k.weight.sum(0).expand(2, 5, 64))
    plain = out.layers[3].self_attn.k_proj  # 16 bits: nothing quantized
    assert (plain.a_bits, plain.out_bits) == (None, None)


def test_refused_inputs(tiny_model):
    with pytest.raises(ValueError, match="3 layer policies for a model with 4"):
        compress(tiny_model, POLICIES[:3])
    add_lora(tiny_model)
    with pytest.raises(ValueError, match="compress the base model first"):
        compress(tiny_model, POLICIES)


def _corpus() -> Corpus:
    return Corpus.from_text("t", "the quick brown fox jumps over the lazy dog. " * 40)


def _frozen_and_trained(tuned: nn.Module, base: nn.Module) -> tuple[list[str], list[str]]:
    """Names of the tuned model's parameters that differ from `base` (by the same path) and of those it added."""
    ref = dict(base.named_parameters())
    changed, added, matched = [], [], set()
    for name, p in tuned.named_parameters():
        key = name.removeprefix("base.").replace(".base.", ".")  # ExitModel holds the backbone as `base`, LoRA as `.base`
        if key in ref and "lora_" not in name:
            matched.add(key)
            if not torch.equal(p, ref[key]):
                changed.append(name)
        else:
            added.append(name)
    assert matched == set(ref)  # every base parameter was compared
    return changed, added


def test_the_compressed_base_stays_frozen_while_adapters_and_exits_train(tiny_model):
    base = compress(tiny_model, POLICIES)
    snapshot = {n: p.clone() for n, p in base.named_parameters()}
    corpus = _corpus()
    val = corpus.fixed_batches(1, 2, 16)
    edge, _ = tune_edge_llm(base, corpus, val, steps=6, stride=2, batch=2, seq=16, progress=False)
    changed, added = _frozen_and_trained(edge, base)
    assert changed == []  # every pruned, quantized weight and every norm is as compress() left it
    assert all(n.startswith(("exit_", "base.")) for n in added) and all("lora_" in n for n in added if n.startswith("base."))
    assert all(bool(m.lora_b.abs().sum() > 0) for m in edge.adapters)  # both windows' adapters trained (B starts at 0)
    assert all(not torch.equal(h.weight, base.lm_head.weight) for h in edge.exit_heads)  # both exit heads trained
    lora, _ = tune_vanilla_lora(base, corpus, val, steps=3, batch=2, seq=16, progress=False)
    changed, added = _frozen_and_trained(lora, base)
    assert changed == [] and added and all("lora_" in n for n in added)
    assert all(torch.equal(p, snapshot[n]) for n, p in base.named_parameters())  # the tuners work on copies
    assert compression_stats(edge.base) == compression_stats(base)
