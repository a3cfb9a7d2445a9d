"""Deployment guidelines, part 4: what the small model says about tuning length, data amount and compression.

Reproduces, on the frontend's small LLaMA-style model (edgesim/frontend/torch/model.py, 1.25 M parameters, byte-level),
the accuracy-side findings of "Empirical Guidelines for Deploying LLMs onto Resource-constrained Edge Devices"
(arXiv 2406.03777) that a model this small can speak to:

1. Longer fine-tuning does not necessarily help. For each data amount N (the number of 128-byte training sequences,
   drawn at random from the adaptation corpus's training split, `pydoc_data.topics` prose), LoRA (r=8, alpha=16 on
   q_proj/v_proj, AdamW lr 2e-3, batch 8, epoch-wise shuffling of the N sequences) tunes the pre-trained model for a
   fixed number of optimizer steps, and the loss on fixed held-out validation windows (the corpus's validation split,
   never trained on) is measured at a schedule of steps. Per N: the curve (mean ± sample std over seeds), the step of
   the lowest validation loss and how far the final loss is above it.
2. A compressed model may learn better from limited personal data than an uncompressed one. The pre-trained model is
   compressed with the frontend's helpers (`edgesim.frontend.torch.compress.compress`: every Linear of every decoder
   layer 50 % magnitude-pruned, weights fake-quantized to 4 bits per output channel, inputs and the KV outputs to 8 bits
   per token, frozen), then tuned exactly like the uncompressed one: same N, same seeds, so the same training sequences,
   the same order and the same adapter initialisation. Reported per N: validation loss before tuning, at the best step
   and at the last step, and the improvement from tuning, each compressed minus uncompressed paired by seed.

A seed sets the training sequences (the N of each amount are the first N of one draw, so the amounts are nested), their
order and the adapter initialisation. The pre-trained model is experiments/01_frontend's checkpoint
(checkpoints/pretrained_full.pt, 700 steps on stdlib source), read only; if it is missing, the model is pre-trained the
same way (--quick: only 60 short steps, which give a unigram-level model) and cached under this script's output folder
(`checkpoints/`). CPU only, one thread, deterministic per seed.

    python experiments/05_deployment_guidelines/small_model.py [--quick] [--out DIR] [--report]

Full mode writes small_model.csv (every measurement), small_model.json (settings, base model, compression as measured,
wall time), small_model.md (summary tables), val_loss_vs_steps.png and compressed_vs_uncompressed.png into
results/small_model/ beside this file; --quick (3 seeds, two amounts, a few steps) writes into a temporary folder unless
--out is given. --report re-renders the .md, the figures and the summary from an
output folder's CSV and JSON without tuning again.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from edgesim.frontend.torch.compress import compress, compression_stats
from edgesim.frontend.torch.data import Corpus, adaptation_corpus, pretrain_corpus
from edgesim.frontend.torch.lora import add_lora
from edgesim.frontend.torch.model import SmallConfig, SmallLlama, lm_loss
from edgesim.frontend.torch.train import evaluate, load_checkpoint, pretrained
from edgesim.llm.trace import LayerPolicy
from edgesim.ops import WeightFormat

HERE = Path(__file__).resolve().parent
FRONTEND_CHECKPOINT = HERE.parent / "01_frontend" / "checkpoints" / "pretrained_full.pt"
FULL_PRETRAIN_STEPS = 700  # experiments/01_frontend's full pre-training
SEQ, BATCH, LR, RANK, ALPHA = 128, 8, 2e-3, 8, 16.0
COMPRESSION = LayerPolicy(weight_density=0.5, weight_format=WeightFormat.UNSTRUCTURED, w_bits=4, a_bits=8, kv_bits=8)
COMPRESSION_LABEL = "50% magnitude sparsity, 4-bit weights, 8-bit activations/KV"
OVERFIT_GAP = 0.01  # final minus best validation loss (nats, mean over seeds) above which a curve counts as overfitting

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Batches = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True, slots=True)
class Settings:
    amounts: tuple[int, ...]  # training sequences per run
    steps: int  # optimizer steps per run
    eval_steps: tuple[int, ...]  # steps after which the validation loss is measured (0: before tuning)
    val_batches: int  # fixed validation batches of BATCH x SEQ bytes
    seeds: tuple[int, ...]
    # pre-training (batch 16) only if experiments/01_frontend's checkpoint is missing: steps, sequence length, peak lr
    pretrain_steps: int
    pretrain_seq: int = 128
    pretrain_lr: float = 3e-3


def eval_schedule(steps: int, dense_until: int, dense_every: int, every: int) -> tuple[int, ...]:
    """0, then every `dense_every` steps up to `dense_until`, then every `every` steps, always ending at `steps`."""
    points = {0, steps, *range(dense_every, dense_until + 1, dense_every), *range(every, steps + 1, every)}
    return tuple(sorted(p for p in points if p <= steps))


SETTINGS = {
    "full": Settings(amounts=(8, 32, 128, 512), steps=200, eval_steps=eval_schedule(200, 20, 5, 20), val_batches=8,
                     seeds=(0, 1, 2), pretrain_steps=FULL_PRETRAIN_STEPS),
    "quick": Settings(amounts=(8, 32), steps=8, eval_steps=eval_schedule(8, 4, 2, 4), val_batches=2, seeds=(0, 1, 2),
                      pretrain_steps=60, pretrain_seq=64, pretrain_lr=1e-2),  # ~10 s: a unigram-level model
}


# ---------------------------------------------------------------------------------------------------------- the model


def checkpoint_matches(path: Path, cfg: SmallConfig, steps: int) -> bool:
    if not path.exists():
        return False
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return bool(blob["config"] == cfg.as_dict() and blob["meta"].get("steps") == steps)


def base_model(st: Settings, out: Path, progress: bool) -> tuple[SmallLlama, str]:
    """experiments/01_frontend's pre-trained checkpoint (read only), else one pre-trained here and cached under `out`."""
    cfg = SmallConfig()
    if checkpoint_matches(FRONTEND_CHECKPOINT, cfg, FULL_PRETRAIN_STEPS):
        return load_checkpoint(FRONTEND_CHECKPOINT), f"experiments/01_frontend's checkpoint ({FULL_PRETRAIN_STEPS} pre-training steps)"
    path = out / "checkpoints" / f"pretrained_{st.pretrain_steps}_seq{st.pretrain_seq}_lr{st.pretrain_lr:g}.pt"
    model = pretrained(cfg, pretrain_corpus(), path, steps=st.pretrain_steps, progress=progress, seq=st.pretrain_seq,
                       lr=st.pretrain_lr)
    return model, f"pre-trained here ({st.pretrain_steps} steps of 16 x {st.pretrain_seq} bytes, lr {st.pretrain_lr:g}; cached at {path})"


