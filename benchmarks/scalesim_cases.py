"""Generate a deterministic set of bandwidth-limited GEMM cases and store SCALE-Sim v3's results for them.

Run (from the repository root; needs the SCALE-Sim venv of benchmarks/scalesim_env.sh):

    .venv/bin/python benchmarks/scalesim_cases.py --set dev        # 120 cases, seed 16   -> benchmarks/data/scalesim_cases_dev.csv
    .venv/bin/python benchmarks/scalesim_cases.py --set holdout    # 40 cases, seed 1016  -> benchmarks/data/scalesim_cases_holdout.csv
    .venv/bin/python benchmarks/scalesim_cases.py --set dev --dry-run   # sample only: candidate statistics, no SCALE-Sim

How a set is built
------------------
The set has N *slots*. Each slot gets stratified attributes, drawn as balanced shuffled lists so that every value
occurs equally often and the attributes are independent of each other:

- dataflow (os / ws / is, thirds),
- PE array (ARRAYS: square, non-square and non-power-of-two shapes),
- bandwidth in words/cycle (BANDWIDTHS, 1..32); in a quarter of the slots the three ports get different values,
  one of them the slot's bandwidth,
- one operand (ifmap, filter or ofmap, balanced) gets the slot's SRAM size (SRAM_KB, 8..256 kB); the other two
  operands' SRAM sizes are drawn uniformly from SRAM_KB per candidate,
- the GEMM family: "llm" (M in LLM_M, N and K in LLM_NK) or "odd" (at least one dimension from ODD_DIMS).

A candidate for a slot draws the free attributes (shape, the other SRAM sizes, the other port bandwidths) until it
passes two cheap filters (up to MAX_DRAWS draws):

- cost: SCALE-Sim walks every demand-matrix row (cycle) and every demanded address in pure Python, so a candidate
  whose estimated demanded words (`demand_words`, all three operands, fold padding included) exceed MAX_WORDS, or
  whose estimated run time (`est_seconds`: ~65 us per cycle + ~4 us per word) exceeds MAX_SECONDS, is rejected;
- can it stall at all: if both input operands fit their SRAM's active half (SCALE-Sim's read buffers are double
  buffered, active fraction 0.5, 1-byte words) they are prefetched whole before cycle 0 and never stall; the output
  write buffer only stalls when its *whole* SRAM is full while a drain is in flight, so an output whose writes
  (partial sums included for ws/is) fit the SRAM never stalls. A candidate with both is rejected.

The candidates then run in SCALE-Sim (scalesim_runner.py, one subprocess per case, `--jobs` at a time, largest
first). A slot is filled by its first candidate with stall_cycles > 0; otherwise the slot draws its next candidate.
After RELAX_AFTER non-stalling candidates the slot's array and bandwidth are drawn freely too (its dataflow, SRAM
stratum and family stay). Candidate j of slot i is drawn from its own generator seeded by (seed, i, j), so the set
does not depend on which SCALE-Sim run finishes first.

CSV columns: case, family, m, n, k, rows, cols, dataflow, ifmap_bw, filter_bw, ofmap_bw, ifmap_sram_kb,
filter_sram_kb, ofmap_sram_kb, exceeds (operands that do not fit as above: the pre-run "regime"), est_words,
attempt (0-based index of the kept candidate in its slot), total_cycles, stall_cycles, total_cycles_incl_prefetch,
dram_ifmap_reads, dram_filter_reads, dram_ofmap_writes, seconds (SCALE-Sim's run_scale wall time).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import datetime
import json
import math
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SCALESIM_PY = Path(os.environ.get("SCALESIM_VENV", "/work/scalesim-venv")) / "bin" / "python"

SETS: dict[str, tuple[int, int]] = {"dev": (16, 120), "holdout": (1016, 40)}  # name -> (seed, number of cases)

DATAFLOWS = ("os", "ws", "is")
ARRAYS: tuple[tuple[int, int], ...] = ((8, 8), (16, 16), (32, 32), (8, 32), (32, 8), (16, 64), (64, 16), (4, 16), (12, 20),
                                       (24, 12))
SRAM_KB = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
BANDWIDTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
PER_PORT_FRACTION = 0.25
LLM_M = (64, 128, 256, 512)
LLM_NK = (64, 128, 256, 512, 768, 1024, 2048)
ODD_DIMS = (33, 47, 75, 100, 130, 190, 257, 300, 513, 700)
OPERANDS = ("ifmap", "filter", "ofmap")

MAX_WORDS = 4_000_000  # estimated demanded words per case
MAX_SECONDS = 12.0  # estimated SCALE-Sim seconds per case (`est_seconds`)
MAX_DRAWS = 5000  # draws per candidate before giving up on the slot's strata
RELAX_AFTER = 3  # non-stalling SCALE-Sim runs before a slot's array and bandwidth are drawn freely


@dataclass(frozen=True, slots=True)
class Slot:
    """The stratified attributes of one case of the set."""

    index: int
    dataflow: str
    array: tuple[int, int]
    bw: int
    per_port: bool
    sram_operand: int  # index into OPERANDS
    sram_kb: int
    family: str  # "llm" | "odd"


@dataclass(frozen=True, slots=True)
class Candidate:
    slot: int
    attempt: int
    family: str
    m: int
    n: int
    k: int
    rows: int
    cols: int
    dataflow: str
    bws: tuple[int, int, int]  # ifmap, filter, ofmap words/cycle
    sram_kb: tuple[int, int, int]  # ifmap, filter, ofmap

    def scalesim_input(self) -> dict[str, object]:
        (ib, fb, ob), (i, f, o) = self.bws, self.sram_kb
        return {"M": self.m, "N": self.n, "K": self.k, "rows": self.rows, "cols": self.cols, "dataflow": self.dataflow,
                "ifmap_bw": ib, "filter_bw": fb, "ofmap_bw": ob, "ifmap_sram_kb": i, "filter_sram_kb": f, "ofmap_sram_kb": o}

    def words(self) -> tuple[int, int, int]:
        return demand_words(self.m, self.n, self.k, self.rows, self.cols, self.dataflow)

    def est_words(self) -> int:
        return sum(self.words())

    def compute_cycles(self) -> int:
        return compute_cycles(self.m, self.n, self.k, self.rows, self.cols, self.dataflow)

    def est_seconds(self) -> float:
        return est_seconds(self.compute_cycles(), self.est_words())

    def exceeds(self) -> tuple[str, ...]:
        """The operands that can stall: inputs larger than their SRAM's active half, output writes larger than its SRAM."""
        i_kb, f_kb, o_kb = self.sram_kb
        out = []
        if self.m * self.k > i_kb * 512:
            out.append("ifmap")
        if self.k * self.n > f_kb * 512:
            out.append("filter")
        if self.words()[2] > o_kb * 1024:
            out.append("ofmap")
        return tuple(out)


