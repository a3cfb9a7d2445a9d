"""`--engine scalesim` against SCALE-Sim v3 itself, and on cases worked out by hand.

Goldens: tests/golden/scalesim_memory.csv (68 layers: GEMMs and convolutions, USER and CALC bandwidth modes, small
SRAMs) and tests/golden/scalesim_compute_cycles.csv (369 dense GEMMs, CALC mode, large SRAMs), both written by
SCALE-Sim 3.0.0 (their generators are beside them). The engine must give SCALE-Sim's figures exactly.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import edgesim.compat.scalesim_engine as engine
from edgesim.compat import scalesim_folds
from edgesim.compat.scalesim_engine import BandwidthMode, ScaleSimArch, ScaleSimRun, run_conv, run_gemm
from edgesim.errors import ConfigError
from edgesim.mapping import Dataflow

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _rows(name: str) -> list[dict[str, str]]:
    with (GOLDEN / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


MEMORY = _rows("scalesim_memory.csv")
COMPUTE = _rows("scalesim_compute_cycles.csv")


def _arch(r: dict[str, str]) -> ScaleSimArch:
    return ScaleSimArch(rows=int(r["rows"]), cols=int(r["cols"]), ifmap_sram_kb=int(r["ifmap_sram_kb"]),
                        filter_sram_kb=int(r["filter_sram_kb"]), ofmap_sram_kb=int(r["ofmap_sram_kb"]),
                        dataflow=Dataflow(r["dataflow"]), bandwidth_mode=BandwidthMode(r["mode"]),
                        ifmap_bw=int(r["ifmap_bw"]), filter_bw=int(r["filter_bw"]), ofmap_bw=int(r["ofmap_bw"]))


def _run(r: dict[str, str]) -> ScaleSimRun:
    arch = _arch(r)
    if r["kind"] == "gemm":  # SCALE-Sim's GEMM mode: ifmap M x K is a conv input of height M, width K
        return run_gemm(arch, int(r["ifmap_h"]), int(r["filters"]), int(r["ifmap_w"]))
    s = int(r["stride"])
    return run_conv(arch, int(r["ifmap_h"]), int(r["ifmap_w"]), int(r["filter_h"]), int(r["filter_w"]),
                    int(r["channels"]), int(r["filters"]), s, s)


def _figures(run: ScaleSimRun) -> tuple[int, ...]:
    return (run.span_cycles, run.total_cycles, run.stall_cycles, run.ifmap_dram_reads, run.filter_dram_reads,
            run.ofmap_dram_writes)


def _golden(r: dict[str, str]) -> tuple[int, ...]:
    return tuple(int(r[k]) for k in ("total_cycles_incl_prefetch", "total_cycles", "stall_cycles", "dram_ifmap_reads",
                                     "dram_filter_reads", "dram_ofmap_writes"))


@pytest.mark.parametrize("r", MEMORY, ids=lambda r: f"{r['kind']}-{r['mode']}-{r['dataflow']}-{r['rows']}x{r['cols']}")
def test_equals_scalesim(r: dict[str, str]) -> None:
    assert _figures(_run(r)) == _golden(r)


def test_the_goldens_exercise_the_memory_system() -> None:
    """The golden set is only a check if SCALE-Sim stalls, re-fetches and drains in it."""
    user = [r for r in MEMORY if r["mode"] == "USER"]
    assert sum(int(r["stall_cycles"]) > 0 for r in user) >= 30
    assert sum(r["kind"] == "conv" for r in MEMORY) >= 10
    refetched = [r for r in user if r["kind"] == "gemm" and int(r["dram_ifmap_reads"]) > 2 * int(r["ifmap_h"]) * int(r["ifmap_w"])]
    assert len(refetched) >= 5


def test_one_fold_per_batch_gives_the_same_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """State carried across fold batches (windows, estimate sets, the array's stalls) changes nothing."""
    whole = [_figures(_run(r)) for r in MEMORY[::4]]
    monkeypatch.setattr(engine, "batches", lambda plan: scalesim_folds.batches(plan, max_entries=1))
    assert [_figures(_run(r)) for r in MEMORY[::4]] == whole


@pytest.mark.parametrize("r", COMPUTE[::5], ids=lambda r: f"{r['M']}x{r['N']}x{r['K']}-{r['dataflow']}-{r['rows']}x{r['cols']}")
def test_calc_mode_cycles_equal_scalesim(r: dict[str, str]) -> None:
    arch = ScaleSimArch(rows=int(r["rows"]), cols=int(r["cols"]), ifmap_sram_kb=6144, filter_sram_kb=6144,
                        ofmap_sram_kb=2048, dataflow=Dataflow(r["dataflow"]), bandwidth_mode=BandwidthMode.CALC)
    run = run_gemm(arch, int(r["M"]), int(r["N"]), int(r["K"]))
    assert (run.total_cycles, run.stall_cycles) == (int(r["scalesim_total_cycles"]), int(r["scalesim_stall_cycles"]))


def test_output_stationary_on_one_pe_by_hand() -> None:
    """os on a 1x1 array, GEMM M=3, N=2, K=4; SRAMs of 1 kB (1024 words), 1 word/cycle per port.

    Folds: M*N = 6, each T + R + C - 2 = 4 lines; the one output word of a fold is written on its last line, so the
    lines are 0..23 and Total Cycles = 23 when nothing stalls.
    Reads: A (12 words) and B (8 words) fit their active halves (512 words): both are fetched before cycle 0,
    min(ceil(512 / 1), 12) = 12 and 8 one-word requests ending at cycle -1, so the span starts at -12. No miss.
    Writes: 6 words never fill half the ofmap SRAM, so nothing drains during the run; at cycle 23 the final drain
    moves the 6 one-word rows, ceil(512 / 1) rows at most per drain, one row per cycle from 23: the last ends at
    23 + 6 - 1 = 28 (write latency 0). Span = 28 - (-12) = 40.
    """
    arch = ScaleSimArch(rows=1, cols=1, ifmap_sram_kb=1, filter_sram_kb=1, ofmap_sram_kb=1, dataflow=Dataflow.OS,
                        ifmap_bw=1, filter_bw=1, ofmap_bw=1)
    run = run_gemm(arch, 3, 2, 4)
    assert (run.total_cycles, run.stall_cycles, run.span_cycles) == (23, 0, 40)
    assert (run.ifmap_dram_reads, run.filter_dram_reads, run.ofmap_dram_writes) == (12, 8, 6)


def test_a_streamed_operand_by_hand() -> None:
    """ws on a 1x1 array, GEMM M=2, N=1, K=600; ifmap SRAM 1 kB, everything else large; 4 words/cycle everywhere.

    The ifmap A (2 x 600) is fetched as its anti-diagonally unrolled prefetch matrix: folds are K-slices of one
    column, so the sequence is A[0,0], A[1,0], A[0,1], A[1,1], ... (1200 words). Sets of ceil(1024 / 100) = 11
    words: 1200 // 11 + 1 = 110 sets. The window holds ceil(512 / 11) = 47 sets and moves 47 at a time.
    The fold for k reads A[0,k], A[1,k] on its lines 1 and 2 (2R + C + T - 2 = 3 lines per fold, prefix R = 1):
    the array walks the sequence in order, 2 words per fold. A miss happens each time it leaves the window: at
    word 47 * 11 = 517 (A[1,258]) and at word 94 * 11 = 1034 (A[0,517]): 2 slides of ceil(512 / 4) = 128 requests.
    Fill: min(ceil(512 / 4), ceil(1200 / 4)) = 128 requests. Ifmap DRAM reads = (128 + 2 * 128) * 4 = 1536 words.
    Slide j completes at -1 + j * (128 + 1): 128 and 257. The first miss is on line 3 * 258 + 2 = 776 at cycle
    776 (no stall before), past 128: no wait; same for the second (line 3 * 517 + 1 = 1552 > 257). So the reads
    never stall, and Total Cycles is the last line, 600 folds * 3 lines - 1.
    """
    arch = ScaleSimArch(rows=1, cols=1, ifmap_sram_kb=1, filter_sram_kb=64, ofmap_sram_kb=64, dataflow=Dataflow.WS,
                        ifmap_bw=4, filter_bw=4, ofmap_bw=4)
    run = run_gemm(arch, 2, 1, 600)
    assert run.ifmap_dram_reads == 1536
    assert run.stall_cycles == 0
    assert run.total_cycles == 600 * 3 - 1


def test_a_layer_too_large_to_hold_is_refused_before_any_work() -> None:
    arch = ScaleSimArch(rows=16, cols=16, ifmap_sram_kb=64, filter_sram_kb=64, ofmap_sram_kb=64, dataflow=Dataflow.WS)
    with pytest.raises(ConfigError, match=r"layer big: ifmap: 4,294,967,296 words; --engine scalesim holds at most "
                                          r"268,435,456 words per operand matrix"):
        run_gemm(arch, 65536, 16, 65536, layer="big")
