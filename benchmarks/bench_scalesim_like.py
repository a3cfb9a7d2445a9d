"""Bandwidth-limited GEMM cycles: SCALE-Sim v3 against edgesim's tile simulator in a SCALE-Sim-like setting.

Run:  python benchmarks/bench_scalesim_like.py            (25 cases; needs benchmarks/scalesim_env.sh)
      python benchmarks/bench_scalesim_like.py --quick    (8 cases)
Prints the tables and error distributions recorded in benchmarks/RESULTS.md and explained in
docs/scalesim-comparison.md: how far edgesim's own tile model (not `--engine scalesim`, which reproduces
SCALE-Sim exactly: bench_scalesim_bandwidth.py) is from SCALE-Sim, and why.

Every case runs SCALE-Sim in USER bandwidth mode (`dram_bw` words/cycle on each operand's port) with
small SRAMs, and must stall (SCALE-Sim stall cycles > 0). edgesim runs `edgesim.compat.scalesim_like`
(one DRAM channel per operand at the same bandwidth, fold-sized tiles, latency 1).

What is compared (cycles, one word = one byte):
- primary: edgesim's total cycles against SCALE-Sim's span "total_cycles_incl_prefetch" (first DRAM
  read of the initial fill to the last output write drained). Both include every DRAM transfer.
- secondary: SCALE-Sim's "Total Cycles" (excludes the fill before cycle 0 and the final output drain)
  against edgesim's total minus its head (wait for the first tile's data) and tail (write-back after
  the last tile's compute).
- reference: the other edgesim loop order for ws/is (spill partial sums or not), and edgesim's default
  tiling-aware setting (heuristic mapping, one shared channel at the same bandwidth, the SRAMs' total
  as global buffer), both against the span.
The regime is "resident" when SCALE-Sim keeps the operand its fold order re-reads (A in os/ws, B in is)
whole in its active half-buffer, "streamed" otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edgesim.arch import ArchSpec
from edgesim.compat.scalesim_like import ScaleSimLike, scalesim_like
from edgesim.config.hardware import load_arch
from edgesim.errors import Infeasible
from edgesim.mapping import Dataflow
from edgesim.ops import Gemm
from edgesim.search.heuristic import heuristic_mapping
from edgesim.sim.pipeline import SimResult, simulate


def array(rows: int, cols: int) -> ArchSpec:
    """The default accelerator with a rows x cols PE array: the base of a SCALE-Sim-like configuration."""
    return load_arch(None, [f"pe_array.rows={rows}", f"pe_array.cols={cols}"])

HERE = Path(__file__).resolve().parent
SCALESIM_PY = Path(os.environ.get("SCALESIM_VENV", "/work/scalesim-venv")) / "bin" / "python"


@dataclass(frozen=True, slots=True)
class Case:
    m: int
    n: int
    k: int
    rows: int
    cols: int
    dataflow: str
    bw: int  # words (bytes) per cycle, per operand port
    sram_kb: tuple[int, int, int]  # ifmap, filter, ofmap

    def scalesim_input(self) -> dict[str, object]:
        i, f, o = self.sram_kb
        return {"M": self.m, "N": self.n, "K": self.k, "rows": self.rows, "cols": self.cols, "dataflow": self.dataflow,
                "dram_bw": self.bw, "ifmap_sram_kb": i, "filter_sram_kb": f, "ofmap_sram_kb": o}

    def label(self) -> str:
        return f"{self.m}x{self.n}x{self.k}"


CASES: tuple[Case, ...] = (
    # inputs fit SCALE-Sim's active halves (8 kB SRAMs), a 1 kB output SRAM: output-bound
    Case(64, 64, 32, 16, 16, "os", 1, (8, 8, 1)),
    Case(64, 64, 32, 16, 16, "os", 2, (8, 8, 1)),
    Case(64, 64, 32, 8, 16, "os", 2, (8, 8, 1)),
    Case(96, 64, 32, 16, 8, "os", 2, (8, 8, 1)),
    Case(128, 128, 32, 32, 32, "os", 8, (16, 16, 1)),
    Case(64, 64, 64, 16, 16, "ws", 2, (8, 8, 1)),
    Case(64, 64, 64, 16, 16, "ws", 8, (8, 8, 1)),
    Case(64, 64, 64, 8, 16, "ws", 2, (8, 8, 1)),
    Case(64, 32, 64, 8, 8, "ws", 4, (8, 8, 1)),
    Case(80, 64, 48, 16, 16, "is", 2, (8, 8, 1)),
    Case(64, 64, 64, 16, 8, "is", 4, (8, 8, 1)),
    # the re-read operand streams through SCALE-Sim's sliding window (1-2 kB SRAMs)
    Case(256, 64, 64, 8, 8, "ws", 1, (2, 2, 2)),
    Case(128, 32, 64, 8, 8, "ws", 2, (2, 2, 2)),
    Case(128, 64, 32, 8, 8, "ws", 8, (1, 1, 1)),
    Case(256, 32, 32, 8, 4, "ws", 2, (2, 2, 2)),
    Case(128, 48, 40, 8, 8, "ws", 4, (2, 2, 2)),
    Case(40, 160, 48, 8, 8, "is", 2, (2, 2, 2)),
    Case(64, 128, 32, 4, 8, "is", 8, (1, 1, 1)),
    Case(32, 256, 32, 8, 8, "is", 1, (2, 2, 2)),
    Case(128, 64, 64, 8, 8, "os", 2, (2, 8, 1)),
    Case(128, 64, 64, 8, 16, "os", 8, (2, 8, 1)),
    Case(128, 64, 64, 16, 16, "os", 2, (2, 8, 1)),
    Case(64, 64, 64, 16, 16, "ws", 4, (2, 2, 2)),
    Case(64, 64, 64, 16, 16, "os", 4, (1, 1, 1)),
    Case(64, 64, 64, 16, 16, "is", 1, (4, 4, 4)),
)
QUICK = (0, 5, 9, 11, 16, 19, 22, 23)  # indexes into CASES: each dataflow, both regimes


def run_scalesim(cases: list[Case], jobs: int) -> list[dict[str, object]]:
    """SCALE-Sim results in case order, `jobs` runner processes in parallel (cases dealt round-robin)."""
    chunks = [list(range(j, len(cases), jobs)) for j in range(jobs)]
    procs = [subprocess.Popen([str(SCALESIM_PY), str(HERE / "scalesim_runner.py")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in chunks]
    for p, idx in zip(procs, chunks, strict=True):  # all inputs first, so the processes run concurrently
        assert p.stdin is not None
        p.stdin.write(json.dumps([cases[i].scalesim_input() for i in idx]))
        p.stdin.close()
    outs = [_read_all(p) for p in procs]
    results: list[dict[str, object]] = [{} for _ in cases]
    for idx, out in zip(chunks, outs, strict=True):
        for i, res in zip(idx, json.loads(out), strict=True):
            if "error" in res:
                raise RuntimeError(f"SCALE-Sim failed on {cases[i]}: {res['error']}")
            results[i] = res
    return results


def _read_all(p: subprocess.Popen[str]) -> str:
    assert p.stdout is not None
    out = p.stdout.read()
    if p.wait() != 0:
        raise RuntimeError(f"scalesim_runner.py exited with {p.returncode}")
    return out


@dataclass(frozen=True, slots=True)
class ScaleSimResult:
    """The SCALE-Sim numbers used here (cycles; DRAM accesses in words)."""

    total: int  # "Total Cycles": demand lines + stalls, without the initial fill and the final drain
    stalls: int
    span: int  # first fill read to last output write: "total_cycles_incl_prefetch"
    words: tuple[int, int, int]  # DRAM ifmap reads, filter reads, ofmap writes
    seconds: float

    @staticmethod
    def of(res: dict[str, object]) -> ScaleSimResult:
        n = {k: int(str(res[k])) for k in ("total_cycles", "stall_cycles", "total_cycles_incl_prefetch",
                                             "dram_ifmap_reads", "dram_filter_reads", "dram_ofmap_writes")}
        return ScaleSimResult(total=n["total_cycles"], stalls=n["stall_cycles"], span=n["total_cycles_incl_prefetch"],
                              words=(n["dram_ifmap_reads"], n["dram_filter_reads"], n["dram_ofmap_writes"]),
                              seconds=float(str(res["seconds"])))


@dataclass(frozen=True, slots=True)
class Row:
    case: Case
    ss: ScaleSimResult
    cfg: ScaleSimLike
    es: SimResult
    traffic: dict[str, float]  # edgesim DRAM bytes: A, B, C_read, C_write
    err: float  # edgesim total vs SCALE-Sim span
    err_tc: float  # edgesim total - head - tail vs SCALE-Sim "Total Cycles"
    err_alt: float | None  # the other ws/is loop order vs span
    err_default: float | None  # edgesim's default tiling-aware setting vs span

    def busiest_port_cycles(self) -> tuple[float, float]:
        """Transfer time of the busiest DRAM port (words / bw): SCALE-Sim's counts, edgesim's."""
        tr = self.traffic
        return max(self.ss.words) / self.case.bw, max(tr["A"], tr["B"], tr["C_read"] + tr["C_write"]) / self.case.bw

    def traffic_ratio(self) -> float:
        ss, es = self.busiest_port_cycles()
        return ss / es


def like(case: Case, spill: bool | None = None) -> ScaleSimLike:
    i, f, o = case.sram_kb
    op = Gemm(name=case.label(), m=case.m, n=case.n, k=case.k)
    return scalesim_like(array(case.rows, case.cols), op, case.dataflow, bandwidth=case.bw, ifmap_sram_kb=i,
                         filter_sram_kb=f, ofmap_sram_kb=o, spill_partial_sums=spill)


def head_and_tail(r: SimResult) -> tuple[float, float]:
    """Cycles before the first tile's compute starts, and after the last tile's compute ends."""
    head = next(e.start for e in r.timeline if e.lane == "compute")
    last = r.timeline[-1]
    tail = last.end - last.start if last.lane == "stall" and last.end == r.total_cycles else 0.0
    return head, tail


def default_arch(case: Case) -> ArchSpec:
    """edgesim's default accelerator with the case's array, SRAM total as buffer, shared DRAM at `bw`, latency 1."""
    arch = load_arch(None, [f"pe_array.rows={case.rows}", f"pe_array.cols={case.cols}",
                            f"global_buffer.capacity_kib={sum(case.sram_kb)}"])
    return replace(arch, dram=replace(arch.dram, bandwidth_bytes_per_cycle=float(case.bw), latency_cycles=1))


def default_total(case: Case) -> float | None:
    arch = default_arch(case)
    op = Gemm(name=case.label(), m=case.m, n=case.n, k=case.k)
    mp = heuristic_mapping(arch, op, Dataflow(case.dataflow))
    return None if isinstance(mp, Infeasible) else simulate(arch, op, mp, max_events=1).total_cycles


def evaluate_case(case: Case, ss: ScaleSimResult) -> Row:
    cfg = like(case)
    r = cfg.simulate(max_events=4)
    head, tail = head_and_tail(r)
    alt = None if case.dataflow == "os" else like(case, spill=not cfg.spills).simulate(max_events=1).total_cycles
    dflt = default_total(case)
    return Row(case=case, ss=ss, cfg=cfg, es=r, traffic=cfg.dram_traffic(), err=_rel(r.total_cycles, ss.span),
               err_tc=_rel(r.total_cycles - head - tail, ss.total), err_alt=None if alt is None else _rel(alt, ss.span),
               err_default=None if dflt is None else _rel(dflt, ss.span))


def _rel(value: float, reference: float) -> float:
    return (value - reference) / reference


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+6.1f}%"


def print_cycles(rows: list[Row]) -> None:
    print(f"{'#':>2} {'GEMM MxNxK':<11}{'df':<3}{'array':>6}{'bw':>3} {'SRAM kB':<8}{'regime':<9}"
          f"{'SS total':>9}{'SS stall':>9}{'SS span':>9}{'es total':>9}{'es bw st':>9}{'es lat':>7}"
          f"{'err':>9}{'err TC':>9}{'alt':>9}{'default':>9}")
    for i, w in enumerate(rows):
        c, st = w.case, w.es.stall_cycles
        print(f"{i:>2} {c.label():<11}{c.dataflow:<3}{c.rows:>3}x{c.cols:<2}{c.bw:>3} {'/'.join(map(str, c.sram_kb)):<8}"
              f"{'resident' if w.cfg.resident else 'streamed':<9}{w.ss.total:>9}{w.ss.stalls:>9}{w.ss.span:>9}"
              f"{w.es.total_cycles:>9.0f}{st['dram_bandwidth']:>9.0f}{st['dram_latency']:>7.0f}{_pct(w.err):>9}"
              f"{_pct(w.err_tc):>9}{_pct(w.err_alt):>9}{_pct(w.err_default):>9}")


def print_traffic(rows: list[Row]) -> None:
    """DRAM words per operand in both models, and the busiest port's transfer time (words / bw)."""
    print(f"{'#':>2} {'df':<3}{'SS ifmap':>9}{'SS filt':>9}{'SS ofmap':>9}{'es A':>8}{'es B':>8}{'es C rd':>8}"
          f"{'es C wr':>8}{'SS busiest':>11}{'es busiest':>11}{'ratio':>7}{'es order':>9}")
    for i, w in enumerate(rows):
        tr, (ss_busy, es_busy) = w.traffic, w.busiest_port_cycles()
        order = "-" if w.case.dataflow == "os" else ("spill" if w.cfg.spills else "folds")
        print(f"{i:>2} {w.case.dataflow:<3}{w.ss.words[0]:>9}{w.ss.words[1]:>9}{w.ss.words[2]:>9}{tr['A']:>8.0f}"
              f"{tr['B']:>8.0f}{tr['C_read']:>8.0f}{tr['C_write']:>8.0f}{ss_busy:>11.0f}{es_busy:>11.0f}"
              f"{ss_busy / es_busy:>7.2f}{order:>9}")


