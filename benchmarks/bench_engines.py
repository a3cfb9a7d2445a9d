"""One model, two engines: the analytic cost model (`edgesim.cost.model`) against the tile-level pipeline simulator
(`edgesim.sim.pipeline.simulate`) on the same (GEMM, mapping, hardware) triples, and whether the mapping the analytic
model ranks first still holds once simulated.

Run:  python benchmarks/bench_engines.py            (1000 triples, all scheduler-check ops; seconds)
      python benchmarks/bench_engines.py --quick    (fewer triples and ops)

Three parts, each timed:
1. The sample (seeded, deterministic; `draw_triples`): GEMM shapes mixing LLM ops (LLaMA-7B, TinyLlama-1.1B and the
   `tiny` model's projections at seq 128-512, forward, input-gradient and weight-gradient GEMMs with K = tokens, LoRA
   rank 8-64 GEMMs, batched attention GEMMs; fp16, int8 and a few 4-bit or sparse ones) with small and odd shapes
   (33x33x33, 7x100x64, 1xNxK decode GEMVs, random dims up to 300); hardware: every YAML in hw_configs/ plus random
   variants of them (array rows and columns, buffer size and bandwidth, DRAM bandwidth and latency, through
   `load_arch` overrides); per (GEMM, hardware) pair, the default searcher's best mapping (`make_mapper("auto")`)
   and random feasible mappings drawn uniformly from the mapspace.
2. Agreement: |analytic - sim| / sim over the triples; the worst triples with the simulator's stall breakdown.
3. Scheduler check: per op, the analytic top 10 of the whole mapspace (fewest cycles, then least energy, as the
   searchers rank), each simulated; the op passes if the analytic best's simulated cycles are within 5% of the best
   simulated among the ten.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from dataclasses import dataclass

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from edgesim.arch import ArchSpec  # noqa: E402
from edgesim.config.builtin import HW_CONFIG_DIR  # noqa: E402
from edgesim.config.hardware import load_arch  # noqa: E402
from edgesim.cost.model import GemmCost, evaluate, evaluate_one  # noqa: E402
from edgesim.errors import ConfigError, Infeasible  # noqa: E402
from edgesim.mapping import Mapping  # noqa: E402
from edgesim.mapspace import build_mapspace  # noqa: E402
from edgesim.ops import Gemm, WeightFormat  # noqa: E402
from edgesim.search.factory import make_mapper  # noqa: E402
from edgesim.sim.pipeline import SimResult, simulate  # noqa: E402

SEED = 20240611
TOLERANCE = 0.10  # target 1: the analytic total within 10% of the simulated one ...
TARGET_FRACTION = 0.95  # ... on at least 95% of the triples
CHOICE_SLACK = 0.05  # target 2: the analytic best simulates within 5% of the best simulated of the top 10
TOP = 10

# (name, hidden, intermediate) of the LLMs whose projections are drawn
LLMS = (("llama-7b", 4096, 11008), ("tinyllama-1.1b", 2048, 5632), ("tiny", 64, 172))
SEQS = (128, 256, 512)
LORA_RANKS = (8, 16, 32, 64)
# hardware variants: each overrides a few of these fields of a shipped YAML
VARIANT_FIELDS: dict[str, tuple[float, ...]] = {
    "pe_array.rows": (4, 8, 16, 32, 64),
    "pe_array.cols": (4, 8, 16, 32, 64),
    "global_buffer.capacity_kib": (32, 64, 128, 256, 512, 1024, 2048, 4096),
    "global_buffer.bandwidth_bytes_per_cycle": (16, 32, 64, 128, 256),
    "dram.bandwidth_gb_per_s": (1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8),
    "dram.latency_ns": (0, 20, 50, 100, 200, 400),
}


@dataclass(frozen=True, slots=True)
class Triple:
    op: Gemm
    mapping: Mapping
    arch: ArchSpec
    hw: str  # how the hardware was made: a YAML name, with its overrides
    source: str  # "searcher" or "random"


def hw_names() -> list[str]:
    return sorted(p.stem for p in HW_CONFIG_DIR.glob("*.yaml"))


def llm_shapes(rng: np.random.Generator) -> Gemm:
    """One LLM GEMM: a projection's forward, input gradient or weight gradient, a LoRA GEMM or batched attention."""
    name, h, inter = LLMS[rng.integers(len(LLMS))]
    s = int(rng.choice(SEQS))
    kind = rng.choice(["fwd", "bwd_data", "bwd_weight", "lora", "attention"], p=[0.3, 0.2, 0.25, 0.15, 0.1])
    kn = [(h, h), (h, inter), (inter, h)][rng.integers(3)]  # (K, N) of the forward weight: qkvo, gate/up, down
    if kind == "fwd":
        m, n, k, b = s, kn[1], kn[0], 1
    elif kind == "bwd_data":  # dX = dY·Wᵀ: (s × N)·(N × K)
        m, n, k, b = s, kn[0], kn[1], 1
    elif kind == "bwd_weight":  # dW = Xᵀ·dY: (K × s)·(s × N), K = tokens
        m, n, k, b = kn[0], kn[1], s, 1
    elif kind == "lora":
        r = int(rng.choice(LORA_RANKS))
        m, n, k, b = [(s, r, h), (s, h, r), (h, r, s), (r, h, s), (s, r, h)][rng.integers(5)] + (1,)
    else:
        heads, hd = max(1, h // 128), min(128, h)
        m, n, k, b = [(s, s, hd), (s, hd, s)][rng.integers(2)] + (heads,)
    bits = int(rng.choice([16, 16, 8, 4]))
    sparse = bits <= 8 and rng.random() < 0.3
    return Gemm(name=f"{name}.{kind}.s{s}", m=m, n=n, k=k, batch=b, a_bits=bits, b_bits=bits, c_bits=max(bits, 8),
                weight_density=0.5 if sparse else 1.0,
                weight_format=WeightFormat.UNSTRUCTURED if sparse else WeightFormat.DENSE)


FIXED_SMALL = ((33, 33, 33), (7, 100, 64), (1, 4096, 4096), (1, 11008, 4096), (1, 4096, 11008), (1, 2048, 2048),
               (1, 64, 172), (16, 16, 16), (17, 31, 13), (100, 37, 211))


def small_shape(rng: np.random.Generator) -> Gemm:
    """A small or odd GEMM: one of FIXED_SMALL, or random dims (1-300, often prime-ish)."""
    if rng.random() < 0.5:
        m, n, k = FIXED_SMALL[rng.integers(len(FIXED_SMALL))]
    else:
        m, n, k = (int(x) for x in rng.integers(1, 301, 3))
    bits = int(rng.choice([8, 8, 16, 4]))
    return Gemm(name=f"small.{m}x{n}x{k}", m=m, n=n, k=k, batch=int(rng.choice([1, 1, 1, 2])),
                a_bits=bits, b_bits=bits, c_bits=max(bits, 8))


def draw_archs(rng: np.random.Generator, variants: int) -> list[tuple[str, ArchSpec]]:
    """Every shipped YAML, then `variants` random variants (2-4 overridden fields each)."""
    names = hw_names()
    out = [(n, load_arch(n)) for n in names]
    fields = sorted(VARIANT_FIELDS)
    while len(out) < len(names) + variants:
        base = names[rng.integers(len(names))]
        picked = rng.choice(len(fields), size=int(rng.integers(2, 5)), replace=False)
        over = [f"{fields[i]}={rng.choice(VARIANT_FIELDS[fields[i]])}" for i in sorted(picked)]
        try:
            out.append((f"{base}[{', '.join(over)}]", load_arch(base, over)))
        except ConfigError:  # e.g. rows x cols that disagree with a YAML's multi-axis array
            continue
    return out


def random_mappings(arch: ArchSpec, op: Gemm, rng: np.random.Generator, count: int) -> list[Mapping]:
    """`count` feasible mappings drawn uniformly from the mapspace (fewer if few are feasible)."""
    space = build_mapspace(arch, op)
    maps = space.sample(rng, 400)
    ca = evaluate(arch, op, maps)
    ok = np.flatnonzero(ca.feasible)
    if ok.size == 0:
        return []
    return [maps.mapping(int(i)) for i in rng.choice(ok, size=min(count, ok.size), replace=False)]


def draw_triples(count: int, seed: int = SEED, *, searcher: bool = True, variants: int = 14,
                 per_pair: int = 3) -> list[Triple]:
    """`count` triples (see the module docstring), deterministic for a seed. Per (GEMM, hardware) pair: the
    searcher's best (if `searcher`) and `per_pair` random feasible mappings."""
    rng = np.random.default_rng(seed)
    archs = draw_archs(rng, variants)
    mapper = make_mapper("auto", None) if searcher else None
    out: list[Triple] = []
    while len(out) < count:
        op = llm_shapes(rng) if rng.random() < 0.55 else small_shape(rng)
        hw, arch = archs[rng.integers(len(archs))]
        picked = random_mappings(arch, op, rng, per_pair)
        if mapper is not None and picked:
            best = mapper.best(arch, op)
            if not isinstance(best, Infeasible):
                out.append(Triple(op, best.mapping, arch, hw, "searcher"))
        out += [Triple(op, mp, arch, hw, "random") for mp in picked]
    return out[:count]


@dataclass(frozen=True, slots=True)
class Outcome:
    triple: Triple
    analytic: float
    sim: SimResult

    @property
    def error(self) -> float:
        """(analytic - sim) / sim."""
        return (self.analytic - self.sim.total_cycles) / self.sim.total_cycles


def compare(triples: list[Triple]) -> list[Outcome]:
    out = []
    for t in triples:
        c = evaluate_one(t.arch, t.op, t.mapping)
        assert isinstance(c, GemmCost), c
        out.append(Outcome(t, c.total_cycles, simulate(t.arch, t.op, t.mapping, max_events=0)))
    return out


def within(outcomes: list[Outcome], tolerance: float = TOLERANCE) -> float:
    """Fraction of the outcomes whose analytic total is within `tolerance` of the simulated one."""
    return sum(abs(o.error) <= tolerance for o in outcomes) / len(outcomes)


def describe_op(op: Gemm) -> str:
    extra = f" b{op.batch}" if op.batch > 1 else ""
    sparse = f" d{op.weight_density:g}" if op.weight_density < 1 else ""
    return f"{op.m}x{op.n}x{op.k}{extra} {op.a_bits}b{sparse}"


def report_agreement(outcomes: list[Outcome], worst: int = 10) -> None:
    err = np.array([o.error for o in outcomes])
    rel = np.abs(err)
    print(f"  triples: {len(outcomes)} ({sum(o.triple.source == 'searcher' for o in outcomes)} searcher's best, "
          f"{sum(o.triple.source == 'random' for o in outcomes)} random), "
          f"{len({o.triple.hw for o in outcomes})} hardware, {len({o.triple.op.signature() for o in outcomes})} GEMMs")
    print(f"  within {TOLERANCE:.0%}: {np.mean(rel <= TOLERANCE):.1%} (target >= {TARGET_FRACTION:.0%})")
    print(f"  |analytic - sim| / sim: median {np.median(rel):.2%}, p90 {np.quantile(rel, 0.9):.2%}, "
          f"p99 {np.quantile(rel, 0.99):.2%}, max {rel.max():.2%}; signed mean {err.mean():+.2%}")
    groups = {"searcher's best": [o.triple.source == "searcher" for o in outcomes],
              "random mapping": [o.triple.source == "random" for o in outcomes],
              "LLM GEMM": [not o.triple.op.name.startswith("small.") for o in outcomes],
              "small/odd GEMM": [o.triple.op.name.startswith("small.") for o in outcomes],
              "weight gradient": [".bwd_weight." in o.triple.op.name for o in outcomes],
              "double buffered": [o.triple.mapping.double_buffer for o in outcomes],
              "single buffered": [not o.triple.mapping.double_buffer for o in outcomes]}
    for name, mask in groups.items():
        sel = np.array(mask)
        if sel.any():
            print(f"    {name:<16} {sel.sum():>5}: within {TOLERANCE:.0%} {np.mean(rel[sel] <= TOLERANCE):6.1%}, "
                  f"p90 {np.quantile(rel[sel], 0.9):6.2%}, max {rel[sel].max():6.2%}, signed mean {err[sel].mean():+.2%}")
    print(f"  worst {worst}:")
    for i in np.argsort(-rel, kind="stable")[:worst]:
        o = outcomes[i]
        st = o.sim.stall_cycles
        print(f"    {o.error:+7.1%}  {describe_op(o.triple.op):<22} {o.triple.mapping.describe():<36} "
              f"{o.triple.hw}")
        print(f"             analytic {o.analytic:,.0f}  sim {o.sim.total_cycles:,.0f} = compute "
              f"{o.sim.compute_cycles:,.0f} + bandwidth {st['dram_bandwidth']:,.0f} + latency "
              f"{st['dram_latency']:,.0f} + buffer port {st['buffer_port']:,.0f}  ({o.sim.tiles:,} tiles)")


def layer_ops() -> list[Gemm]:
    """The distinct GEMMs of one LLaMA-7B decoder layer's forward and backward (full fine-tuning, seq 512, fp16)."""
    from edgesim.config.models import load_model
    from edgesim.llm.step import TuningSettings, expand_step
    from edgesim.methods import Method

    step = expand_step(load_arch(), load_model("llama7b"), Method.FULL, TuningSettings(seq=512))
    seen: dict[tuple[object, ...], Gemm] = {}
    for node in step.nodes:
        if node.layer == 0 and isinstance(node.op, Gemm):
            seen.setdefault(node.op.signature(), node.op)
    return list(seen.values())


SMALL_CHECK_OPS = (Gemm(name="33x33x33", m=33, n=33, k=33), Gemm(name="7x100x64", m=7, n=100, k=64),
                   Gemm(name="gemv", m=1, n=4096, k=4096, a_bits=16, b_bits=16, c_bits=16),
                   Gemm(name="lora_a", m=512, n=8, k=4096, a_bits=16, b_bits=16, c_bits=16),
                   Gemm(name="lora_b.dw", m=8, n=4096, k=512, a_bits=16, b_bits=16, c_bits=16))


def top_mappings(arch: ArchSpec, op: Gemm, top: int = TOP) -> list[tuple[Mapping, float]]:
    """The analytic top `top` of the whole mapspace: fewest cycles, then least energy."""
    space = build_mapspace(arch, op)
    best: list[tuple[float, float, Mapping]] = []
    for maps in space.chunks(1 << 17):
        ca = evaluate(arch, op, maps)
        idx = np.flatnonzero(ca.feasible)
        if idx.size == 0:
            continue
        cyc, en = ca.total_cycles[idx], ca.energy_pj[idx]
        keep = idx[np.lexsort((en, cyc))[:top]]
        best += [(float(ca.total_cycles[i]), float(ca.energy_pj[i]), maps.mapping(int(i))) for i in keep]
    best.sort(key=lambda x: (x[0], x[1]))
    return [(mp, c) for c, _, mp in best[:top]]


def scheduler_check(archs: list[str], ops: list[Gemm]) -> tuple[list[tuple[str, Gemm, float, int]], float]:
    """Per (hardware, op): the simulated cycles of the analytic best over the best simulated of the analytic top 10,
    and the rank (in the analytic order) of that best simulated mapping. Returns the rows and the seconds taken."""
    t0 = time.perf_counter()
    rows = []
    for name in archs:
        arch = load_arch(name)
        for op in ops:
            top = top_mappings(arch, op)
            if not top:
                continue
            sims = [simulate(arch, op, mp, max_events=0).total_cycles for mp, _ in top]
            rows.append((name, op, sims[0] / min(sims), int(np.argmin(sims))))
    return rows, time.perf_counter() - t0


def report_scheduler(rows: list[tuple[str, Gemm, float, int]]) -> None:
    ratios = np.array([r[2] for r in rows])
    passed = ratios <= 1 + CHOICE_SLACK + 1e-12
    print(f"  ops: {len(rows)}; pass (analytic best simulates within {CHOICE_SLACK:.0%} of the best simulated of the "
          f"analytic top {TOP}): {passed.mean():.1%}; worst ratio {ratios.max():.4f}; "
          f"analytic best is the simulated best in {np.mean([r[3] == 0 for r in rows]):.1%}")
    for name, op, ratio, rank in sorted(rows, key=lambda r: -r[2])[:5]:
        print(f"    {ratio:.4f}  {name:<18} {op.name:<28} {describe_op(op):<22} simulated best at analytic rank {rank + 1}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer triples and scheduler-check ops")
    ap.add_argument("--triples", type=int, default=None, help="number of triples (default 1000; --quick 200)")
    args = ap.parse_args(argv)
    count = args.triples or (200 if args.quick else 1000)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, seed {SEED}")

    t0 = time.perf_counter()
    triples = draw_triples(count)
    t_draw = time.perf_counter() - t0
    print(f"\n== 1. the sample: {len(triples)} (GEMM, mapping, hardware) triples, seed {SEED} ({t_draw:.1f} s) ==")
    how = " ".join(__doc__.split("1. The sample")[1].split("2. Agreement")[0].split())
    print(textwrap.fill("drawn" + how.removeprefix("(seeded, deterministic; `draw_triples`):"), width=116,
                        initial_indent="  ", subsequent_indent="  "))
    archs = {t.hw for t in triples}
    print(f"  hardware drawn: {len(archs)} ({sum('[' not in a for a in archs)} shipped YAMLs, "
          f"{sum('[' in a for a in archs)} variants)")

    t0 = time.perf_counter()
    outcomes = compare(triples)
    t_cmp = time.perf_counter() - t0
    print(f"\n== 2. agreement: analytic vs simulated total cycles ({t_cmp:.1f} s) ==")
    report_agreement(outcomes)

    check_archs = ["edge_npu_16x16", "mobile_npu_32x32", "fp16_npu_32x32"] + ([] if args.quick else ["iot_npu_8x8"])
    ops = layer_ops() + list(SMALL_CHECK_OPS)
    if args.quick:
        ops = ops[::2]
    rows, t_sched = scheduler_check(check_archs, ops)
    print(f"\n== 3. scheduler check: analytic top {TOP} of the mapspace, simulated "
          f"({', '.join(check_archs)}; LLaMA-7B layer GEMMs at seq 512 and small ops) ({t_sched:.1f} s) ==")
    report_scheduler(rows)
    print(f"\n== wall time: sample {t_draw:.1f} s, agreement {t_cmp:.1f} s, scheduler check {t_sched:.1f} s ==")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
