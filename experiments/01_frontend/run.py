"""Experiment 01: the PyTorch frontend end to end on the small LLaMA-style model.

Pre-trains the small model on stdlib source (checkpoint reused), measures layer-wise pruning / quantization sensitivity,
compares sparsity policies on the real model, exports a trace (LUC sparsity, 4/8 bits) that `edgesim tune` runs, applies
that trace's compression to the model, and tunes on the adaptation domain (pydoc topics) over several seeds: vanilla LoRA
and Edge-LLM windowed tuning + voting, each on the uncompressed and on the compressed model. Paths are relative to this file.

    python experiments/01_frontend/run.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import parse_trace
from edgesim.frontend.export import write_trace
from edgesim.frontend.policy import luc_policy, min_mse_policy, nm_formats
from edgesim.frontend.torch.adaptive import TuneResult, exit_layers, tune_edge_llm, tune_vanilla_lora
from edgesim.frontend.torch.compress import compress, compression_stats
from edgesim.frontend.torch.data import Corpus, adaptation_corpus, pretrain_corpus
from edgesim.frontend.torch.export import build_trace, measure
from edgesim.frontend.torch.model import SmallConfig, SmallLlama, perplexity
from edgesim.frontend.torch.sensitivity import decoder_layers, magnitude_prune, modified_weights, nm_prune
from edgesim.frontend.torch.train import evaluate, pretrained
from edgesim.llm.step import TuningSettings
from edgesim.llm.tune import run_method
from edgesim.methods import Method

HERE = Path(__file__).resolve().parent
STRIDE = 2
SETTINGS = {  # pretrain steps, tuning steps per run, calibration batches, eval batches, tuning seeds (0, 1, ...)
    "full": {"pretrain": 700, "tune": 200, "calib": 8, "eval": 16, "seeds": 5},
    "quick": {"pretrain": 60, "tune": 24, "calib": 2, "eval": 4, "seeds": 3},
}
RUNS = {  # key: (label, on the LUC-compressed model?, windowed tuning + voting?)
    "lora": ("vanilla LoRA, uncompressed", False, False),
    "edge-llm-uncompressed": ("windowed + voting, uncompressed", False, True),
    "lora-compressed": ("vanilla LoRA, LUC-compressed", True, False),
    "edge-llm": ("Edge-LLM: LUC-compressed + windowed + voting", True, True),
}
METRICS = ("val_loss", "val_accuracy", "saved_activation_MB", "median_seconds_per_step", "seconds_per_step", "perplexity",
           "speedup_vs_lora")


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

    assert list(tr.exit_layers) == exit_layers(cfg.layers, STRIDE)  # the trace's exits are the tuner's
    compressed = compress(model, tr.policies)
    weights_only = compress(model, tr.policies, activations=False)
    res["compressed"] = {
        "policy": [{"sparsity": round(1 - p.weight_density, 6), "format": f"{p.nm[0]}:{p.nm[1]}" if p.nm else "unstructured",
                    "w_bits": p.w_bits, "a_bits": p.a_bits, "kv_bits": p.kv_bits} for p in tr.policies],
        "measured": [{"zero_fraction": s.zero_fraction, "max_levels_per_channel": s.max_levels} for s in compression_stats(compressed)],
        "adapt_val": evaluate(compressed, adapt_val), "adapt_val_weights_only": evaluate(weights_only, adapt_val)}
    seeds = list(range(st["seeds"]))
    res["seeds"] = seeds
    res["tuning"] = tune_all({False: model, True: compressed}, adapt, adapt_val, steps=st["tune"], seeds=seeds, progress=progress)
    res["wall_seconds"] = time.perf_counter() - t0
    (out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "results.md").write_text(table(res) + "\n")
    print(table(res))


def _metrics(r: TuneResult, lora: TuneResult) -> dict[str, float]:
    """`lora`: vanilla LoRA on the uncompressed model with the same seed (its steps ran just before, at a similar load)."""
    return {"val_loss": r.val_loss, "val_accuracy": r.val_accuracy, "saved_activation_MB": r.saved_activation_bytes / 2**20,
            "median_seconds_per_step": r.median_seconds_per_step, "seconds_per_step": r.seconds_per_step,
            "perplexity": perplexity(r.val_loss), "speedup_vs_lora": lora.median_seconds_per_step / r.median_seconds_per_step}


def _row(r: TuneResult, lora: TuneResult, seed: int) -> dict[str, object]:
    row: dict[str, object] = {"seed": seed, **_metrics(r, lora), "trainable_params": r.trainable_params, "per_exit": r.per_exit}
    if r.per_exit:  # voting against the deepest exit alone, this seed
        _, deep_loss, deep_acc = r.per_exit[-1]
        row["voting_minus_deepest"] = {"loss": r.val_loss - deep_loss, "acc": r.val_accuracy - deep_acc}
    return row


def mean_std(xs: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (n - 1) over seeds."""
    return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0, "n": len(xs)}


