"""Align ZigZag's chosen mappings with edgesim's cost model on a mirrored accelerator.

Runs ZigZag (LOMA, latency objective) on its bundled ``edge_tpu_like`` through ``zigzag_runner.py`` in the ZigZag
venv, translates each chosen mapping into the nearest edgesim ``Mapping`` on ``hw_configs/edge_tpu_like.yaml``
(the mirror of that accelerator), costs it with ``evaluate_one`` and compares with edgesim's exhaustive optimum::

    python benchmarks/zigzag_align.py [--zigzag-python /work/zigzag-venv/bin/python]

Translation (ZigZag layer O[d][k] += I[d][c] * W[c][k] with D = M, C = K, K = N; the runner reports it in GEMM terms):

- dataflow: edgesim's dataflows differ in which GEMM dim runs in time at the array (os: K, ws: M, is: N);
  ZigZag unrolls all three dims spatially (N 8, K 8, M 4), so the dataflow is taken from the dim of ZigZag's
  innermost temporal loop (the operand it keeps stationary at the PEs);
- tile: per dim, the spatial unrolling times the temporal loops below the innermost DRAM boundary over the
  operands (what every operand keeps on chip), clipped to the dim (ZigZag pads non-divisible dims);
- dram_order: the dims of the loops above that boundary, outermost first (first occurrence), then the others;
- double buffering on if the tile pair fits (ZigZag overlaps transfers with compute), else off.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from edgesim.config.hardware import load_arch
from edgesim.cost import evaluate_one
from edgesim.errors import Infeasible
from edgesim.mapping import Mapping
from edgesim.ops import Gemm
from edgesim.search.exhaustive import ExhaustiveSearcher

HERE = Path(__file__).resolve().parent
HW = "edge_tpu_like"
# the six GEMMs of bench_scheduler.py's ZigZag section (same names and M, N, K)
GEMMS = [Gemm(name="fwd_T512_4096x4096", m=512, n=4096, k=4096), Gemm(name="loraA_T512_r8", m=512, n=8, k=4096),
         Gemm(name="loraB_T512_r8", m=512, n=4096, k=8), Gemm(name="fwd_T512_4096x11008", m=512, n=11008, k=4096),
         Gemm(name="odd_127x509x1021", m=127, n=509, k=1021), Gemm(name="dW_T256_4096x4096", m=4096, n=4096, k=256)]
TIME_DIM_TO_DATAFLOW = {"K": "os", "M": "ws", "N": "is"}
SPATIAL_OF = {"os": "M rows x N cols", "ws": "K rows x N cols", "is": "K rows x M cols"}


def translate(op: Gemm, zm: dict) -> tuple[dict, list[str]]:
    """ZigZag's neutral mapping -> edgesim Mapping fields, plus the parts that could not be represented."""
    lost: list[str] = []
    spatial = {oa: u for oa, u in zm["spatial"].items() if any(f > 1 for f in u.values())}
    dims = sorted({d for u in spatial.values() for d in u})
    if len(dims) > 2 or any(len(u) > 1 for u in spatial.values()):
        lost.append("spatial " + " x ".join(f"{d}{f}" for u in spatial.values() for d, f in u.items())
                    + " on a 4-D array -> 2-D 16x16")
    inner = zm["loop_order"][-1][0] if zm["loop_order"] else "K"
    dataflow = TIME_DIM_TO_DATAFLOW[inner]
    size = {"M": op.m, "N": op.n, "K": op.k}
    tile = {d: min(size[d], int(zm["onchip_tile"][d])) for d in "MNK"}
    padded = [d for d in "MNK" if zm["onchip_tile"][d] > size[d] or
              any(f > 1 for x, f in zm["dram_loops"] if x == d) and size[d] % zm["onchip_tile"][d]]
    if padded:
        lost.append("padding of " + ",".join(padded) + " (ZigZag pads to loop products; edgesim tiles imperfectly)")
    order: list[str] = []
    runs = []
    for d, f in zm["dram_loops"]:
        if f > 1 and (not runs or runs[-1] != d):
            runs.append(d)
        if f > 1 and d not in order:
            order.append(d)
    if len(runs) > len(order):
        lost.append("DRAM loops " + ">".join(runs) + " interleave one dim twice (merged)")
    order += [d for d in "MNK" if d not in order]
    per_op = {o: [d for d, f in ls if f > 1] for o, ls in zm["dram_loops_per_operand"].items()}
    top = [d for d, f in zm["dram_loops"] if f > 1]
    differ = {o: ls for o, ls in per_op.items() if len(ls) < len(top)}
    if differ:
        lost.append("per-operand DRAM boundary (" + ", ".join(f"{o} keeps {len(top) - len(ls)} more loop(s) on chip"
                                                          for o, ls in sorted(differ.items())) + ")")
    return {"dataflow": dataflow, "tile_m": tile["M"], "tile_n": tile["N"], "tile_k": tile["K"],
            "dram_order": "".join(order).lower()}, lost


def cost(arch, op: Gemm, fields: dict):
    for db in (True, False):
        c = evaluate_one(arch, op, Mapping(**fields, double_buffer=db))
        if not isinstance(c, Infeasible):
            return c
    return c


