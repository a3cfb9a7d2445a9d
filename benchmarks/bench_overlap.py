"""Benchmark: step-level scheduling (edgesim.overlap) of LLaMA-7B tuning steps, the Edge-LLM step (all four phases of
the default trace, step-weighted) and vanilla LoRA's, on the default accelerator and a larger one with a 2 MiB buffer
(mobile_npu_32x32: 32x32 at 1 GHz, 51.2 GB/s LPDDR5, 2:4 sparsity only).

Run:  python benchmarks/bench_overlap.py [--hw NAME ...] [--budget DETERMINISTIC_SECONDS]
Per step it prints the makespan of serial execution (one op after another: today's figure), greedy list
scheduling and CP-SAT; the lower bound no schedule beats and CP-SAT's distance to it; the CP-SAT solver's own gap
(summed over its windows); the DRAM traffic CP-SAT keeps on chip; and each scheduler's wall time, cold (no window
solved before in the process). Then the tile-level replay (edgesim.overlap.replay) of the step (Edge-LLM: its last
phase) under each schedule, against the same ops replayed one after another. Mappings come from the CLI's default
mapper (auto, latency tolerance 0.02) with a fresh schedule cache; their search time is not in the scheduling time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edgesim.arch import ArchSpec
from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import TRACE_DIR, load_trace
from edgesim.evaluate import run_op
from edgesim.llm.model import ModelShape
from edgesim.llm.step import TuningSettings, expand_step
from edgesim.llm.trace import Trace
from edgesim.llm.tune import run_method
from edgesim.methods import Method, Phase
from edgesim.overlap.cpsat import clear_cache
from edgesim.overlap.graph import op_graph
from edgesim.overlap.greedy import serial
from edgesim.overlap.replay import replay
from edgesim.overlap.run import OverlapSettings, schedule
from edgesim.overlap.tasks import step_tasks
from edgesim.results import Engine, MethodResult
from edgesim.search.base import Searcher
from edgesim.search.factory import make_mapper
from edgesim.units import GIB


def _weighted(r: MethodResult, field: str) -> float:
    total = sum(w for _, w in r.steps)
    return sum(getattr(c.schedule, field) * w for c, w in r.steps if c.schedule is not None) / total


def _replay_check(arch: ArchSpec, model: ModelShape, trace: Trace, st: TuningSettings, method: Method,
                  searcher: Searcher, budget: float) -> None:
    """Replay the step (Edge-LLM: its last phase, the largest) at tile level (`edgesim.overlap.replay`, 256 chunks per
    op at most) under each schedule, against the same ops replayed one after another."""
    edge = method == Method.EDGE_LLM
    step = expand_step(arch, model, method, st, list(trace.policies) if edge else None,
                       trace.phases[-1] if edge else None)
    costs = [run_op(arch, n.op, Engine.ANALYTIC, max_events=0, searcher=searcher).cost for n in step.nodes]
    tasks = step_tasks(arch, step.nodes, costs)
    graph = op_graph(tasks)
    keys = [(n.layer, n.phase == Phase.FORWARD) for n in step.nodes]
    ser = serial(tasks).makespan
    for name in ("greedy", "cpsat"):
        s = schedule(arch, tasks, graph, keys, OverlapSettings(scheduler=name, deterministic_seconds=budget))
        t0 = time.perf_counter()
        r = replay(arch, tasks, graph, s, costs)
        print(f"    tile-level replay ({step.label}, {len(tasks):,} ops, {time.perf_counter() - t0:.1f} s): {name} "
              f"makespan/serial {r.makespan / r.serial:.4f} replayed vs {s.makespan / ser:.4f} scheduled; the replayed "
              f"serial step is {r.serial / ser:.3f}x the cost model's")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hw", nargs="+", default=["edge_npu_16x16", "mobile_npu_32x32"])
    ap.add_argument("--budget", type=float, default=OverlapSettings().deterministic_seconds,
                    help="CP-SAT's deterministic seconds per window (default: the CLI's)")
    args = ap.parse_args()
    model = load_model("llama7b")
    trace = load_trace(TRACE_DIR / "llama7b_edge_llm.json", model)
    with tempfile.TemporaryDirectory() as cache:
        for hw in args.hw:
            arch = load_arch(hw)
            st = TuningSettings(seq=trace.sequence_length, batch=trace.batch, base_bits=arch.mac.native_bits)
            print(f"\nLLaMA-7B on {arch.name} ({arch.pe_array.rows}x{arch.pe_array.cols} @ {arch.clock_mhz:g} MHz, "
                  f"{arch.global_buffer.capacity_bytes / 1024:g} KiB buffer, "
                  f"{arch.dram.bandwidth_bytes_per_cycle * arch.clock_mhz / 1e3:g} GB/s), seq {st.seq}, "
                  f"LoRA at {st.base_bits} bits, CP-SAT {args.budget:g} deterministic s per window")
            for method in (Method.EDGE_LLM, Method.LORA):
                searcher = make_mapper("auto", Path(cache), 0.02)  # the CLI's --mapper and --latency-tolerance
                res = {}
                for sched in ("greedy", "cpsat"):
                    clear_cache()
                    ov = OverlapSettings(scheduler=sched, deterministic_seconds=args.budget)
                    res[sched] = run_method(arch, model, method, st, trace, Engine.ANALYTIC, searcher, ov)
                g, c = res["greedy"], res["cpsat"]
                if c.infeasible_ops:  # its totals would leave ops out: no figure
                    print(f"  {method:<9} INCOMPLETE: {len(c.infeasible_ops)} op(s) cannot run on {arch.name} "
                          f"(e.g. {c.infeasible_ops[0].name}: {c.infeasible_ops[0].reason}); no figures")
                    continue
                clock = arch.clock_mhz * 1e6
                serial = _weighted(c, "serial_cycles") / clock
                bound = _weighted(c, "bound_cycles") / clock
                ser_bytes, cp_bytes = _weighted(c, "serial_dram_bytes"), _weighted(c, "dram_bytes")
                stats = {k: sum(s.schedule.stats[k] for s, _ in c.steps if s.schedule) for k in
                         ("windows", "optimal_windows", "repeated_windows", "hint_windows", "solver_gap_cycles")}
                gap = sum(s.schedule.stats["solver_gap_cycles"] * w for s, w in c.steps if s.schedule) / \
                    sum(w for _, w in c.steps) / clock
                ops = sum(s.ops for s, _ in c.steps)
                t_g = sum(s.schedule.seconds for s, _ in g.steps if s.schedule)
                t_c = sum(s.schedule.seconds for s, _ in c.steps if s.schedule)
                print(f"  {method:<9} {len(c.steps)} step graph(s), {ops:,} ops")
                print(f"    makespan: serial {serial:.3f} s, greedy {g.seconds:.3f} s ({1 - g.seconds / serial:.2%} less), "
                      f"CP-SAT {c.seconds:.3f} s ({1 - c.seconds / serial:.2%} less); lower bound {bound:.3f} s "
                      f"(CP-SAT {c.seconds / bound - 1:.2%} above it)")
                print(f"    CP-SAT solver: {stats['optimal_windows']:.0f} of {stats['windows']:.0f} windows proved optimal "
                      f"({stats['repeated_windows']:.0f} repeated, {stats['hint_windows']:.0f} kept their list-schedule "
                      f"hint), own gap {gap:.4f} s per step ({gap / c.seconds:.2%} of its makespan)")
                print(f"    DRAM traffic: serial {ser_bytes / GIB:.3f} GiB, CP-SAT keeps {(ser_bytes - cp_bytes) / 2**20:,.1f} "
                      f"MiB on chip ({1 - cp_bytes / ser_bytes:.2%})")
                print(f"    scheduling time (cold): greedy {t_g:.2f} s, CP-SAT {t_c:.1f} s")
                _replay_check(arch, model, trace, st, method, searcher, args.budget)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