def tune_all(bases: dict[bool, SmallLlama], corpus: Corpus, val: list[tuple[torch.Tensor, torch.Tensor]], *, steps: int,
             seeds: list[int], progress: bool) -> dict[str, dict[str, object]]:
    """Every run of RUNS for every seed (the seed sets adapter init and data order); seeds outermost, so load changes on a
    shared machine spread over all runs. Per run: per-seed rows and mean ± std across seeds."""
    results: dict[str, list[TuneResult]] = {k: [] for k in RUNS}
    for seed in seeds:
        for key, (_, comp, windowed) in RUNS.items():
            if windowed:
                _, r = tune_edge_llm(bases[comp], corpus, val, steps=steps, stride=STRIDE, seed=seed, progress=progress)
            else:
                _, r = tune_vanilla_lora(bases[comp], corpus, val, steps=steps, seed=seed, progress=progress)
            results[key].append(r)
    out: dict[str, dict[str, object]] = {}
    for key, (label, comp, windowed) in RUNS.items():
        rs, los = results[key], results["lora"]
        run: dict[str, object] = {
            "label": label, "compressed": comp, "windowed_voting": windowed, "steps": steps,
            "trainable_params": rs[0].trainable_params, "per_seed": [_row(r, lo, sd) for r, lo, sd in zip(rs, los, seeds, strict=True)],
            "summary": {m: mean_std([_metrics(r, lo)[m] for r, lo in zip(rs, los, strict=True)]) for m in METRICS}}
        if windowed:
            run["per_exit"] = [{"layer": e, "loss": mean_std([r.per_exit[k][1] for r in rs]),
                                "acc": mean_std([r.per_exit[k][2] for r in rs])} for k, (e, _, _) in enumerate(rs[0].per_exit)]
            dl = [r.val_loss - r.per_exit[-1][1] for r in rs]
            da = [r.val_accuracy - r.per_exit[-1][2] for r in rs]
            run["voting_minus_deepest"] = {"loss": mean_std(dl), "acc": mean_std(da),
                                           "seeds_voting_lower_loss": sum(x < 0 for x in dl),
                                           "seeds_voting_higher_acc": sum(x > 0 for x in da)}
        out[key] = run
    return out