def distribution(name: str, errors: list[float]) -> str:
    e = np.array(errors)
    a = np.abs(e)
    return (f"  {name:<38} n={len(a):>2}  median {100 * np.median(a):5.1f}%  mean {100 * a.mean():5.1f}%  "
            f"p90 {100 * np.percentile(a, 90):5.1f}%  max {100 * a.max():5.1f}%  (signed mean {100 * e.mean():+6.1f}%)")


def print_distributions(rows: list[Row]) -> None:
    def errs(pick: Callable[[Row], float | None], keep: Callable[[Row], bool] = lambda w: True) -> list[float]:
        return [x for w in rows if keep(w) and (x := pick(w)) is not None]

    streamed = [w for w in rows if not w.cfg.resident]
    print("|relative error| of total cycles:")
    print(distribution("SCALE-Sim-like vs SS span", errs(lambda w: w.err)))
    print(distribution("  resident regime", errs(lambda w: w.err, lambda w: w.cfg.resident)))
    print(distribution("    os (final outputs only)", errs(lambda w: w.err, lambda w: w.cfg.resident and not w.cfg.spills)))
    print(distribution("    ws, is (partial sums spilled)", errs(lambda w: w.err, lambda w: w.cfg.resident and w.cfg.spills)))
    print(distribution("  streamed regime", [w.err for w in streamed]))
    print(distribution("    SS busiest port <= 1.3x edgesim's", [w.err for w in streamed if w.traffic_ratio() <= 1.3]))
    print(distribution("    SS busiest port > 1.3x edgesim's", [w.err for w in streamed if w.traffic_ratio() > 1.3]))
    for df in ("os", "ws", "is"):
        print(distribution(f"  {df}", errs(lambda w: w.err, lambda w, d=df: w.case.dataflow == d)))  # type: ignore[misc]
    print(distribution("SCALE-Sim-like vs SS Total Cycles", errs(lambda w: w.err_tc)))
    print(distribution("other ws/is loop order vs SS span", errs(lambda w: w.err_alt)))
    print(distribution("default (tiling-aware) vs SS span", errs(lambda w: w.err_default)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"{len(QUICK)} cases instead of {len(CASES)}")
    ap.add_argument("--jobs", type=int, default=2, help="SCALE-Sim processes in parallel")
    args = ap.parse_args()
    if not SCALESIM_PY.exists():
        print(f"{SCALESIM_PY} not found; run `bash benchmarks/scalesim_env.sh` first", file=sys.stderr)
        return 2
    cases = [CASES[i] for i in QUICK] if args.quick else list(CASES)
    t0 = time.perf_counter()
    ss = [ScaleSimResult.of(res) for res in run_scalesim(cases, max(1, args.jobs))]
    t_ss = time.perf_counter() - t0
    rows = [evaluate_case(c, s) for c, s in zip(cases, ss, strict=True)]
    t_es = time.perf_counter() - t0 - t_ss
    print(f"{len(cases)} cases; SCALE-Sim {t_ss:.1f} s wall ({sum(s.seconds for s in ss):.1f} s in run_scale, "
          f"{args.jobs} processes); edgesim {t_es:.2f} s (incl. {len(cases)} heuristic mappings)\n")
    print_cycles(rows)
    print()
    print_traffic(rows)
    print()
    print_distributions(rows)
    unlimited = [i for i, s in enumerate(ss) if s.stalls <= 0]
    if unlimited:
        print(f"\nNOT bandwidth-limited in SCALE-Sim (0 stall cycles): cases {unlimited}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