# --------------------------------------------------------------------------------------------------------- the tuning


def training_pool(corpus: Corpus, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` random training windows (inputs, next-byte targets), each (n, SEQ); a smaller amount takes the first rows."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    return corpus.batch(gen, n, SEQ, split="train")


def batch_order(n: int, steps: int, seed: int) -> list[torch.Tensor]:
    """Row indices of each step's batch: epoch-wise shuffles of the n sequences (a short last chunk is dropped)."""
    gen = torch.Generator().manual_seed(20_000 + seed)
    order: list[torch.Tensor] = []
    while len(order) < steps:
        perm = torch.randperm(n, generator=gen)
        order += [perm[i : i + BATCH] for i in range(0, n - BATCH + 1, BATCH)]
    return order[:steps]


def tune_curve(base: SmallLlama, pool: tuple[torch.Tensor, torch.Tensor], val: Batches, st: Settings, seed: int,
               before: tuple[float, float]) -> list[dict[str, float]]:
    """LoRA-tune a copy of `base` on `pool`; one row (step, val_loss, val_acc, train_loss) per step of `st.eval_steps`.

    `before`: the base model's validation (loss, accuracy), which is the step-0 point (B = 0: the adapters add nothing)."""
    torch.manual_seed(seed)
    model = copy.deepcopy(base)
    add_lora(model, RANK, ALPHA)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0.0)
    xs, ys = pool
    rows = [{"step": 0, "val_loss": before[0], "val_acc": before[1], "train_loss": math.nan}]
    train: list[float] = []
    for step, idx in enumerate(batch_order(len(xs), st.steps, seed), start=1):
        loss = lm_loss(model(xs[idx]), ys[idx])
        opt.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        opt.step()
        train.append(float(loss.detach()))
        if step in st.eval_steps:
            vl, va = evaluate(model, val)
            rows.append({"step": step, "val_loss": vl, "val_acc": va, "train_loss": statistics.fmean(train)})
            train = []  # the next row's train_loss: mean training-batch loss since this evaluation
    return rows


def run_all(bases: dict[bool, SmallLlama], corpus: Corpus, val: Batches, st: Settings, progress: bool) -> pd.DataFrame:
    """Every (seed, amount, compressed) curve; seeds outermost."""
    before = {comp: evaluate(m, val) for comp, m in bases.items()}
    rows: list[dict[str, object]] = []
    for seed in st.seeds:
        pool_x, pool_y = training_pool(corpus, max(st.amounts), seed)
        for n in st.amounts:
            for comp, base in bases.items():
                t0 = time.perf_counter()
                curve = tune_curve(base, (pool_x[:n], pool_y[:n]), val, st, seed, before[comp])
                rows += [{"seed": seed, "amount": n, "compressed": comp, **r} for r in curve]
                if progress:
                    print(f"  seed {seed}, N={n:4d}, {'compressed  ' if comp else 'uncompressed'}: val loss "
                          f"{curve[0]['val_loss']:.3f} -> {min(r['val_loss'] for r in curve):.3f} (best) -> "
                          f"{curve[-1]['val_loss']:.3f} (step {st.steps}), {time.perf_counter() - t0:.0f} s", flush=True)
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------------------------------------- the summary


def mean_std(xs: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1) over seeds."""
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def pm(xs: Iterable[float], digits: int = 3, signed: bool = False) -> str:
    """'mean ± std' over seeds."""
    m, s = mean_std(list(xs))
    return f"{m:+.{digits}f} ± {s:.{digits}f}" if signed else f"{m:.{digits}f} ± {s:.{digits}f}"


def per_run(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (amount, compressed, seed): loss before tuning, best step and loss, final loss, and the gaps."""
    rows = []
    for (n, comp, seed), g in df.groupby(["amount", "compressed", "seed"], sort=True):
        g = g.sort_values("step").reset_index(drop=True)
        best = g.iloc[int(g["val_loss"].to_numpy().argmin())]
        first, last = g.iloc[0], g.iloc[-1]
        rows.append({"amount": n, "compressed": comp, "seed": seed, "before": first["val_loss"], "best_step": int(best["step"]),
                     "best": best["val_loss"], "final_step": int(last["step"]), "final": last["val_loss"],
                     "final_train": last["train_loss"], "gap": last["val_loss"] - best["val_loss"],
                     "gap_pct": 100 * (last["val_loss"] / best["val_loss"] - 1), "gain_best": first["val_loss"] - best["val_loss"],
                     "gain_final": first["val_loss"] - last["val_loss"]})
    return pd.DataFrame(rows)


def verdict(runs: pd.DataFrame) -> str:
    """What one amount's curves (one model, all seeds) say about tuning longer."""
    if (runs["best_step"] == runs["final_step"]).all():
        return "still improving at the last step: longer tuning helps"
    if runs["gap"].mean() > OVERFIT_GAP:
        return "overfits: longer tuning hurts"
    return "plateaus: longer tuning neither helps nor hurts much"


def _model_name(comp: object) -> str:
    return "compressed" if comp else "uncompressed"


def curve_findings(runs: pd.DataFrame) -> list[str]:
    lines = []
    for (n, comp), r in runs.groupby(["amount", "compressed"], sort=True):
        steps = ", ".join(str(s) for s in r["best_step"])
        lines.append(f"N={n} ({_model_name(comp)}): val loss {pm(r['before'])} before tuning; best {pm(r['best'])} at step "
                     f"{steps} (per seed); final (step {r['final_step'].iloc[0]}) {pm(r['final'])}, "
                     f"{pm(r['gap_pct'], 1)}% above best: {verdict(r)}")
    return lines


def paired(runs: pd.DataFrame, n: int, col: str) -> tuple[list[float], list[float]]:
    """`col` of the uncompressed and the compressed runs of amount n, in seed order."""
    r = runs[runs["amount"] == n].sort_values("seed")
    return list(r.loc[~r["compressed"], col]), list(r.loc[r["compressed"], col])


def comparison_findings(runs: pd.DataFrame) -> list[str]:
    lines = []
    for n in sorted(runs["amount"].unique()):
        diff = {col: [c - u for u, c in zip(*paired(runs, n, col), strict=True)] for col in ("best", "final", "gain_best")}
        k = len(diff["best"])
        more = sum(d > 0 for d in diff["gain_best"])
        lower_best, lower_final = sum(d < 0 for d in diff["best"]), sum(d < 0 for d in diff["final"])
        more_gain, lower = statistics.fmean(diff["gain_best"]) > 0, statistics.fmean(diff["best"]) < 0
        gains = "gains more" if more_gain else "gains less"
        ends = ("and ends lower" if lower else "but still ends higher") if more_gain else ("but ends lower" if lower else "and ends higher")
        last = "lower" if statistics.fmean(diff["final"]) < 0 else "higher"
        lines.append(f"compressed vs uncompressed at N={n}: the compressed model {gains} from tuning (improvement to the best "
                     f"step, compressed minus uncompressed: {pm(diff['gain_best'], signed=True)}; larger in {more} of {k} seeds) "
                     f"{ends} at its best step (best val loss, compressed minus uncompressed: {pm(diff['best'], signed=True)}"
                     f"; lower in {lower_best} of {k} seeds); at the last step it is {last} ({pm(diff['final'], signed=True)}; "
                     f"lower in {lower_final} of {k} seeds)")
    return lines


def curve_table(df: pd.DataFrame) -> list[str]:
    """Validation loss at every measured step: rows steps, columns (amount, model), mean ± std over seeds."""
    keys = sorted({(int(n), bool(c)) for n, c in zip(df["amount"], df["compressed"], strict=True)})
    lines = ["| step | " + " | ".join(f"N={n} {_model_name(c)}" for n, c in keys) + " |",
             "| --- | " + " | ".join("---" for _ in keys) + " |"]
    for step, g in df.groupby("step", sort=True):
        cells = [pm(list(g.loc[(g["amount"] == n) & (g["compressed"] == c), "val_loss"])) for n, c in keys]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return lines


def runs_table(runs: pd.DataFrame) -> list[str]:
    lines = ["| N | model | before tuning | best step (per seed) | best val loss | final val loss | final − best | "
             "final vs best | train loss, last steps | verdict |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (n, comp), r in runs.groupby(["amount", "compressed"], sort=True):
        lines.append(f"| {n} | {_model_name(comp)} | {pm(r['before'])} | {', '.join(map(str, r['best_step']))} | {pm(r['best'])} | "
                     f"{pm(r['final'])} | {pm(r['gap'], signed=True)} | {pm(r['gap_pct'], 1, signed=True)}% | "
                     f"{pm(r['final_train'])} | {verdict(r)} |")
    return lines


def comparison_table(runs: pd.DataFrame) -> list[str]:
    lines = ["| N | before: uncompressed / compressed | best: uncompressed / compressed | final: uncompressed / compressed | "
             "gain to best: uncompressed / compressed | gain to best, compressed − uncompressed | best, compressed − "
             "uncompressed | final, compressed − uncompressed |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n in sorted(runs["amount"].unique()):
        cells = []
        for col in ("before", "best", "final", "gain_best"):
            u, c = paired(runs, n, col)
            cells.append(f"{pm(u)} / {pm(c)}")
        for col in ("gain_best", "best", "final"):
            u, c = paired(runs, n, col)
            d = [b - a for a, b in zip(u, c, strict=True)]
            cells.append(f"{pm(d, signed=True)} ({sum(x > 0 for x in d)} of {len(d)} seeds > 0)")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return lines


def markdown(df: pd.DataFrame, runs: pd.DataFrame, meta: dict[str, Any]) -> str:
    st = meta["settings"]
    lines = [f"# Small model: tuning length, data amount and compression ({meta['mode']} mode)", "",
             f"{meta['wall_seconds']:.0f} s wall on {meta['threads']} thread(s). Base model: {meta['base']}. Validation: "
             f"{st['val_batches']} fixed batches of {BATCH} x {SEQ} bytes from the adaptation corpus's held-out split. LoRA "
             f"r={RANK}, alpha={ALPHA:g} on q_proj/v_proj, AdamW lr {LR:g}, batch {BATCH} x {SEQ} bytes, {st['steps']} steps per "
             f"run; N = training sequences of {SEQ} bytes; seeds {', '.join(map(str, st['seeds']))}; mean ± sample std over "
             "the seeds. \"Best\" is the lowest validation loss over the measured steps (early stopping chosen on the same "
             "validation set, so slightly optimistic); \"final\" is the last step.", "",
             f"Compressed model: every decoder-layer Linear {COMPRESSION_LABEL} (`edgesim.frontend.torch.compress`); measured "
             f"zero fraction per layer {meta['zero_fraction']}, at most {meta['max_levels']} distinct weight values per output "
             "channel.", "", "## Findings", ""]
    lines += [f"- {x}" for x in curve_findings(runs) + comparison_findings(runs)]
    lines += ["", "## Best step and final against best", "", *runs_table(runs), "",
              "## Compressed against uncompressed (paired by seed; gain = loss before tuning − loss after)", "",
              *comparison_table(runs), "", "## Validation loss against tuning steps", "", *curve_table(df)]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------ figures


def _band(ax: Axes, g: pd.DataFrame, label: str, color: Any) -> None:
    """Mean line and ± std band of `val_loss` over seeds, against step."""
    stats = g.groupby("step")["val_loss"].agg(["mean", "std"]).fillna(0.0)
    ax.plot(stats.index, stats["mean"], color=color, label=label, marker=".")
    ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], color=color, alpha=0.2)


def figures(df: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    amounts = sorted(df["amount"].unique())
    colors = plt.get_cmap("viridis")([i / max(1, len(amounts) - 1) * 0.9 for i in range(len(amounts))])
    zoom = (float(df["val_loss"].min()) - 0.01, float(df.loc[df["step"] == 0, "val_loss"].max()) + 0.03)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True, squeeze=False)
    for j, comp in enumerate((False, True)):
        for ax in (axes[0][j], axes[1][j]):
            for n, color in zip(amounts, colors, strict=True):
                _band(ax, df[(df["amount"] == n) & (df["compressed"] == comp)], f"N={n}", color)
            ax.grid(alpha=0.3)
        axes[0][j].set_title(f"{_model_name(comp)} model")
        axes[1][j].set_ylim(*zoom)
        axes[1][j].set_xlabel("LoRA optimizer steps")
    axes[0][0].set_ylabel("validation loss (nats/byte)")
    axes[1][0].set_ylabel("the same, zoomed in")
    axes[0][0].legend(title="training sequences")
    fig.suptitle("Validation loss against tuning steps (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(out / "val_loss_vs_steps.png", dpi=110, metadata={"Software": None})
    plt.close(fig)

    fig, axes = plt.subplots(2, len(amounts), figsize=(3.6 * len(amounts), 6.5), sharex=True, squeeze=False)
    for j, n in enumerate(amounts):
        g = df[df["amount"] == n]
        for comp, color in ((False, "tab:blue"), (True, "tab:red")):
            _band(axes[0][j], g[g["compressed"] == comp], _model_name(comp), color)
        wide = g.pivot_table(index=["seed", "step"], columns="compressed", values="val_loss")
        d = (wide[True] - wide[False]).rename("val_loss").reset_index()
        _band(axes[1][j], d, "compressed − uncompressed", "tab:purple")
        axes[1][j].axhline(0, color="black", linewidth=0.7)
        axes[0][j].set_title(f"N={n}")
        axes[1][j].set_xlabel("LoRA optimizer steps")
        for ax in (axes[0][j], axes[1][j]):
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation loss")
    axes[1][0].set_ylabel("compressed − uncompressed")
    axes[0][0].legend()
    fig.suptitle(f"Compressed ({COMPRESSION_LABEL})\nagainst uncompressed, same data and seeds (mean ± std)")
    fig.tight_layout()
    fig.savefig(out / "compressed_vs_uncompressed.png", dpi=110, metadata={"Software": None})
    plt.close(fig)


# --------------------------------------------------------------------------------------------------------------- main


def measure(st: Settings, mode: str, out: Path) -> None:
    """Every tuning run: small_model.csv (the curves) and small_model.json (what the report needs besides them)."""
    t0 = time.perf_counter()
    base, base_desc = base_model(st, out, progress=True)
    squeezed = compress(base, (COMPRESSION,) * len(base.layers))
    stats = compression_stats(squeezed)
    corpus = adaptation_corpus()
    val = corpus.fixed_batches(st.val_batches, BATCH, SEQ)
    df = run_all({False: base, True: squeezed}, corpus, val, st, progress=True)
    df.to_csv(out / "small_model.csv", index=False, float_format="%.6g")
    meta = {"mode": mode, "settings": asdict(st), "base": base_desc, "wall_seconds": time.perf_counter() - t0,
            "threads": torch.get_num_threads(), "compression": COMPRESSION_LABEL,
            "zero_fraction": ", ".join(f"{s.zero_fraction:.3f}" for s in stats), "max_levels": max(s.max_levels for s in stats)}
    (out / "small_model.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def report(out: Path) -> None:
    """small_model.md, the two figures and the stdout summary, from small_model.csv and small_model.json."""
    df = pd.read_csv(out / "small_model.csv")
    meta = json.loads((out / "small_model.json").read_text(encoding="utf-8"))
    runs = per_run(df)
    (out / "small_model.md").write_text(markdown(df, runs, meta) + "\n", encoding="utf-8")
    figures(df, out)
    print(f"\nBase model: {meta['base']}; compressed: {meta['compression']}.")
    print("\n".join(curve_findings(runs) + comparison_findings(runs)))
    print(f"wrote small_model.csv, .json, .md, val_loss_vs_steps.png, compressed_vs_uncompressed.png into {out} "
          f"({meta['wall_seconds']:.0f} s of measurement)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 seeds, two amounts, a few steps (seconds)")
    ap.add_argument("--out", metavar="DIR", help="output folder (default: results/small_model/ beside this file; --quick: a "
                                                 "temporary folder)")
    ap.add_argument("--report", action="store_true", help="only re-render the .md, figures and summary from the folder's CSV/JSON")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else (Path(tmp) if args.quick else HERE / "results" / "small_model")
        out.mkdir(parents=True, exist_ok=True)
        if not args.report:
            measure(SETTINGS[mode], mode, out)
        report(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
