"""Reports of `edgesim simulate --engine scalesim`: SCALE-Sim v3's per-layer figures as a table, CSV or JSON.

Units: cycles; DRAM traffic in words (SCALE-Sim's word is one byte); utilizations in percent. The CSV and JSON
columns, and the SCALE-Sim report columns (COMPUTE_REPORT.csv, DETAILED_ACCESS_REPORT.csv) they carry:
  total_cycles_incl_prefetch  "Total Cycles (incl. prefetch)": first fill read to the last output word drained
  total_cycles                "Total Cycles": last demand line plus stalls (no initial fill, no final drain)
  stall_cycles                "Stall Cycles"
  compute_cycles              "Total Cycles" - "Stall Cycles"
  overall_util_percent        "Overall Util %": M*N*K MACs / (total cycles x rows x cols)
  mapping_efficiency_percent  "Mapping Efficiency %"
  compute_util_percent        "Compute Util %"
  ifmap_dram_reads_words      "DRAM IFMAP Reads"
  filter_dram_reads_words     "DRAM Filter Reads"
  ofmap_dram_writes_words     "DRAM OFMAP Writes"
SCALE-Sim runs the layers one after another, each from empty SRAMs, so the totals are sums over layers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd

from edgesim.compat.scalesim_engine import BandwidthMode, ScaleSimArch, ScaleSimRun

WORD_UNITS = (("G words", 1e9), ("M words", 1e6), ("k words", 1e3))
TRAFFIC = ("ifmap_dram_reads_words", "filter_dram_reads_words", "ofmap_dram_writes_words")
CYCLES = ("total_cycles_incl_prefetch", "total_cycles", "stall_cycles", "compute_cycles")
COLUMNS = ("layer", "m", "n", "k", *CYCLES, "overall_util_percent", "mapping_efficiency_percent",
           "compute_util_percent", *TRAFFIC)


def overall_util_percent(arch: ScaleSimArch, macs: int, total_cycles: int) -> float:
    """SCALE-Sim's "Overall Util %": MACs / (total cycles x rows x cols), in percent (0 for zero cycles)."""
    return 100 * macs / (total_cycles * arch.rows * arch.cols) if total_cycles else 0.0


def layer_rows(arch: ScaleSimArch, runs: Sequence[ScaleSimRun]) -> list[dict[str, Any]]:
    """One flat row per layer, in run order."""
    return [{"layer": r.layer, "m": r.m, "n": r.n, "k": r.k, "total_cycles_incl_prefetch": r.span_cycles,
             "total_cycles": r.total_cycles, "stall_cycles": r.stall_cycles, "compute_cycles": r.compute_cycles,
             "overall_util_percent": overall_util_percent(arch, r.m * r.n * r.k, r.total_cycles),
             "mapping_efficiency_percent": r.mapping_efficiency, "compute_util_percent": r.compute_utilization,
             "ifmap_dram_reads_words": r.ifmap_dram_reads, "filter_dram_reads_words": r.filter_dram_reads,
             "ofmap_dram_writes_words": r.ofmap_dram_writes} for r in runs]


def totals(arch: ScaleSimArch, runs: Sequence[ScaleSimRun], workload: str) -> dict[str, Any]:
    """The run's identity and the sums over layers (cycles, words); utilization over all layers' cycles."""
    rows = layer_rows(arch, runs)
    sums = {key: sum(r[key] for r in rows) for key in (*CYCLES, *TRAFFIC)}
    macs = sum(r.m * r.n * r.k for r in runs)
    return {"engine": "scalesim", "workload": workload, "architecture": asdict(arch), "layers": len(runs), "macs": macs,
            **sums, "overall_util_percent": overall_util_percent(arch, macs, sums["total_cycles"])}


