"""`edgesim simulate`: map every op of a workload (a GEMM list, one GEMM, one decoder layer or a SCALE-Sim topology)
and report it; `--engine scalesim` runs SCALE-Sim v3's model instead, on a SCALE-Sim config or the edgesim hardware."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgesim.api import simulate_ops
from edgesim.arch import ArchSpec
from edgesim.cli.args import (
    add_hw_args,
    add_infeasible_arg,
    add_output_args,
    bad,
    layer_model,
    refuse_infeasible,
    require_range,
)
from edgesim.compat.scalesim_engine import BandwidthMode, ScaleSimArch, ScaleSimRun, run_conv, run_gemm
from edgesim.compat.scalesim_files import ScaleSimLayer, load_scalesim_config, load_scalesim_topology
from edgesim.config.builtin import DEFAULT_WORKLOAD
from edgesim.config.hardware import load_arch
from edgesim.config.mappings import load_mappings, match_mappings
from edgesim.config.workloads import MAX_BATCH, GemmWorkload, check_widths, load_gemm_workload, parse_gemm_arg
from edgesim.errors import ConfigError, Infeasible, Problem
from edgesim.llm.layers import LayerSettings, decoder_layer_forward
from edgesim.mapping import Dataflow
from edgesim.ops import Gemm, Op
from edgesim.report import scalesim, simulation, timeline
from edgesim.results import Engine, SimulationResult
from edgesim.units import KIB

log = logging.getLogger(__name__)

SCALESIM = "scalesim"  # `simulate`'s own engine, beside edgesim's (`Engine`, which the other commands share)
ENGINES = (*(e.value for e in Engine), SCALESIM)
SCALESIM_DATAFLOW = Dataflow.WS  # --engine scalesim without --scalesim-config or --dataflow
SCALESIM_WORD_BITS = 8  # SCALE-Sim's word is one byte


def add_parser(sub: Any) -> None:
    sim = sub.add_parser("simulate", help="run a GEMM workload on an accelerator and report cycles, energy, traffic")
    add_hw_args(sim)
    src = sim.add_mutually_exclusive_group()
    src.add_argument("--workload", metavar="FILE", help="GEMM list (.yaml or .csv); default: a LLaMA-7B LUC layer")
    src.add_argument("--gemm", metavar="M,N,K", help="a single (MxK)·(KxN) GEMM")
    src.add_argument("--layer", metavar="MODEL", help="one decoder layer's forward ops of a model in workloads/models/ "
                                                      "(e.g. llama7b) or a model YAML")
    src.add_argument("--topology", metavar="FILE.csv", help="a SCALE-Sim topology, its GEMM format ('Layer, M, N, K,') "
                                                            "or its conv format (a conv layer is SCALE-Sim's im2col "
                                                            "GEMM); 8-bit GEMMs on --engine analytic and sim")
    sim.add_argument("--seq", type=int, help="sequence length for --layer (default 512, or the model's max_seq if smaller)")
    sim.add_argument("--batch", type=int, default=1, help="batch for --layer (default 1)")
    sim.add_argument("--lora-rank", type=int, default=0, help="LoRA rank on q_proj and v_proj for --layer (default 0)")
    sim.add_argument("--dataflow", choices=[d.value for d in Dataflow],
                     help=f"fix the dataflow (default: best of all; {SCALESIM_DATAFLOW} with --engine scalesim)")
    sim.add_argument("--mappings", metavar="FILE", help="use the mappings `edgesim schedule -o FILE` wrote for this "
                                                        "hardware (by op name, else signature); ops not in it get the "
                                                        "heuristic mapping and are named on stderr")
    sim.add_argument("--force", action="store_true", help="use --mappings even if scheduled for other hardware or ops")
    sim.add_argument("--engine", choices=ENGINES, default=None,
                     help="analytic cost model (default), the tile-level simulator (stalls by cause), or scalesim: "
                          "SCALE-Sim v3's model, layer by layer (default with --scalesim-config)")
    sim.add_argument("--scalesim-config", metavar="FILE.cfg",
                     help="--engine scalesim: a SCALE-Sim architecture config (default: derived from the hardware, "
                          "--hw and --set: the PE array, the global buffer in three SRAMs, the DRAM bandwidth in three "
                          "ports)")
    sim.add_argument("--timeline", metavar="FILE", help="write the op/layer timeline (.png picture or .csv); implies --engine sim")
    add_infeasible_arg(sim)
    add_output_args(sim)


def _workload(args: argparse.Namespace, arch: ArchSpec) -> tuple[list[Op], str]:
    if args.topology is not None:
        layers = load_scalesim_topology(args.topology)
        return [Gemm(name=x.name, m=x.m, n=x.n, k=x.k) for x in layers], Path(args.topology).stem
    if args.gemm is not None:
        op = parse_gemm_arg(args.gemm)
        return [op], op.name
    if args.layer is not None:
        model = layer_model(args)
        require_range("--batch", args.batch, 1, MAX_BATCH)
        require_range("--lora-rank", args.lora_rank, 0, model.hidden, f"{model.name}'s hidden size")
        st = LayerSettings(seq=args.seq, batch=args.batch, lora_rank=args.lora_rank)
        return decoder_layer_forward(model, st), f"{model.name} decoder layer forward (seq {args.seq}, batch {args.batch})"
    wl = load_gemm_workload(args.workload or DEFAULT_WORKLOAD)
    check_widths(wl, arch)
    return list(wl.ops), wl.name


def run(args: argparse.Namespace) -> str:
    engine = args.engine or (SCALESIM if args.scalesim_config else Engine.SIM if args.timeline else Engine.ANALYTIC)
    if engine == SCALESIM:
        return _run_scalesim(args)
    if args.scalesim_config is not None:
        raise bad("--scalesim-config", f"goes with --engine scalesim, not --engine {engine}")
    return _run_edgesim(args, Engine(engine))


def _run_edgesim(args: argparse.Namespace, engine: Engine) -> str:
    arch = load_arch(args.hw, args.overrides)
    ops, name = _workload(args, arch)
    if args.timeline and engine != Engine.SIM:
        raise bad("--timeline", "needs --engine sim (the analytic model has no timeline)")
    mappings = None
    if args.mappings is not None:
        mappings, unmatched = match_mappings(load_mappings(args.mappings), arch, [op for op in ops if isinstance(op, Gemm)],
                                             force=args.force)
        if unmatched:
            more = f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
            log.warning("edgesim: warning: --mappings %s has no entry for %d GEMM(s) (%s%s): they get the heuristic "
                        "mapping", args.mappings, len(unmatched), ", ".join(unmatched[:5]), more)
    res = simulate_ops(arch, ops, workload_name=name, engine=engine,
                       dataflow=Dataflow(args.dataflow) if args.dataflow else None,
                       max_events=300 if len(ops) > 1 else 3000, mappings=mappings)
    refuse_infeasible(args, arch.name, [(name, len(res.results), [(r.op.name, r.cost.reason) for r in res.infeasible
                                                                  if isinstance(r.cost, Infeasible)])])
    if args.timeline:
        _write_timeline(res, args.timeline)
    return {"table": simulation.to_table, "csv": simulation.to_csv, "json": simulation.to_json}[args.format](res)


def _write_timeline(res: SimulationResult, path: str) -> None:
    if path.lower().endswith(".csv"):
        rows, _ = timeline.timeline_rows(res)
        Path(path).write_text(timeline.to_csv(rows), encoding="utf-8")
    elif path.lower().endswith(".png"):
        timeline.plot(res, path)
    else:
        raise bad(f"--timeline {path}", "expected a file name ending in .png or .csv")
    print(f"wrote {path}", file=sys.stderr)


def _run_scalesim(args: argparse.Namespace) -> str:
    """--engine scalesim: SCALE-Sim v3's model on every layer, one after another (identical shapes run once)."""
    for flag, value, why in (("--timeline", args.timeline, "needs --engine sim (--engine scalesim has no timeline)"),
                             ("--mappings", args.mappings, "goes with --engine analytic or sim (SCALE-Sim's mapping is "
                                                           "its dataflow's fixed fold order)"),
                             ("--layer", args.layer, "goes with --engine analytic or sim: SCALE-Sim runs unbatched "
                                                     "8-bit GEMMs, and a layer's attention is batched over heads; give "
                                                     "--engine scalesim --topology, --gemm or --workload")):
        if value is not None:
            raise bad(flag, why)
    layers, name = _scalesim_layers(args)
    arch = _scalesim_arch(args)
    done: dict[ScaleSimLayer, ScaleSimRun] = {}
    runs = []
    for layer in layers:
        shape = replace(layer, name="")  # the layer but its name: identical layers (e.g. a DP row's) run once
        if shape not in done:
            log.info("edgesim: scalesim: %s (%dx%dx%d)", layer.name, layer.m, layer.n, layer.k)
            done[shape] = _run_layer(arch, layer)
        runs.append(replace(done[shape], layer=layer.name))
    return {"table": scalesim.to_table, "csv": scalesim.to_csv, "json": scalesim.to_json}[args.format](arch, runs, name)


