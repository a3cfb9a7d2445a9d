"""Experiment 01: the PyTorch frontend end to end on the small LLaMA-style model.

Pre-trains the small model on stdlib source (checkpoint reused), measures layer-wise pruning / quantization sensitivity,
compares sparsity policies on the real model, tunes on the adaptation domain (pydoc topics) with vanilla LoRA and with
Edge-LLM adaptive layer tuning + voting, and exports a trace that `edgesim tune` runs. Paths are relative to this file.

    python experiments/01_frontend/run.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import parse_trace
from edgesim.frontend.export import write_trace
from edgesim.frontend.policy import luc_policy, min_mse_policy, nm_formats
from edgesim.frontend.torch.adaptive import tune_edge_llm, tune_vanilla_lora
from edgesim.frontend.torch.data import adaptation_corpus, pretrain_corpus
from edgesim.frontend.torch.export import build_trace, measure
from edgesim.frontend.torch.model import SmallConfig, SmallLlama, perplexity
from edgesim.frontend.torch.sensitivity import decoder_layers, magnitude_prune, modified_weights, nm_prune
from edgesim.frontend.torch.train import evaluate, pretrained
from edgesim.llm.step import TuningSettings
from edgesim.llm.tune import run_method
from edgesim.methods import Method

HERE = Path(__file__).resolve().parent
STRIDE = 2
SETTINGS = {  # pretrain steps, tuning steps, calibration batches, eval batches
    "full": {"pretrain": 700, "tune": 200, "calib": 8, "eval": 16},
    "quick": {"pretrain": 60, "tune": 24, "calib": 2, "eval": 4},
}


def pruned_loss(model: SmallLlama, sparsity: tuple[float, ...], formats: tuple[str, ...] | None,
                val: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
    """Validation loss/accuracy with every decoder layer pruned at its sparsity (magnitude, or N:M)."""
    layers = decoder_layers(model)
    stack = []
    for ref, sp, fmt in zip(layers, sparsity, formats or ("unstructured",) * len(layers), strict=True):
        lins = [lin for _, lin in ref.linears]
        if fmt == "unstructured":
            cm = modified_weights(lins, lambda w, sp=sp: magnitude_prune(w, sp))
        else:
            n, m = (int(x) for x in fmt.split(":"))
            cm = modified_weights(lins, lambda w, n=n, m=m: nm_prune(w, n, m))
        cm.__enter__()
        stack.append(cm)
    try:
        return evaluate(model, val)
    finally:
        for cm in reversed(stack):
            cm.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few steps of everything (minutes on 2 cores)")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--report", action="store_true", help="only re-render results.md from the mode's results.json")
    ap.add_argument("--workdir", type=Path, default=HERE, help="where checkpoints/ and results/ go (default: next to this file)")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    st, progress = SETTINGS[mode], not args.no_progress
    work: Path = args.workdir
    out = work / "results" / mode
    if args.report:
        text = table(json.loads((out / "results.json").read_text()))
        (out / "results.md").write_text(text + "\n")
        print(text)
        return
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    cfg = SmallConfig()
    pre, adapt = pretrain_corpus(), adaptation_corpus()
    model = pretrained(cfg, pre, work / "checkpoints" / f"pretrained_{mode}.pt", steps=st["pretrain"], progress=progress)
    if mode == "full":  # the default checkpoint of `edgesim trace --measure small`
        (work / "checkpoints" / "pretrained.pt").write_bytes((work / "checkpoints" / "pretrained_full.pt").read_bytes())
    pre_val = pre.fixed_batches(st["eval"], 8, 128)
    adapt_val = adapt.fixed_batches(st["eval"], 8, 128)
    res: dict[str, object] = {"mode": mode, "settings": st, "stride": STRIDE, "config": cfg.as_dict()}
    res["base"] = {"pretrain_val": evaluate(model, pre_val), "adapt_val": evaluate(model, adapt_val)}

    calib = [x for x, _ in pre.fixed_batches(st["calib"], 1, 128, split="val", seed=99)]
    m = measure(model, calib, progress=progress)
    m.pruning.to_csv(out / "pruning_mse.csv", index=False)
    m.quant.to_csv(out / "quant_mse.csv", index=False)

    policies = {}
    for pol in (luc_policy(m.pruning, 0.5), min_mse_policy(m.pruning, 0.5)):
        loss, acc = pruned_loss(model, pol.sparsity, None, adapt_val)
        policies[pol.name] = {"sparsity": pol.sparsity, "predicted_sum_mse": pol.predicted_mse, "adapt_val_loss": loss,
                              "adapt_val_acc": acc}
    fmts = nm_formats(m.pruning)
    sp_nm = tuple(1 - int(f[0]) / int(f[2]) for f in fmts)
    loss, acc = pruned_loss(model, sp_nm, fmts, adapt_val)
    policies["nm"] = {"sparsity": sp_nm, "formats": fmts, "adapt_val_loss": loss, "adapt_val_acc": acc}
    uniform = (0.5,) * cfg.layers
    loss, acc = pruned_loss(model, uniform, None, adapt_val)
    policies["uniform-0.5"] = {"sparsity": uniform, "adapt_val_loss": loss, "adapt_val_acc": acc}
    res["policies"] = policies

    shape = load_model("frontend_small")
    trace = build_trace(m, shape, policy="luc", stride=STRIDE, provenance={"experiment": f"01_frontend {mode}"})
    trace_path = out / "frontend_small_edge_llm.json"
    write_trace(trace, trace_path)
    tr = parse_trace(json.loads(trace_path.read_text()), str(trace_path), shape)
    ts = TuningSettings(seq=128, batch=8)
    sim = {meth.value: run_method(load_arch(), shape, meth, ts, tr if meth == Method.EDGE_LLM else None)
           for meth in (Method.LORA, Method.EDGE_LLM)}
    res["simulated"] = {k: {"seconds": v.seconds, "peak_bytes": v.peak_bytes} for k, v in sim.items()}

    tuned = {}
    for fn in (tune_vanilla_lora, tune_edge_llm):
        kw = {"stride": STRIDE} if fn is tune_edge_llm else {}
        _, r = fn(model, adapt, adapt_val, steps=st["tune"], progress=progress, **kw)  # type: ignore[operator]
        tuned[r.method] = {"val_loss": r.val_loss, "perplexity": perplexity(r.val_loss), "val_accuracy": r.val_accuracy,
                           "saved_activation_MB": r.saved_activation_bytes / 2**20, "seconds_per_step": r.seconds_per_step,
                           "trainable_params": r.trainable_params, "steps": r.steps, "per_exit": r.per_exit}
    res["tuning"] = tuned
    res["wall_seconds"] = time.perf_counter() - t0
    (out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "results.md").write_text(table(res) + "\n")
    print(table(res))


def table(res: dict[str, object]) -> str:
    base = res["base"]
    tun = res["tuning"]
    pol = res["policies"]
    assert isinstance(base, dict) and isinstance(tun, dict) and isinstance(pol, dict)
    lines = [f"mode {res['mode']}, {res['wall_seconds']:.0f} s wall; base model on adaptation val: loss "
             f"{base['adapt_val'][0]:.3f} (ppl {perplexity(base['adapt_val'][0]):.2f}), acc {base['adapt_val'][1]:.3f}", "",
             "| method | val loss | perplexity | next-byte acc | saved activations (MiB) | s/step | trainable params |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for k, r in tun.items():
        lines.append(f"| {k} | {r['val_loss']:.3f} | {r['perplexity']:.2f} | {r['val_accuracy']:.3f} | "
                     f"{r['saved_activation_MB']:.1f} | {r['seconds_per_step']:.3f} | {r['trainable_params']} |")
    ex = tun["edge-llm"]["per_exit"]
    lines += ["", "Edge-LLM exits (own head, no voting): " + ", ".join(f"layer {e}: loss {lo:.3f} acc {a:.3f}" for e, lo, a in ex), "",
              "| sparsity policy (mean 0.5) | per-layer sparsity | adaptation val loss | acc |", "| --- | --- | --- | --- |"]
    for k, r in pol.items():
        lines.append(f"| {k} | {', '.join(f'{x:.2f}' for x in r['sparsity'])} | {r['adapt_val_loss']:.3f} | {r['adapt_val_acc']:.3f} |")
    sim = res["simulated"]
    assert isinstance(sim, dict)
    lines += ["", "Simulated on the default hardware (edgesim run_method, exported LUC trace, seq 128, batch 8): " + "; ".join(
        f"{k} {v['seconds'] * 1e3:.2f} ms/step, peak {v['peak_bytes'] / 2**20:.1f} MiB" for k, v in sim.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