def demand_words(m: int, n: int, k: int, rows: int, cols: int, dataflow: str) -> tuple[int, int, int]:
    """Words SCALE-Sim's demand matrices hold for ifmap, filter, ofmap (fold padding included).

    os: array rows x cols holds an M x N output tile, K streams; ws: K x N filter tile stationary, M streams;
    is: K x M ifmap tile stationary, N streams. ws and is write a partial sum per K fold.
    """
    fm, fn, fk = math.ceil(m / rows), math.ceil(n / cols), math.ceil(k / rows)
    if dataflow == "os":
        return fm * rows * k * fn, fn * cols * k * fm, m * n
    if dataflow == "ws":
        return m * fk * rows * fn, fk * rows * fn * cols, m * n * fk
    if dataflow == "is":
        fmc = math.ceil(m / cols)
        return fk * rows * fmc * cols, n * fk * rows * fmc, m * n * fk
    raise ValueError(dataflow)


def compute_cycles(m: int, n: int, k: int, rows: int, cols: int, dataflow: str) -> int:
    """SCALE-Sim's stall-free cycles ("Total Cycles" minus stalls): folds x (streamed dimension + fill/drain)."""
    if dataflow == "os":
        return math.ceil(m / rows) * math.ceil(n / cols) * (k + rows + cols - 2)
    if dataflow == "ws":
        return math.ceil(k / rows) * math.ceil(n / cols) * (m + 2 * rows + cols - 2)
    if dataflow == "is":
        return math.ceil(k / rows) * math.ceil(m / cols) * (n + 2 * rows + cols - 2)
    raise ValueError(dataflow)


def est_seconds(cycles: int, words: int) -> float:
    """SCALE-Sim 3.0.0's run time here: ~65 us per demand-matrix row (cycle; three tqdm-wrapped buffer calls each)
    plus ~4 us per demanded word (least squares over 15 runs, 2 in parallel on 2 cores; heavy stalls run ~30% over)."""
    return 65e-6 * cycles + 4e-6 * words