def _scalesim_arch(args: argparse.Namespace) -> ScaleSimArch:
    """The --scalesim-config file's architecture, else one derived from the edgesim hardware (named on stderr)."""
    if args.scalesim_config is not None:
        for flag, given in (("--hw", args.hw is not None), ("--set", bool(args.overrides)),
                            ("--dataflow", args.dataflow is not None)):
            if given:
                raise bad(flag, f"not with --scalesim-config: {args.scalesim_config} sets the architecture and dataflow")
        return load_scalesim_config(args.scalesim_config)
    hw = load_arch(args.hw, args.overrides)
    arch = scalesim_arch_of(hw, Dataflow(args.dataflow) if args.dataflow else SCALESIM_DATAFLOW)
    print(f"edgesim: --engine scalesim without --scalesim-config: derived from {hw.name}: {arch.rows}x{arch.cols} "
          f"array, SRAM ifmap/filter/ofmap {arch.ifmap_sram_kb:,} kB each (the {hw.global_buffer.capacity_bytes / KIB:g} "
          f"KiB global buffer in three), {arch.ifmap_bw:,} words/cycle per DRAM port (the "
          f"{hw.dram.bandwidth_bytes_per_cycle:g} B/cycle DRAM channel in three), dataflow {arch.dataflow}"
          f"{'' if args.dataflow else ' (default)'}, USER bandwidth", file=sys.stderr)
    return arch


