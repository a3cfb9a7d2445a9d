"""Adaptive layer tuning: frozen layers get no gradient, fewer activations are saved, voting is max-prob."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from edgesim.frontend.torch.adaptive import (  # noqa: E402
    ExitModel,
    exit_layers,
    saved_activation_meter,
    vote,
    windows,
)
from edgesim.frontend.torch.lora import LoraLinear, add_lora  # noqa: E402
from edgesim.frontend.torch.model import lm_loss  # noqa: E402


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 256, (2, 33), generator=g)
    return ids[:, :-1], ids[:, 1:]


def test_windows_and_exits():
    assert exit_layers(32, 8) == [7, 15, 23, 31]
    assert windows(6, 4) == [(0, 3), (4, 5)]
    assert exit_layers(5, 2) == [1, 3, 4]


def test_lora_starts_as_the_base_layer_with_scale_alpha_over_r():
    torch.manual_seed(0)
    base = torch.nn.Linear(16, 8, bias=False)
    lora = LoraLinear(base, rank=8, alpha=16)
    x = torch.randn(3, 16)
    assert torch.equal(lora(x), base(x)) and lora.scale == 2.0
    with torch.no_grad():
        lora.lora_b.fill_(0.1)
    expected = base(x) + 2.0 * (x @ lora.lora_a.t() @ lora.lora_b.t())
    assert torch.allclose(lora(x), expected)


def test_add_lora_freezes_the_backbone(tiny_model):
    added = add_lora(tiny_model)
    assert len(added) == 2 * 4  # q_proj and v_proj of 4 layers
    trainable = [n for n, p in tiny_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_window_backward_reaches_only_the_window(tiny_model):
    model = ExitModel(tiny_model, stride=2)
    assert model.windows == [(0, 1), (2, 3)]
    params = model.set_phase(1)
    x, y = _batch()
    frozen_lora = model.layer_lora(0, 1)
    for p in frozen_lora:  # even if the earlier window's adapters were left trainable by mistake ...
        p.requires_grad_(True)
    loss = lm_loss(model.phase_logits(x, 1), y)
    # ... autograd finds no path from the loss to them: the layers before the window run without a graph
    grads = torch.autograd.grad(loss, frozen_lora + params, allow_unused=True, retain_graph=True)
    assert all(g is None for g in grads[: len(frozen_lora)])
    assert all(g is not None for g in grads[len(frozen_lora):])
    for p in frozen_lora:
        p.requires_grad_(False)
    loss.backward()
    for i in (0, 1):
        assert all(p.grad is None for p in model.base.layers[i].parameters()), f"layer {i} got a gradient"
    assert all(p.grad is None for p in model.exit_heads[0].parameters())
    window = model.layer_lora(2, 3)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in window[1::2])  # lora_b gets a gradient
    assert all(p.grad is None for p in model.base.embed_tokens.parameters())


def test_phase_forward_stops_at_its_exit(tiny_model):
    model = ExitModel(tiny_model, stride=2)
    calls = []
    hooks = [layer.register_forward_hook(lambda *_a, i=i: calls.append(i)) for i, layer in enumerate(model.base.layers)]
    model.set_phase(0)
    model.phase_logits(_batch()[0], 0)
    for h in hooks:
        h.remove()
    assert calls == [0, 1]


def test_meter_counts_a_known_saved_tensor():
    x = torch.randn(10, 10, requires_grad=True)
    with saved_activation_meter([x]) as saved:
        y = (x * 3).exp()  # mul by a scalar saves nothing; exp saves its float32 output: 400 bytes
    assert saved[0] == 400
    y.sum().backward()


def test_windowed_step_saves_fewer_activations_than_vanilla_lora(tiny_model):
    x, y = _batch()
    vanilla = ExitModel(tiny_model, stride=4)  # one window = every layer, loss at the final exit: vanilla LoRA
    vanilla.set_phase(0)
    with saved_activation_meter(list(vanilla.parameters())) as full:
        lm_loss(vanilla.phase_logits(x, 0), y).backward()
    edge = ExitModel(tiny_model, stride=1)
    per_phase = []
    for k in range(4):
        edge.set_phase(k)
        with saved_activation_meter(list(edge.parameters())) as s:
            lm_loss(edge.phase_logits(x, k), y).backward()
        per_phase.append(s[0])
    assert max(per_phase) < 0.5 * full[0], (per_phase, full[0])


def test_voting_on_a_hand_computed_case():
    p_a = torch.tensor([[0.5, 0.3, 0.2]])
    p_b = torch.tensor([[0.05, 0.55, 0.40]])
    probs = vote([p_a.log(), p_b.log() + 7.0])  # softmax is shift-invariant, so each exit's probabilities are exact
    expected = torch.tensor([[0.5, 0.55, 0.40]]) / 1.45
    assert torch.allclose(probs, expected, atol=1e-6)
    assert int(probs.argmax(-1)) == 1
    assert math.isclose(float(probs.sum()), 1.0, rel_tol=1e-6)


def test_voting_is_max_not_mean():
    # mean [0.3, 0.325, 0.375] picks class 2; max [0.6, 0.45, 0.55] picks class 0
    p_c = torch.tensor([0.6, 0.2, 0.2])
    p_d = torch.tensor([0.0, 0.45, 0.55])
    mean_pick = int(((p_c + p_d) / 2).argmax())
    vote_pick = int(vote([p_c.clamp_min(1e-9).log(), p_d.clamp_min(1e-9).log()]).argmax())
    assert mean_pick == 2 and vote_pick == 0