def balanced(rng: random.Random, values: Sequence[T], n: int) -> list[T]:
    """`n` items in which every value occurs floor(n/len) or ceil(n/len) times, shuffled."""
    reps = math.ceil(n / len(values))
    head = list(values) * (reps - 1)
    tail = list(values)
    rng.shuffle(tail)  # which values get the extra occurrences
    items = (head + tail)[:n]
    rng.shuffle(items)
    return items


def make_slots(seed: int, n: int) -> list[Slot]:
    rng = random.Random(f"scalesim-cases/slots/{seed}")
    dfs = balanced(rng, DATAFLOWS, n)
    arrays = balanced(rng, ARRAYS, n)
    bws = balanced(rng, BANDWIDTHS, n)
    n_pp = round(PER_PORT_FRACTION * n)
    per_port = balanced(rng, [True] * n_pp + [False] * (n - n_pp), n)
    ops = balanced(rng, (0, 1, 2), n)
    srams = balanced(rng, SRAM_KB, n)
    families = balanced(rng, ("llm", "odd"), n)
    return [Slot(index=i, dataflow=dfs[i], array=arrays[i], bw=bws[i], per_port=per_port[i], sram_operand=ops[i],
                 sram_kb=srams[i], family=families[i]) for i in range(n)]


def draw_shape(rng: random.Random, family: str) -> tuple[int, int, int]:
    if family == "llm":
        return rng.choice(LLM_M), rng.choice(LLM_NK), rng.choice(LLM_NK)
    pools = [ODD_DIMS, LLM_M + ODD_DIMS, LLM_NK + ODD_DIMS]  # M, N, K: odd values mixed with LLM-like ones
    while True:
        m, n, k = (rng.choice(p) for p in pools)
        if {m, n, k} & set(ODD_DIMS):
            return m, n, k


def draw_bws(rng: random.Random, bw: int, per_port: bool) -> tuple[int, int, int]:
    if not per_port:
        return bw, bw, bw
    while True:
        ports = [bw, rng.choice(BANDWIDTHS), rng.choice(BANDWIDTHS)]
        if len(set(ports)) > 1:
            rng.shuffle(ports)
            return ports[0], ports[1], ports[2]


def candidate(seed: int, slot: Slot, attempt: int) -> tuple[Candidate | None, int]:
    """Candidate `attempt` of `slot` (None if MAX_DRAWS draws all fail the filters) and the number of draws used."""
    rng = random.Random(f"scalesim-cases/{seed}/{slot.index}/{attempt}")
    relaxed = attempt >= RELAX_AFTER
    for draw in range(1, MAX_DRAWS + 1):
        rows, cols = rng.choice(ARRAYS) if relaxed else slot.array
        bw = rng.choice(BANDWIDTHS) if relaxed else slot.bw
        m, n, k = draw_shape(rng, slot.family)
        srams = [rng.choice(SRAM_KB) for _ in OPERANDS]
        srams[slot.sram_operand] = slot.sram_kb
        c = Candidate(slot=slot.index, attempt=attempt, family=slot.family, m=m, n=n, k=k, rows=rows, cols=cols,
                      dataflow=slot.dataflow, bws=draw_bws(rng, bw, slot.per_port), sram_kb=(srams[0], srams[1], srams[2]))
        if c.est_words() <= MAX_WORDS and c.est_seconds() <= MAX_SECONDS and c.exceeds():
            return c, draw
    return None, MAX_DRAWS


def run_one(c: Candidate) -> dict[str, object]:
    """SCALE-Sim on one candidate, in its own runner process."""
    p = subprocess.run([str(SCALESIM_PY), str(HERE / "scalesim_runner.py")], input=json.dumps([c.scalesim_input()]),
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"scalesim_runner.py exited with {p.returncode} on {c}: {p.stderr[-2000:]}")
    res: dict[str, object] = json.loads(p.stdout)[0]
    if "error" in res:
        raise RuntimeError(f"SCALE-Sim failed on {c}: {res['error']}")
    return res


RESULT_KEYS = ("total_cycles", "stall_cycles", "total_cycles_incl_prefetch", "dram_ifmap_reads", "dram_filter_reads",
               "dram_ofmap_writes")
COLUMNS = ("case", "family", "m", "n", "k", "rows", "cols", "dataflow", "ifmap_bw", "filter_bw", "ofmap_bw", "ifmap_sram_kb",
           "filter_sram_kb", "ofmap_sram_kb", "exceeds", "est_words", "attempt", *RESULT_KEYS, "seconds")