def describe(arch: ScaleSimArch) -> str:
    """The architecture in one line: array, SRAMs, dataflow, bandwidths and their mode."""
    if arch.bandwidth_mode == BandwidthMode.USER:
        bw = (f"USER bandwidth: DRAM reads ifmap {arch.ifmap_bw:,}, filter {arch.filter_bw:,}, "
              f"ofmap writes {arch.ofmap_bw:,} words/cycle")
    else:
        bw = f"CALC bandwidth: reads never stall, ofmap writes {arch.ofmap_bw:,} words/cycle"
    return (f"{arch.rows}x{arch.cols} array, SRAM ifmap/filter/ofmap {arch.ifmap_sram_kb:,}/{arch.filter_sram_kb:,}/"
            f"{arch.ofmap_sram_kb:,} kB, dataflow {arch.dataflow}, {bw}")


def to_json(arch: ScaleSimArch, runs: Sequence[ScaleSimRun], workload: str) -> str:
    return json.dumps({**totals(arch, runs, workload), "per_layer": layer_rows(arch, runs)}, indent=2)


def to_csv(arch: ScaleSimArch, runs: Sequence[ScaleSimRun], workload: str) -> str:
    return str(pd.DataFrame(layer_rows(arch, runs), columns=list(COLUMNS)).to_csv(index=False))


def _word_unit(values: Sequence[float]) -> tuple[str, float]:
    """The largest of G/M/k words that shows the largest of `values` as at least 1, else words."""
    top = max(values, default=0)
    return next(((unit, size) for unit, size in WORD_UNITS if top >= size), ("words", 1.0))


def _words(value: float, size: float) -> str:
    """`value` words in units of `size` words, never a nonzero value as zero: whole words, or thousands separators
    from 100, two decimals from 1, else 3 significant digits (fixed-point)."""
    v = value / size
    if size == 1 or v == 0 or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{max(2, 2 - math.floor(math.log10(abs(v))))}f}"


def _cells(r: dict[str, Any], unit: str, size: float) -> dict[str, str]:
    """A table row's figures; the TOTAL row (a `totals` dict) has no compute utilization."""
    compute = r.get("compute_util_percent")
    return {"total cyc": f"{r['total_cycles']:,}", "stall cyc": f"{r['stall_cycles']:,}",
            "span cyc": f"{r['total_cycles_incl_prefetch']:,}", "util %": f"{r['overall_util_percent']:.1f}",
            "compute util %": "" if compute is None else f"{compute:.1f}",
            f"ifmap rd {unit}": _words(r["ifmap_dram_reads_words"], size),
            f"filter rd {unit}": _words(r["filter_dram_reads_words"], size),
            f"ofmap wr {unit}": _words(r["ofmap_dram_writes_words"], size)}


def to_table(arch: ScaleSimArch, runs: Sequence[ScaleSimRun], workload: str) -> str:
    rows, total = layer_rows(arch, runs), totals(arch, runs, workload)
    unit, size = _word_unit([total[key] for key in TRAFFIC])
    table = [{"layer": r["layer"], "M": f"{r['m']:,}", "N": f"{r['n']:,}", "K": f"{r['k']:,}", **_cells(r, unit, size)}
             for r in rows]
    table.append({"layer": "TOTAL", "M": "", "N": "", "K": "", **_cells(total, unit, size)})
    head = [f"edgesim simulate: {workload} on {arch.name} ({describe(arch)}), engine: scalesim (SCALE-Sim v3's model)",
            ""]
    foot = ["", "total: SCALE-Sim's Total Cycles (last demand line + stalls; no initial fill, no final drain); "
                "span: its Total Cycles (incl. prefetch), first fill read to the last output word drained",
            "util: MACs / (total cycles x PEs) (SCALE-Sim's Overall Util %); compute util: SCALE-Sim's Compute Util % "
            "(mapped PEs busy, over folds)",
            "DRAM: words (1 word = 1 byte) read into the ifmap and filter SRAMs and written from the ofmap SRAM; "
            "TOTAL sums the layers, which SCALE-Sim runs one after another"]
    return "\n".join(head) + pd.DataFrame(table).to_string(index=False) + "\n" + "\n".join(foot)
