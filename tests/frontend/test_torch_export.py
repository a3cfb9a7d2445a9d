"""Exported traces parse, run through the simulator, and come from the project model, a user module or HF LLaMA."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from edgesim.cli import measure as torch_cli  # noqa: E402
from edgesim.cli.main import main  # noqa: E402
from edgesim.config.hardware import load_arch  # noqa: E402
from edgesim.config.models import load_model  # noqa: E402
from edgesim.config.traces import load_trace, parse_trace  # noqa: E402
from edgesim.frontend.torch.export import build_trace, measure, random_batches  # noqa: E402
from edgesim.frontend.torch.model import SmallConfig  # noqa: E402
from edgesim.frontend.torch.train import save_checkpoint  # noqa: E402
from edgesim.llm.step import TuningSettings  # noqa: E402
from edgesim.llm.tune import run_method  # noqa: E402
from edgesim.methods import Method  # noqa: E402

from .test_torch_sensitivity import UserModel  # noqa: E402

TINY = load_model("tiny")


def _simulate(trace_obj):
    arch = load_arch()
    st = TuningSettings(seq=trace_obj.sequence_length, batch=trace_obj.batch)
    edge = run_method(arch, TINY, Method.EDGE_LLM, st, trace_obj)
    lora = run_method(arch, TINY, Method.LORA, st, None)
    return edge, lora


@pytest.mark.parametrize("policy", ["luc", "min-mse", "nm"])
def test_user_module_trace_parses_and_runs(policy):
    torch.manual_seed(0)
    m = measure(UserModel(layers=4), random_batches(256, 2, 1, 16), progress=False)
    data = build_trace(m, TINY, policy=policy, stride=2, seq=64)
    t = parse_trace(json.loads(json.dumps(data)), "user.json", TINY)
    assert [p.exit_layer for p in t.phases] == [1, 3] and t.exit_layers == (1, 3)
    assert {p.w_bits for p in t.policies} <= {4, 8}
    sparsity = [e["weight_sparsity"] for e in data["layers"]]
    if policy == "nm":
        assert {e["sparsity_format"] for e in data["layers"]} == {"2:4", "1:4"}
    else:
        assert sum(sparsity) / 4 == pytest.approx(0.5, abs=1e-5)
    edge, lora = _simulate(t)
    assert edge.seconds > 0 and lora.seconds > 0 and edge.peak_bytes < lora.peak_bytes


def test_cli_measures_the_small_model_from_a_checkpoint(tmp_path, tiny_model):
    ckpt = tmp_path / "ckpt.pt"
    save_checkpoint(tiny_model, ckpt, {"steps": 0})
    parser = argparse.ArgumentParser()
    for flag, kw in (("--model", {}), ("--target", {"type": float, "default": 0.5}), ("--stride", {"type": int, "default": 2}),
                     ("--seq", {"type": int}), ("--unmeasured", {"default": "refuse"}), ("-o", {"dest": "output"})):
        parser.add_argument(flag, **kw)
    torch_cli.add_arguments(parser)
    out = tmp_path / "tiny_trace.json"
    args = parser.parse_args(["--measure", "small", "--checkpoint", str(ckpt), "--model", "tiny", "--quick", "--no-progress",
                              "-o", str(out), "--mse-csv", str(tmp_path / "mse.csv")])
    text = torch_cli.run(args)
    assert "wrote" in text and (tmp_path / "mse.csv").exists()
    edge, _ = _simulate(load_trace(out, TINY))
    assert edge.seconds > 0
    args.model = "frontend_small"  # the checkpoint is the tiny shape: refused with a message
    with pytest.raises(ValueError, match="differs"):
        torch_cli.run(args)


def test_small_model_yaml_matches_the_default_config():
    assert load_model("frontend_small") == SmallConfig().shape("frontend_small")


def test_hf_llama_from_config_if_transformers_is_installed():
    pytest.importorskip("transformers")
    from edgesim.frontend.torch.export import hf_llama_from_config

    model = hf_llama_from_config(TINY)
    m = measure(model, random_batches(256, 1, 1, 16), run=lambda mod, b: mod(input_ids=b, use_cache=False), progress=False)
    assert sorted(m.pruning["layer"].unique()) == [0, 1, 2, 3]
    parse_trace(build_trace(m, TINY, stride=2), "hf.json", TINY)


def test_edgesim_does_not_import_torch_at_import_time():
    code = "import sys, edgesim.cli, edgesim.frontend, edgesim.cli.measure; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_measures_a_user_module_from_a_factory(tmp_path, capsys):
    out = tmp_path / "user.json"
    rc = main(["trace", "--measure", "module", "--factory", "tests.frontend.test_torch_sensitivity:UserModel", "--model", "tiny",
              "--stride", "2", "--policy", "min-mse", "--quick", "--no-progress", "-o", str(out)])
    assert rc == 0 and "policy min-mse" in capsys.readouterr().out
    t = load_trace(out, TINY)
    assert t.provenance["measured"] == "module" and len(t.policies) == 4
    assert main(["trace", "--measure", "module", "--factory", "no_such_module:f", "--model", "tiny", "-o", str(out)]) == 2
    assert "--factory" in capsys.readouterr().err