def row(c: Candidate, res: dict[str, object]) -> dict[str, object]:
    (ib, fb, ob), (i, f, o) = c.bws, c.sram_kb
    return {"case": c.slot, "family": c.family, "m": c.m, "n": c.n, "k": c.k, "rows": c.rows, "cols": c.cols,
            "dataflow": c.dataflow, "ifmap_bw": ib, "filter_bw": fb, "ofmap_bw": ob, "ifmap_sram_kb": i, "filter_sram_kb": f,
            "ofmap_sram_kb": o, "exceeds": "+".join(c.exceeds()), "est_words": c.est_words(), "attempt": c.attempt,
            **{key: int(str(res[key])) for key in RESULT_KEYS}, "seconds": round(float(str(res["seconds"])), 3)}


@dataclass
class Stats:
    runs: int = 0
    draws: int = 0
    run_seconds: float = 0.0  # SCALE-Sim run_scale time, summed over processes
    wasted_seconds: float = 0.0
    unfilled: int = 0


def build(seed: int, slots: list[Slot], jobs: int, max_attempts: int) -> tuple[list[dict[str, object]], Stats]:
    """Run candidates until every slot holds a stalling case (or runs out of attempts); rows in slot order."""
    st = Stats()
    kept: dict[int, dict[str, object]] = {}
    first = []
    for s in slots:
        c, d = candidate(seed, s, 0)
        st.draws += d
        if c is None:
            st.unfilled += 1
        else:
            first.append(c)
    first.sort(key=lambda c: -c.est_seconds())  # longest first: fewer idle processes at the end
    bar = tqdm(total=len(slots), desc="stalling cases", unit="case", file=sys.stderr, dynamic_ncols=True)
    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        pending = {ex.submit(run_one, c): c for c in first}
        while pending:
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                c = pending.pop(fut)
                res = fut.result()
                st.runs += 1
                secs = float(str(res["seconds"]))
                st.run_seconds += secs
                if int(str(res["stall_cycles"])) > 0:
                    kept[c.slot] = row(c, res)
                    bar.update(1)
                else:
                    st.wasted_seconds += secs
                    nxt: Candidate | None = None
                    if c.attempt + 1 < max_attempts:
                        nxt, d = candidate(seed, slots[c.slot], c.attempt + 1)
                        st.draws += d
                    if nxt is None:
                        st.unfilled += 1
                    else:
                        pending[ex.submit(run_one, nxt)] = nxt
                bar.set_postfix(runs=st.runs, wasted=st.runs - len(kept))
    bar.close()
    return [kept[i] for i in sorted(kept)], st


def write_csv(path: Path, rows: list[dict[str, object]], header: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        f.write(header + "\n")
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def scalesim_version() -> str:
    p = subprocess.run([str(SCALESIM_PY), "-c", "import importlib.metadata as m; print(m.version('scalesim'))"],
                       capture_output=True, text=True, check=True)
    return p.stdout.strip()


def sram_bucket(kb: int) -> str:
    return "8-16" if kb <= 16 else "24-48" if kb <= 48 else "64-96" if kb <= 96 else "128-256"


def bw_bucket(bw: int) -> str:
    return "1-2" if bw <= 2 else "3-4" if bw <= 4 else "6-8" if bw <= 8 else "12-16" if bw <= 16 else "24-32"


def coverage(rows: list[dict[str, object]]) -> str:
    """Counts per dataflow, array, SRAM and bandwidth bucket, family, regime; the stall fraction distribution."""
    def count(key: str, values: list[str]) -> str:
        c = Counter(values)
        return f"  {key:<22}" + "  ".join(f"{v}:{c[v]}" for v in sorted(c))

    def ints(key: str) -> list[int]:
        return [int(str(r[key])) for r in rows]

    order = ["8-16", "24-48", "64-96", "128-256"]
    bw_order = ["1-2", "3-4", "6-8", "12-16", "24-32"]
    lines = [f"{len(rows)} cases", count("dataflow", [str(r["dataflow"]) for r in rows]),
             count("array", [f"{r['rows']}x{r['cols']}" for r in rows]), count("family", [str(r["family"]) for r in rows])]
    for op in OPERANDS:
        c = Counter(sram_bucket(x) for x in ints(f"{op}_sram_kb"))
        lines.append(f"  {op + '_sram_kb bucket':<22}" + "  ".join(f"{b}:{c[b]}" for b in order))
    allkb = Counter(x for op in OPERANDS for x in ints(f"{op}_sram_kb"))
    lines.append(f"  {'sram_kb (all operands)':<22}" + "  ".join(f"{kb}:{allkb[kb]}" for kb in SRAM_KB))
    lines.append(f"  {'max sram >= 128 kB':<22}{sum(max(ints(f'{op}_sram_kb')[i] for op in OPERANDS) >= 128 for i in range(len(rows)))}")
    for op in OPERANDS:
        c = Counter(bw_bucket(x) for x in ints(f"{op}_bw"))
        lines.append(f"  {op + '_bw bucket':<22}" + "  ".join(f"{b}:{c[b]}" for b in bw_order))
    pp = sum(len({r["ifmap_bw"], r["filter_bw"], r["ofmap_bw"]}) > 1 for r in rows)
    lines.append(f"  {'per-port bandwidths':<22}{pp} ({100 * pp / max(1, len(rows)):.0f}%)")
    lines.append(count("exceeds (regime)", [str(r["exceeds"]) for r in rows]))
    fr = sorted(s / t for s, t in zip(ints("stall_cycles"), ints("total_cycles"), strict=True))
    edges = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
    hist = "  ".join(f"[{a:.2f},{b:.2f}):{sum(a <= x < b or (b == 1.0 and x == 1.0) for x in fr)}"
                     for a, b in zip(edges, edges[1:], strict=False))
    if fr:
        q = [fr[min(len(fr) - 1, int(p * len(fr)))] for p in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9)] + [fr[-1]]
        lines.append(f"  {'stall fraction':<22}min {q[0]:.3f}  p10 {q[1]:.3f}  p25 {q[2]:.3f}  median {q[3]:.3f}  "
                     f"p75 {q[4]:.3f}  p90 {q[5]:.3f}  max {q[6]:.3f}")
        lines.append(f"  {'stall fraction hist':<22}{hist}")
    return "\n".join(lines)