def _pm(s: dict[str, float], digits: int = 3) -> str:
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def table(res: dict[str, object]) -> str:
    base, tun, pol, comp = res["base"], res["tuning"], res["policies"], res["compressed"]
    assert isinstance(base, dict) and isinstance(tun, dict) and isinstance(pol, dict) and isinstance(comp, dict)
    seeds = res["seeds"]
    assert isinstance(seeds, list)
    n, steps = len(seeds), next(iter(tun.values()))["steps"]
    lines = [f"mode {res['mode']}, {res['wall_seconds']:.0f} s wall; base model on adaptation val: loss "
             f"{base['adapt_val'][0]:.3f} (ppl {perplexity(base['adapt_val'][0]):.2f}), acc {base['adapt_val'][1]:.3f}", "",
             "LUC-compressed model (from the exported trace), before tuning: loss "
             f"{comp['adapt_val'][0]:.3f}, acc {comp['adapt_val'][1]:.3f} (weights only, activations float: loss "
             f"{comp['adapt_val_weights_only'][0]:.3f}, acc {comp['adapt_val_weights_only'][1]:.3f})", "",
             "| layer | trace sparsity | measured zeros | w/a/kv bits | most levels per output channel |",
             "| --- | --- | --- | --- | --- |"]
    for i, (p, ms) in enumerate(zip(comp["policy"], comp["measured"], strict=True)):
        sp = p["sparsity"] if p["format"] == "unstructured" else p["format"]
        lines.append(f"| {i} | {sp} | {ms['zero_fraction']:.3f} | {p['w_bits']}/{p['a_bits']}/{p['kv_bits']} | "
                     f"{ms['max_levels_per_channel']} |")
    lines += ["", f"Tuning: {steps} optimizer steps per run, seeds {', '.join(map(str, seeds))}; mean ± sample std over the "
              f"{n} seeds", "",
              "| run | val loss | next-byte acc | saved activations (MiB) | s/step (median step) | s/step (mean step) | "
              "speed-up vs vanilla LoRA (median, same seed) | trainable params |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in tun.values():
        sm = r["summary"]
        lines.append(f"| {r['label']} | {_pm(sm['val_loss'])} | {_pm(sm['val_accuracy'])} | "
                     f"{_pm(sm['saved_activation_MB'], 1)} | {_pm(sm['median_seconds_per_step'])} | {_pm(sm['seconds_per_step'])} | "
                     f"{_pm(sm['speedup_vs_lora'], 2)}× | {r['trainable_params']} |")
    windowed = {k: r for k, r in tun.items() if r["windowed_voting"]}
    ex_layers = [e["layer"] for e in next(iter(windowed.values()))["per_exit"]]
    lines += ["", "Each exit alone (its own head) against voting over all exits, mean ± std over seeds:", "",
              "| run | metric | " + " | ".join(f"exit after layer {e} alone" for e in ex_layers)
              + " | voting | voting − deepest exit | seeds where voting is better |",
              "| --- | --- | " + " | ".join("---" for _ in ex_layers) + " | --- | --- | --- |"]
    for r in windowed.values():
        vd, sm = r["voting_minus_deepest"], r["summary"]
        for metric, vkey, better in (("loss", "val_loss", "seeds_voting_lower_loss"), ("acc", "val_accuracy", "seeds_voting_higher_acc")):
            lines.append(f"| {r['label']} | {metric} | " + " | ".join(_pm(e[metric]) for e in r["per_exit"])
                         + f" | {_pm(sm[vkey])} | {vd[metric]['mean']:+.3f} ± {vd[metric]['std']:.3f} | {vd[better]} of {n} |")
    lines += ["", "Per seed, voting against the deepest exit alone:", "",
              "| run | seed | deepest exit loss | voting loss | Δ loss | deepest exit acc | voting acc | Δ acc |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in windowed.values():
        for row in r["per_seed"]:
            _, dl, da = row["per_exit"][-1]
            d = row["voting_minus_deepest"]
            lines.append(f"| {r['label']} | {row['seed']} | {dl:.3f} | {row['val_loss']:.3f} | {d['loss']:+.3f} | {da:.3f} | "
                         f"{row['val_accuracy']:.3f} | {d['acc']:+.3f} |")
    lines += ["", "| sparsity policy (mean 0.5) | per-layer sparsity | adaptation val loss | acc |", "| --- | --- | --- | --- |"]
    for k, r in pol.items():
        lines.append(f"| {k} | {', '.join(f'{x:.2f}' for x in r['sparsity'])} | {r['adapt_val_loss']:.3f} | {r['adapt_val_acc']:.3f} |")
    sim = res["simulated"]
    assert isinstance(sim, dict)
    lines += ["", "Simulated on the default hardware (edgesim run_method, exported LUC trace, seq 128, batch 8): " + "; ".join(
        f"{k} {v['seconds'] * 1e3:.2f} ms/step, peak {v['peak_bytes'] / 2**20:.1f} MiB" for k, v in sim.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
