"""`edgesim trace --measure small|module|hf`: measure a PyTorch model's layer sensitivities and write a trace.

`add_arguments` adds the measurement flags to `edgesim trace`; `run` also reads that command's `--model`, `--target`,
`--stride`, `--seq`, `--unmeasured` and `-o/--output`. torch (the `frontend` extra) is imported only inside `run`.

- `small`: the project's small model from its checkpoint (made by experiments/01_frontend/run.py), calibrated on
  held-out stdlib source; use `--model frontend_small`.
- `module`: a user's model, `--factory package.module:function` returning an `nn.Module` that maps a (batch, seq)
  token tensor to logits; calibrated on random token ids over the shape's vocabulary.
- `hf`: a randomly initialised transformers LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM built from its
  config class with the `--model` shape's numbers (needs transformers; nothing is downloaded); `--hf-family` picks the
  family (default: from the shape's name, qwen... or mistral..., else llama). `hf-llama` is `hf --hf-family llama`.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from edgesim.errors import ConfigError, Problem

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = REPO / "experiments" / "01_frontend" / "checkpoints" / "pretrained.pt"
MEASURE_CHOICES = ("small", "module", "hf", "hf-llama")
HF_FAMILY_CHOICES = ("auto", "llama", "mistral", "qwen2")  # = edgesim.frontend.torch.export.HF_FAMILIES and auto


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("PyTorch measurement (needs torch)")
    g.add_argument("--measure", choices=MEASURE_CHOICES, help="measure a PyTorch model instead of reading --from-mse")
    g.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="small model checkpoint (default: the experiment's)")
    g.add_argument("--factory", metavar="MODULE:FUNC", help="for --measure module: a function returning the nn.Module")
    g.add_argument("--hf-family", choices=HF_FAMILY_CHOICES, default="auto",
                   help="for --measure hf: the transformers model family (default auto: from the --model name, else llama)")
    g.add_argument("--policy", choices=("luc", "min-mse", "nm"), default="luc",
                   help="sparsity policy: Edge-LLM's LUC formula, minimum predicted MSE, or 2:4/1:4 (default luc)")
    g.add_argument("--calib-batches", type=int, default=8, help="calibration samples (batches) per layer (default 8)")
    g.add_argument("--calib-seq", type=int, default=128, help="tokens per calibration sequence (default 128)")
    g.add_argument("--low-bits", type=int, default=4, help="bits of quantization-insensitive layers (default 4)")
    g.add_argument("--high-bits", type=int, default=8, help="bits of sensitive layers (default 8)")
    g.add_argument("--mse-csv", metavar="FILE", help="also write the pruning measurements (layer,pruning_ratio,sample,output_mse)")
    g.add_argument("--quick", action="store_true", help="2 calibration batches of 32 tokens")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def _factory(spec: str | None) -> Any:
    if not spec or ":" not in spec:
        raise ConfigError(Problem(source="--factory", path="", message=f"expected MODULE:FUNC, got {spec!r}"))
    mod, func = spec.split(":", 1)
    try:
        return getattr(importlib.import_module(mod), func)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(Problem(source="--factory", path="", message=f"cannot load {spec}: {exc}")) from None


def run(args: argparse.Namespace) -> str:
    import torch

    from edgesim.config.models import load_model
    from edgesim.frontend.export import write_trace
    from edgesim.frontend.torch.data import pretrain_corpus
    from edgesim.frontend.torch.export import build_trace, hf_causal_lm, hf_family_for, measure, random_batches
    from edgesim.frontend.torch.train import load_checkpoint

    shape = load_model(getattr(args, "model", None) or "frontend_small")
    n, seq = (2, 32) if args.quick else (args.calib_batches, args.calib_seq)
    progress = not args.no_progress
    run_fn = None
    prov: dict[str, Any] = {"measured": args.measure}
    if args.measure == "small":
        path = Path(args.checkpoint)
        if not path.exists():
            raise ConfigError(Problem(source=str(path), path="", message=(
                "no checkpoint; make it with experiments/01_frontend/run.py (--quick for a small one)")))
        model: torch.nn.Module = load_checkpoint(path)
        cfg_shape = model.cfg.shape(shape.name)  # type: ignore[operator]
        if cfg_shape != shape:
            raise ConfigError(Problem(source="--model", path="", message=f"the checkpoint's shape {cfg_shape} differs from {shape}"))
        batches: list[Any] = [x for x, _ in pretrain_corpus(400_000).fixed_batches(n, 1, seq)]
    elif args.measure == "module":
        model = _factory(args.factory)()
        batches = random_batches(shape.vocab, n, 1, seq)
    elif args.measure in ("hf", "hf-llama"):
        family = getattr(args, "hf_family", "auto")
        if args.measure == "hf-llama":
            if family not in ("auto", "llama"):
                raise ConfigError(Problem(source="--hf-family", path="", message=f"hf-llama is the llama family, not {family}"))
            family = "llama"
        elif family == "auto":
            family = hf_family_for(shape)
        try:
            model = hf_causal_lm(shape, family)
        except ImportError:
            raise ConfigError(Problem(source="--measure", path="", message=f"{args.measure} needs the transformers package")) from None
        except ValueError as exc:
            raise ConfigError(Problem(source="--model", path="", message=str(exc))) from None
        prov["hf_family"] = family
        batches = random_batches(shape.vocab, n, 1, seq)
        run_fn = _hf_run
    else:
        raise ConfigError(Problem(source="--measure", path="", message=f"expected one of {', '.join(MEASURE_CHOICES)}"))
    m = measure(model, batches, run=run_fn, progress=progress)
    if args.mse_csv:
        m.pruning.to_csv(args.mse_csv, index=False)
    trace = build_trace(m, shape, policy=args.policy, target=getattr(args, "target", 0.5), stride=getattr(args, "stride", 8),
                        low_bits=args.low_bits, high_bits=args.high_bits, seq=getattr(args, "seq", None),
                        unmeasured=getattr(args, "unmeasured", "refuse"),
                        provenance={**prov, "calibration": f"{n} x {seq} tokens"})
    out = getattr(args, "output", None)
    if out:
        write_trace(trace, out)
    sp = ", ".join(f"{e['weight_sparsity']:.2f}" + ("" if e["sparsity_format"] == "unstructured" else f" ({e['sparsity_format']})")
                   for e in trace["layers"])
    bits = ", ".join(str(e["weight_bits"]) for e in trace["layers"])
    what = f"{args.measure} {prov['hf_family']}" if "hf_family" in prov else args.measure
    return (f"measured {what} ({shape.name}, {shape.layers} layers) on {n} x {seq} tokens; policy "
            f"{trace['provenance']['policy']}\n  sparsity: {sp}\n  bits: {bits}\n"
            + (f"  wrote {out}" if out else "  (no -o: not written)"))


def _hf_run(model: Any, batch: Any) -> Any:
    return model(input_ids=batch, use_cache=False)  # a KV cache would grow when a layer is re-run