def dry_run(seed: int, slots: list[Slot]) -> None:
    """Sample the first candidate of every slot without SCALE-Sim: draws, estimated cost, regimes."""
    cs, draws = [], 0
    for s in slots:
        c, d = candidate(seed, s, 0)
        draws += d
        if c is not None:
            cs.append(c)
    w = sorted(c.est_words() for c in cs)
    t = sorted(c.est_seconds() for c in cs)
    print(f"{len(cs)}/{len(slots)} slots have a candidate; {draws} draws; est. words: median {w[len(w) // 2]:,}, "
          f"mean {sum(w) / len(w):,.0f}, max {w[-1]:,}; est. SCALE-Sim seconds: median {t[len(t) // 2]:.1f}, "
          f"max {t[-1]:.1f}, total {sum(t):.0f}")
    print(Counter("+".join(c.exceeds()) for c in cs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=sorted(SETS), required=True)
    ap.add_argument("--jobs", type=int, default=2, help="SCALE-Sim processes in parallel")
    ap.add_argument("--max-attempts", type=int, default=8, help="SCALE-Sim runs per slot before it is left empty")
    ap.add_argument("--out", type=Path, default=None, help="CSV path (default benchmarks/data/scalesim_cases_<set>.csv)")
    ap.add_argument("--dry-run", action="store_true", help="only sample candidates; no SCALE-Sim, no CSV")
    args = ap.parse_args()
    seed, n = SETS[args.set]
    slots = make_slots(seed, n)
    if args.dry_run:
        dry_run(seed, slots)
        return 0
    if not SCALESIM_PY.exists():
        print(f"{SCALESIM_PY} not found; run `bash benchmarks/scalesim_env.sh` first", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows, st = build(seed, slots, max(1, args.jobs), args.max_attempts)
    wall = time.perf_counter() - t0
    out = args.out or DATA / f"scalesim_cases_{args.set}.csv"
    cmd = "python benchmarks/scalesim_cases.py " + " ".join(sys.argv[1:])
    header = (f"# SCALE-Sim {scalesim_version()} bandwidth-limited GEMM cases; set={args.set} seed={seed} cases={len(rows)}; "
              f"date={datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d')}; command: {cmd}; "
              f"candidates run={st.runs} kept={len(rows)}; wall={wall:.0f}s")
    write_csv(out, rows, header)
    print(f"{args.set}: {len(rows)}/{n} cases kept from {st.runs} SCALE-Sim runs ({st.draws} candidate draws); "
          f"wall {wall:.1f} s; run_scale {st.run_seconds:.1f} s summed over {args.jobs} processes "
          f"({st.wasted_seconds:.1f} s on non-stalling runs); wrote {out}")
    print(coverage(rows))
    if st.unfilled:
        print(f"{st.unfilled} slot(s) left unfilled", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
