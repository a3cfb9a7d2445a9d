"""`edgesim simulate`: map every op of a workload (a GEMM list, one GEMM or one decoder layer) and report it."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from edgesim.api import simulate_ops
from edgesim.arch import ArchSpec
from edgesim.cli.args import (
    add_engine_arg,
    add_hw_args,
    add_infeasible_arg,
    add_output_args,
    bad,
    layer_model,
    refuse_infeasible,
    require_range,
)
from edgesim.config.builtin import DEFAULT_WORKLOAD
from edgesim.config.hardware import load_arch
from edgesim.config.mappings import load_mappings, match_mappings
from edgesim.config.workloads import MAX_BATCH, check_widths, load_gemm_workload, parse_gemm_arg
from edgesim.errors import Infeasible
from edgesim.llm.layers import LayerSettings, decoder_layer_forward
from edgesim.mapping import Dataflow
from edgesim.ops import Gemm, Op
from edgesim.report import simulation, timeline
from edgesim.results import Engine, SimulationResult

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    sim = sub.add_parser("simulate", help="run a GEMM workload on an accelerator and report cycles, energy, traffic")
    add_hw_args(sim)
    src = sim.add_mutually_exclusive_group()
    src.add_argument("--workload", metavar="FILE", help="GEMM list (.yaml or .csv); default: a LLaMA-7B LUC layer")
    src.add_argument("--gemm", metavar="M,N,K", help="a single (MxK)·(KxN) GEMM")
    src.add_argument("--layer", metavar="MODEL", help="one decoder layer's forward ops of a model in workloads/models/ "
                                                      "(e.g. llama7b) or a model YAML")
    sim.add_argument("--seq", type=int, help="sequence length for --layer (default 512, or the model's max_seq if smaller)")
    sim.add_argument("--batch", type=int, default=1, help="batch for --layer (default 1)")
    sim.add_argument("--lora-rank", type=int, default=0, help="LoRA rank on q_proj and v_proj for --layer (default 0)")
    sim.add_argument("--dataflow", choices=[d.value for d in Dataflow], help="fix the dataflow (default: best of all)")
    sim.add_argument("--mappings", metavar="FILE", help="use the mappings `edgesim schedule -o FILE` wrote for this "
                                                        "hardware (by op name, else signature); ops not in it get the "
                                                        "heuristic mapping and are named on stderr")
    sim.add_argument("--force", action="store_true", help="use --mappings even if scheduled for other hardware or ops")
    add_engine_arg(sim, default=None)
    sim.add_argument("--timeline", metavar="FILE", help="write the op/layer timeline (.png picture or .csv); implies --engine sim")
    add_infeasible_arg(sim)
    add_output_args(sim)


def _workload(args: argparse.Namespace, arch: ArchSpec) -> tuple[list[Op], str]:
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
    arch = load_arch(args.hw, args.overrides)
    ops, name = _workload(args, arch)
    engine = Engine(args.engine) if args.engine else (Engine.SIM if args.timeline else Engine.ANALYTIC)
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