def run_zigzag(python: str, ops: list[Gemm]) -> dict:
    cases = [{"M": op.m, "N": op.n, "K": op.k, "name": op.name} for op in ops]
    proc = subprocess.run([python, str(HERE / "zigzag_runner.py")], input=json.dumps(cases), capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"ZigZag failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zigzag-python", default="/work/zigzag-venv/bin/python")
    ap.add_argument("--quick", action="store_true", help="only the first three GEMMs")
    args = ap.parse_args()
    if not Path(args.zigzag_python).exists():
        sys.exit(f"{args.zigzag_python} missing; create it with: python -m venv /work/zigzag-venv && "
                 "/work/zigzag-venv/bin/pip install zigzag-dse six")
    arch = load_arch(HW)
    ops = GEMMS[:3] if args.quick else GEMMS
    data = run_zigzag(args.zigzag_python, ops)
    print(f"ZigZag (LOMA, latency) on its edge_tpu_like vs edgesim on hw_configs/{HW}.yaml ({arch.name}); "
          "energy in uJ, DRAM traffic in MB (1e6 B)")
    hdr = (f"{'op':20s} | {'ZZ cyc':>11s} {'ZZ uJ':>7s} {'ZZ MB':>6s} | {'ZZ mapping as edgesim Mapping':38s} "
           f"{'cycles':>11s} {'uJ':>7s} {'MB':>6s} | {'edgesim optimum':38s} {'cycles':>11s} {'uJ':>7s} {'MB':>6s}"
           f" | {'ZZmap/opt':>9s} {'ZZ/ZZmap':>8s}")
    print(hdr)
    print("-" * len(hdr))
    notes = []
    for op, r in zip(ops, data["results"], strict=True):
        if "error" in r or "mapping" not in r:
            print(f"{op.name:20s} | ZigZag error: {r.get('error') or r.get('mapping_error')}")
            continue
        zm = r["mapping"]
        fields, lost = translate(op, zm)
        c = cost(arch, op, fields)
        best = ExhaustiveSearcher().best(arch, op)
        zz_mb = sum(zm["dram_bytes"].values()) / 1e6
        zz = f"{r['latency_cycles']:11,.0f} {r['energy_pj'] / 1e6:7.1f} {zz_mb:6.2f}"
        if isinstance(c, Infeasible):
            mine = f"{'infeasible: ' + str(getattr(c, 'reason', c))[:26]:38s} {'-':>11s} {'-':>7s} {'-':>6s}"
            ratio, zr = float("nan"), float("nan")
        else:
            mine = (f"{c.mapping.describe():38s} {c.total_cycles:11,.0f} {c.energy_pj / 1e6:7.1f} "
                    f"{c.dram_bytes / 1e6:6.2f}")
        if isinstance(best, Infeasible):
            opt = f"{'infeasible':38s} {'-':>11s} {'-':>7s} {'-':>6s}"
            ratio = float("nan")
        else:
            b = best.cost
            opt = f"{b.mapping.describe():38s} {b.total_cycles:11,.0f} {b.energy_pj / 1e6:7.1f} {b.dram_bytes / 1e6:6.2f}"
            if not isinstance(c, Infeasible):
                ratio, zr = c.total_cycles / b.total_cycles, r["latency_cycles"] / c.total_cycles
        print(f"{op.name:20s} | {zz} | {mine} | {opt} | {ratio:9.2f} {zr:8.2f}")
        alt = {df: evaluate_one(arch, op, Mapping(**{**fields, "dataflow": df},
                                                  double_buffer=getattr(c, "mapping", None) is None
                                                  or c.mapping.double_buffer))
               for df in ("os", "ws", "is")}
        alt_s = ", ".join(f"{df} {a.total_cycles:,.0f}" if not isinstance(a, Infeasible) else f"{df} infeasible"
                          for df, a in alt.items())
        sp = " ".join(f"{oa}:" + ",".join(f"{d}{f}" for d, f in u.items()) for oa, u in zm["spatial"].items())
        dl = " ".join(f"{d}{f}" for d, f in zm["dram_loops"]) or "-"
        notes.append(f"{op.name}: ZigZag spatial {sp}; loops outermost first "
                     + " ".join(f"{d}{f}" for d, f in zm["loop_order"])
                     + f"; DRAM-level loops {dl}; on-chip tile {zm['onchip_tile']}; per-operand DRAM loops "
                     + json.dumps({o: ' '.join(f'{d}{f}' for d, f in ls) for o, ls in zm['dram_loops_per_operand'].items()})
                     + "; ZZ DRAM MB per operand " + json.dumps({o: round(v / 1e6, 3) for o, v in zm["dram_bytes"].items()})
                     + f"\n    -> edgesim {fields['dataflow']} ({SPATIAL_OF[fields['dataflow']]}); same tile+order under "
                     f"each dataflow: {alt_s}\n    not representable: " + ("; ".join(lost) or "nothing"))
    print("\nZZmap/opt = edgesim cycles of ZigZag's mapping / edgesim optimum; ZZ/ZZmap = ZigZag's own cycles / "
          "edgesim cycles of the same mapping (model disagreement on one mapping).")
    print("Always unrepresentable: ZigZag's 4-D array and 3-D unrolling (N, K and M all spatial, O reduced "
          "spatially over K), its per-operand memories (W in sram_32KB, I and O in sram_2MB; edgesim: one buffer "
          "priced at sram_2MB's pJ/B), separate read/write ports and min-bandwidth rounding, and its "
          "partial-overlap latency model (edgesim: double buffered or not).\n")
    for n in notes:
        print(n)


if __name__ == "__main__":
    main()