def scalesim_arch_of(hw: ArchSpec, dataflow: Dataflow) -> ScaleSimArch:
    """SCALE-Sim's view of edgesim hardware: the PE array; the global buffer split in three equal SRAMs (whole kB,
    rounded down, at least 1); edgesim's one DRAM channel (bytes = words per cycle) split in three ports (rounded down,
    at least 1 word/cycle), at the user's bandwidth."""
    sram_kb = max(1, int(hw.global_buffer.capacity_bytes // (3 * KIB)))
    port_bw = max(1, int(hw.dram.bandwidth_bytes_per_cycle // 3))
    return ScaleSimArch(name=hw.name, rows=hw.pe_array.rows, cols=hw.pe_array.cols, ifmap_sram_kb=sram_kb,
                        filter_sram_kb=sram_kb, ofmap_sram_kb=sram_kb, dataflow=dataflow,
                        bandwidth_mode=BandwidthMode.USER, ifmap_bw=port_bw, filter_bw=port_bw, ofmap_bw=port_bw)


def _run_layer(arch: ScaleSimArch, layer: ScaleSimLayer) -> ScaleSimRun:
    """One layer on SCALE-Sim's model: a conv row with its im2col addresses (input words shared by windows), as
    SCALE-Sim runs it, else the GEMM."""
    c = layer.conv
    if c is None:
        return run_gemm(arch, layer.m, layer.n, layer.k, layer=layer.name)
    return run_conv(arch, c.ifmap_h, c.ifmap_w, c.filter_h, c.filter_w, c.channels, c.num_filters, c.stride, c.stride,
                    layer=layer.name)


def _scalesim_layers(args: argparse.Namespace) -> tuple[list[ScaleSimLayer], str]:
    """--topology's layers, else --gemm, else --workload's GEMMs; and the workload's name."""
    if args.topology is not None:
        return load_scalesim_topology(args.topology), Path(args.topology).stem
    if args.gemm is not None:
        op = parse_gemm_arg(args.gemm)
        return [ScaleSimLayer(name=op.name, m=op.m, n=op.n, k=op.k)], op.name
    if args.workload is not None:
        wl = load_gemm_workload(args.workload)
        _refuse_beyond_scalesim(wl)
        return [ScaleSimLayer(name=op.name, m=op.m, n=op.n, k=op.k) for op in wl.ops], wl.name
    raise bad("--engine scalesim", "needs the layers: give --topology FILE.csv (a SCALE-Sim topology), --gemm M,N,K "
                                   "or --workload FILE")


def _refuse_beyond_scalesim(wl: GemmWorkload) -> None:
    """SCALE-Sim runs unbatched, dense GEMMs of one-byte words: any other GEMM is an error naming it and the field."""
    problems = []
    for i, op in enumerate(wl.ops):
        fields = [(f, getattr(op, f)) for f in ("a_bits", "b_bits", "c_bits") if getattr(op, f) != SCALESIM_WORD_BITS]
        fields += [(f, getattr(op, f)) for f, plain in (("batch", 1), ("weight_density", 1.0)) if getattr(op, f) != plain]
        problems += [Problem(source=wl.source, path=f"gemms[{i}].{f}", message=(
            f"--engine scalesim runs unbatched, dense {SCALESIM_WORD_BITS}-bit GEMMs (SCALE-Sim's word is one byte); "
            f"{op.name} has {f} {v}")) for f, v in fields]
    if problems:
        raise ConfigError(problems)
