"""Align ZigZag with edgesim's loop-nest model on a faithful mirror of ZigZag's ``edge_tpu_like``.

Runs ZigZag (LOMA, latency objective) on its bundled ``edge_tpu_like`` with all 1024 MACs (spatial: D1 <- N 8,
D2 <- K 8, D3 <- M 4, D4 <- M 4) through ``zigzag_runner.py`` in the ZigZag venv, translates each chosen mapping,
loop for loop, into an edgesim ``LoopNest`` on ``hw_configs/edge_tpu_like.yaml`` (its ``array:`` and ``memories:``
mirror ZigZag's file), costs it with ``edgesim.cost.nest`` and compares latency and energy::

    python benchmarks/zigzag_align.py [--quick] [--no-search] [--zigzag-python /work/zigzag-venv/bin/python]

Then, on the same GEMMs and spatial unrolling, it searches edgesim's loop-nest mapspace for the fewest cycles with
each searcher given LOMA's own wall time (one core each): CP-SAT's exact model (every order and every allocation),
random search and the genetic algorithm (every order, LOMA's greedy allocation), and prints the best latency each
reaches (under edgesim's model, like LOMA's mapping beside them) and when it first reached it.

Translation (ZigZag layer O[d][k] += I[d][c] * W[c][k] with D = M, C = K, K = N; A = I, B = W, C = O; the runner
reports everything in GEMM terms):
- spatial: ZigZag's unrolling per array dimension D1..D4, as is;
- temporal: ZigZag's loop order, as is (innermost first);
- bounds: per operand, the number of loops at or below each of its memory levels (ZigZag's memory allocation);
- double buffering on: edgesim then double-buffers each memory below DRAM where two tiles fit, and otherwise gives
  its refills the window of the tile's top irrelevant loops, which is ZigZag's rule.

Nothing is lost in the translation. Where the two models still differ (docs/zigzag-alignment.md):
- ZigZag's latency adds its stall/slack and on/off-loading terms; edgesim takes the max of compute and each port's
  transfer cycles. ``ZZ DRAM bound`` is ZigZag's own DRAM traffic over its 8 B/cycle port: no schedule can beat it,
  and where ZigZag's latency is below it (``*``), the gap is ZigZag's, not a mistranslation;
- at rf_2B ZigZag counts the drains and refills of the output register in both directions; edgesim counts them as
  the accumulator's pipeline (0.01 pJ/B either way); partial-sum widths differ between levels (16 vs 8 bits).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgesim.config.hardware import load_arch
from edgesim.cost.hierarchy import of_arch
from edgesim.cost.nest import evaluate_nest
from edgesim.hierarchy import OPERANDS, Hierarchy, MemoryKind
from edgesim.loopnest import LoopNest
from edgesim.nestsearch.cpsat import cpsat_search
from edgesim.nestsearch.genetic import genetic_search
from edgesim.nestsearch.random_search import random_search
from edgesim.nestsearch.result import NestResult
from edgesim.nestspace import NestSpace
from edgesim.operands import operand_model
from edgesim.ops import Gemm

HERE = Path(__file__).resolve().parent
HW = "edge_tpu_like"
ZZ_SPATIAL = ((("n", 8),), (("k", 8),), (("m", 4),), (("m", 4),))  # the runner's "full" unrolling, in GEMM dims
# the six GEMMs of bench_scheduler.py's ZigZag section (same names and M, N, K)
GEMMS = [Gemm(name="fwd_T512_4096x4096", m=512, n=4096, k=4096), Gemm(name="loraA_T512_r8", m=512, n=8, k=4096),
         Gemm(name="loraB_T512_r8", m=512, n=4096, k=8), Gemm(name="fwd_T512_4096x11008", m=512, n=11008, k=4096),
         Gemm(name="odd_127x509x1021", m=127, n=509, k=1021), Gemm(name="dW_T256_4096x4096", m=4096, n=4096, k=256)]
TOLERANCE = 0.10


def translate(h: Hierarchy, zm: dict[str, Any]) -> LoopNest:
    """ZigZag's chosen mapping (the runner's neutral form) as a LoopNest on the mirror, loop for loop."""
    axes = [a.name for a in h.axes]
    unknown = set(zm["spatial"]) - set(axes)
    if unknown:
        raise ValueError(f"ZigZag unrolls array dimensions {sorted(unknown)} the mirror lacks ({axes})")
    spatial = tuple(tuple((d.lower(), int(f)) for d, f in zm["spatial"].get(a, {}).items() if f > 1) for a in axes)
    temporal = tuple((d.lower(), int(f)) for d, f in reversed(zm["loop_order"]))
    bounds = []
    for m in h.memories:
        row = []
        for t in OPERANDS:
            levels = zm["temporal"][t]
            names = [lv["level"] for lv in levels]
            if t not in m.operands:
                if m.name in names:
                    raise ValueError(f"ZigZag keeps {t} in {m.name}, which the mirror gives only {m.operands}")
                row.append(0)
            elif m.kind == MemoryKind.DRAM:
                row.append(len(temporal))
            else:
                i = names.index(m.name)
                row.append(sum(len(lv["loops"]) for lv in levels[:i + 1]))
        bounds.append((row[0], row[1], row[2]))
    return LoopNest(spatial=spatial, temporal=temporal, bounds=tuple(bounds), double_buffer=True)


def zigzag(python: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]] | str:
    """ZigZag's results for these cases (zigzag_runner.py in its venv), or why it failed."""
    proc = subprocess.run([python, str(HERE / "zigzag_runner.py")], input=json.dumps(cases), capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        return f"ZigZag exit {proc.returncode}: {proc.stderr[-2000:]}"
    out: list[dict[str, Any]] = json.loads(proc.stdout)["results"]
    return out


def run_zigzag(python: str, ops: list[Gemm]) -> list[dict[str, Any]]:
    out = zigzag(python, [{"M": op.m, "N": op.n, "K": op.k, "name": op.name, "spatial": "full"} for op in ops])
    if isinstance(out, str):
        sys.exit(f"ZigZag failed ({out})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zigzag-python", default="/work/zigzag-venv/bin/python")
    ap.add_argument("--quick", action="store_true", help="only the first three GEMMs")
    ap.add_argument("--no-search", action="store_true", help="skip the equal-wall-time search comparison")
    ap.add_argument("--breakdown", action="store_true", help="also print energy per memory and operand, both tools")
    ap.add_argument("--random-orders", type=int, default=8, metavar="N",
                    help="also align both models on N random loop orders per GEMM, ZigZag allocating them (default 8; "
                         "0 skips)")
    args = ap.parse_args()
    if not Path(args.zigzag_python).exists():
        sys.exit(f"{args.zigzag_python} missing; create it with: python -m venv /work/zigzag-venv && "
                 "/work/zigzag-venv/bin/pip install zigzag-dse six")
    arch = load_arch(HW)
    h = of_arch(arch)
    dram = h.memories[-1]
    ops = GEMMS[:3] if args.quick else GEMMS
    results = run_zigzag(args.zigzag_python, ops)
    print(f"ZigZag 3.9.1 (LOMA, latency) on its edge_tpu_like, 1024 MACs, vs edgesim's loop-nest model on "
          f"hw_configs/{HW}.yaml with ZigZag's own mapping, translated loop for loop. Energy in uJ.\n")
    hdr = (f"{'op':20s} | {'ZZ cycles':>11s} {'edgesim':>11s} {'ratio':>6s} | {'ZZ uJ':>9s} {'edgesim':>9s} "
           f"{'ratio':>6s} | {'ZZ DRAM bound':>13s} | {'ZZ s':>5s}")
    print(hdr)
    print("-" * len(hdr))
    notes: list[str] = []
    outside: list[str] = []
    loma: list[tuple[Gemm, dict[str, Any], float]] = []  # (op, ZigZag result, edgesim cycles of LOMA's mapping)
    for op, r in zip(ops, results, strict=True):
        if "error" in r or "mapping" not in r:
            print(f"{op.name:20s} | ZigZag error: {r.get('error') or r.get('mapping_error')}")
            outside.append(op.name)
            continue
        nest = translate(h, r["mapping"])
        c = evaluate_nest(h, op, operand_model(arch, op), nest)
        zz_dram = sum(v for v in r["mapping"]["dram_bytes"].values())
        bound = zz_dram / dram.read_bytes_per_cycle
        lat_ratio = float(c.total_cycles[0]) / r["latency_cycles"]
        loma.append((op, r, float(c.total_cycles[0])))
        e_ratio = float(c.energy_pj[0]) / r["energy_pj"]
        below = r["latency_cycles"] < bound
        print(f"{op.name:20s} | {r['latency_cycles']:11,.0f} {c.total_cycles[0]:11,.0f} {lat_ratio:6.3f} | "
              f"{r['energy_pj'] / 1e6:9,.1f} {c.energy_pj[0] / 1e6:9,.1f} {e_ratio:6.3f} | "
              f"{bound:12,.0f}{'*' if below else ' '} | {r['seconds']:5.2f}")
        if not c.feasible[0]:
            notes.append(f"{op.name}: the translated nest does not fit the mirror's memories (need "
                         + ", ".join(f"{m.name} {c.need_bytes[0, j]:,.0f} B" for j, m in enumerate(h.memories[:-1]))
                         + ")")
        if abs(lat_ratio - 1) > TOLERANCE or abs(e_ratio - 1) > TOLERANCE:
            why = ("ZigZag's latency is below its own DRAM traffic over its DRAM port" if below and lat_ratio > 1
                   else "not explained")
            outside.append(f"{op.name} ({why})")
        if args.breakdown:
            names = [m.name for m in h.memories]
            for t, operand in enumerate(OPERANDS):
                for lv in r["energy_breakdown"]["operands"][operand]:
                    j = names.index(lv["level"])
                    mem = h.memories[j]
                    mine = (c.read_bytes[0, j, t] * mem.read_pj_per_byte + c.write_bytes[0, j, t] * mem.write_pj_per_byte)
                    notes.append(f"{op.name}: {operand} at {mem.name:9s} ZigZag {lv['pj'] / 1e6:10.2f} uJ, "
                                 f"edgesim {mine / 1e6:10.2f} uJ")
        lat = r["latency"]
        notes.append(f"{op.name}: {nest.describe()}; ZigZag ideal {lat['ideal_temporal_cycle']:,.0f} + stall "
                     f"{lat['stall_slack_comb']:,.0f} + onload {lat['data_onloading_cycle']:,.0f} + offload "
                     f"{lat['data_offloading_cycle']:,.0f}; edgesim compute {c.compute_cycles[0]:,.0f}, ports "
                     + ", ".join(f"{m.name} {c.port_cycles[0, j]:,.0f}" for j, m in enumerate(h.memories)
                                 if c.port_cycles[0, j] > 0))
    print(f"\nZZ DRAM bound = ZigZag's own DRAM bytes / {dram.read_bytes_per_cycle:g} B per cycle; * = ZigZag's latency "
          "is below it.")
    print(f"Outside {TOLERANCE:.0%}: " + ("; ".join(outside) if outside else "none"))
    print()
    for n in notes:
        print(n)
    if args.random_orders > 0:
        random_alignment(arch, h, ops, args.random_orders, args.zigzag_python)
    if not args.no_search:
        compare_searchers(arch, h, loma, args.zigzag_python)


def random_alignment(arch: Any, h: Hierarchy, ops: list[Gemm], per_gemm: int, python: str) -> None:
    """Both models on mappings LOMA did not pick: random loop orders (seeded), given to ZigZag as fixed orderings;
    ZigZag allocates them, and edgesim costs the same nest (ZigZag's allocation, translated)."""
    rng = np.random.default_rng(0)
    cases, meta = [], []
    for op in ops:
        space = NestSpace(h, op, operand_model(arch, op), (ZZ_SPATIAL,))
        for _ in range(per_gemm):
            ns = space.decode(np.zeros(1, dtype=np.int64), rng.random((1, space.slots)), np.zeros(1, dtype=bool))
            cases.append({"M": op.m, "N": op.n, "K": op.k, "name": op.name, "spatial": "full",
                          "temporal_ordering": [[ZZ_DIM[d], f] for d, f in ns.nest(0, axes=len(h.axes)).temporal]})
            meta.append(op)
    results = zigzag(python, cases)
    if isinstance(results, str):
        print(f"\n(random-order alignment skipped: {results[-300:]})")
        return
    ratios: dict[str, list[tuple[float, float]]] = {}
    below: list[bool] = []
    dram = h.memories[-1]
    for op, z in zip(meta, results, strict=True):
        if "mapping" not in z or not z.get("temporal_ordering_used"):
            continue
        c = evaluate_nest(h, op, operand_model(arch, op), translate(h, z["mapping"]))
        ratios.setdefault(op.name, []).append((float(c.total_cycles[0]) / z["latency_cycles"],
                                               float(c.energy_pj[0]) / z["energy_pj"]))
        below.append(z["latency_cycles"] < sum(z["mapping"]["dram_bytes"].values()) / dram.read_bytes_per_cycle)
    print(f"\n== Both models on {per_gemm} random loop orders per GEMM (seed 0), ZigZag allocating them: edgesim / ZigZag")
    print(f"{'op':20s} | {'latency min':>11s} {'median':>7s} {'max':>6s} | {'energy min':>10s} {'median':>7s} {'max':>6s}")
    every = []
    for name, rs in ratios.items():
        lat, en = np.array([r[0] for r in rs]), np.array([r[1] for r in rs])
        every += rs
        print(f"{name:20s} | {lat.min():11.3f} {np.median(lat):7.3f} {lat.max():6.3f} | {en.min():10.3f} "
              f"{np.median(en):7.3f} {en.max():6.3f}")
    lat, en = np.array([r[0] for r in every]), np.array([r[1] for r in every])
    print(f"all {len(every)} mappings: latency within 10% on {np.mean(abs(lat - 1) <= TOLERANCE):.0%} "
          f"(median {np.median(lat):.3f}), energy within 10% on {np.mean(abs(en - 1) <= TOLERANCE):.0%} "
          f"(median {np.median(en):.3f})")
    off = abs(lat - 1) > TOLERANCE
    flagged = np.array(below)
    print(f"ZigZag's latency is below its own DRAM bytes over its DRAM port on {int(flagged.sum())} of them, "
          f"{int((off & flagged).sum())} of the {int(off.sum())} outside 10%; reasons in docs/zigzag-alignment.md")


def lower_bound(h: Hierarchy, op: Gemm, om: Any, spatial: tuple[tuple[tuple[str, int], ...], ...]) -> float:
    """No nest with this spatial unrolling beats its compute (padded iterations) nor the DRAM latency plus moving
    A, B and C (padded as the unrolling pads them) through DRAM once."""
    dram = h.memories[-1]
    unroll = {d: 1 for d in "mnk"}
    for axis in spatial:
        for d, f in axis:
            unroll[d] *= f
    pad = {d: -(-size // unroll[d]) * unroll[d] for d, size in (("m", op.m), ("n", op.n), ("k", op.k))}
    compute = pad["m"] * pad["n"] * pad["k"] / (unroll["m"] * unroll["n"] * unroll["k"])
    once = (pad["m"] * pad["k"] * om.a_bytes + pad["k"] * pad["n"] * om.b_bytes + pad["m"] * pad["n"] * om.c_bytes)
    return max(compute, dram.latency_cycles + once / dram.read_bytes_per_cycle)


ZZ_DIM = {"m": "D", "k": "C", "n": "K"}  # GEMM dims -> ZigZag's layer dims (O[d][k] += I[d][c] * W[c][k])


def compare_searchers(arch: Any, h: Hierarchy, loma: list[tuple[Gemm, dict[str, Any], float]], python: str) -> None:
    print("\n== Search on edgesim's loop-nest mapspace, each searcher given LOMA's wall time on one core "
          "(cycles under edgesim's model; 'at' = seconds to first reach that value, '<LOMA' = seconds to first beat LOMA's "
          "mapping)")
    print("   LOMA's space: orders of prime-factor loops x greedy allocation (its own search). CP-SAT: exact model over "
          "every order x every allocation. random / GA: every order x greedy allocation (edgesim.nestspace).")
    hdr = (f"{'op':20s} | {'space':>9s} | {'LOMA s':>6s} {'LOMA map':>11s} | {'CP-SAT':>11s} {'at':>5s} {'<LOMA':>5s} | "
           f"{'random':>11s} {'at':>5s} {'<LOMA':>5s} | {'GA':>11s} {'at':>5s} {'<LOMA':>5s} | {'bound':>11s} | "
           "best vs LOMA")
    print(hdr)
    print("-" * len(hdr))
    summary = []
    winners: list[tuple[Gemm, dict[str, Any], LoopNest, str]] = []
    for op, r, loma_cycles in loma:
        sp = tuple(tuple((d.lower(), int(f)) for d, f in r["mapping"]["spatial"].get(a.name, {}).items() if f > 1)
                   for a in h.axes)
        om = operand_model(arch, op)
        space = NestSpace(h, op, om, (sp,))
        budget = float(r["seconds"])
        runs: dict[str, NestResult] = {
            "cpsat": cpsat_search(space, deterministic_limit=None, seconds=budget),
            "random": random_search(space, budget=None, seconds=budget),
            "genetic": genetic_search(space, budget=None, seconds=budget),
        }
        bound = lower_bound(h, op, om, sp)
        best = min(x.cycles for x in runs.values())
        winner = min(runs.values(), key=lambda x: (x.cycles, x.seconds_to_best))
        gain = loma_cycles / best
        verdict = (f"{gain:.3f}x fewer cycles ({winner.searcher}, {winner.seconds_to_best:.2f} s)" if best < loma_cycles
                   else ("tie at the bound" if best <= bound else "tie") if best == loma_cycles
                   else f"LOMA better by {1 / gain:.3f}x")
        summary.append((op.name, best < loma_cycles, best == loma_cycles, best <= bound * 1.000001))
        if best < loma_cycles and winner.nest is not None:
            winners.append((op, r, winner.nest, winner.searcher))

        def cell(x: NestResult, loma_cycles: float = loma_cycles) -> str:
            under = next((t for t, v in x.trace if v < loma_cycles), None)
            return f"{x.cycles:11,.0f} {x.seconds_to_best:5.2f} {'-' if under is None else f'{under:.2f}':>5s}"

        print(f"{op.name:20s} | {space.size:9.2g} | {budget:6.2f} {loma_cycles:11,.0f} | {cell(runs['cpsat'])} | "
              f"{cell(runs['random'])} | {cell(runs['genetic'])} | {bound:11,.0f} | {verdict}")
    beat = [n for n, b, _, _ in summary if b]
    tie_at_bound = [n for n, b, t, at in summary if t and at]
    print(f"\nBeat LOMA in its own time: {len(beat)} of {len(summary)}"
          + (f"; tied at the lower bound (no mapping can do better): {', '.join(tie_at_bound)}" if tie_at_bound else ""))
    print("space = points of the greedy-allocation space (orders x double-buffering flag); CP-SAT's space also "
          "varies every bound, far larger.\nbound = max(padded iterations, DRAM latency + A, B and C (padded) through "
          "DRAM once / 8 B per cycle): no mapping with this spatial unrolling can beat it.")
    if winners:
        zigzag_check(python, winners)


def zigzag_check(python: str, winners: list[tuple[Gemm, dict[str, Any], LoopNest, str]]) -> None:
    """The winning nests' loop orders given to ZigZag as fixed temporal orderings: ZigZag allocates them to its
    memories itself and costs them with its own model, so the comparison with LOMA's pick is in ZigZag's terms."""
    cases = [{"M": op.m, "N": op.n, "K": op.k, "name": op.name, "spatial": "full",
              "temporal_ordering": [[ZZ_DIM[d], f] for d, f in nest.temporal]} for op, _, nest, _ in winners]
    results = zigzag(python, cases)
    if isinstance(results, str):
        print(f"\n(ZigZag check skipped: {results[-300:]})")
        return
    print("\n== The winning loop orders, costed by ZigZag itself (fixed temporal ordering; ZigZag allocates the loops "
          "to its memories and computes latency with its own model)")
    print(f"{'op':20s} | {'searcher':8s} | {'LOMA (ZigZag cycles)':>20s} | {'winner order (ZigZag cycles)':>28s} | "
          f"{'ratio':>6s} | used")
    for (op, r, _, who), z in zip(winners, results, strict=True):
        if "error" in z:
            print(f"{op.name:20s} | {who:8s} | ZigZag error: {z['error']}")
            continue
        print(f"{op.name:20s} | {who:8s} | {r['latency_cycles']:20,.0f} | {z['latency_cycles']:28,.0f} | "
              f"{z['latency_cycles'] / r['latency_cycles']:6.3f} | {z.get('temporal_ordering_used')}")


if __name__ == "__main__":
    main()
