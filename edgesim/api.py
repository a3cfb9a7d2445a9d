"""The public entry points, composed explicitly: map each op, evaluate, total up.

- `simulate_ops`: a list of ops (GEMMs and vector ops) on one accelerator, one after another.
- `tune`: one tuning step per method (`edgesim.llm.tune`), Edge-LLM's phases weighted by their steps.
- `infer`: prefill and decode with a tuned model, vanilla LoRA or Edge-LLM's voting exits.
- `schedule`: each GEMM's searched mapping beside the fixed-dataflow baselines.

Two engines: `analytic` (the cost model: overlap assumed perfect within an op) and `sim` (the tile-level
pipeline simulator: stalls by cause and a timeline). Specs come in loaded (`edgesim.config`); results go out
as the types of `edgesim.results`, which `edgesim.report` formats.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from edgesim.arch import ArchSpec
from edgesim.evaluate import run_op
from edgesim.llm.inference import InferenceSettings, run_inference
from edgesim.llm.model import ModelShape
from edgesim.llm.step import TuningSettings
from edgesim.llm.trace import Trace, check_against
from edgesim.llm.tune import run_method
from edgesim.mapping import DATAFLOWS, Dataflow, Mapping
from edgesim.methods import Method
from edgesim.ops import Gemm, Op
from edgesim.results import Engine, InferenceResult, MethodResult, OpSchedule, SimulationResult
from edgesim.search.base import Searcher
from edgesim.search.fixed import FixedSearcher
from edgesim.search.heuristic import HeuristicSearcher

log = logging.getLogger(__name__)


def simulate_ops(arch: ArchSpec, ops: Sequence[Op], *, workload_name: str = "", dataflow: Dataflow | None = None,
                 engine: Engine = Engine.ANALYTIC, max_events: int = 2000,
                 mappings: dict[str, Mapping] | None = None) -> SimulationResult:
    """Evaluate every op in order. A GEMM takes its mapping from `mappings` (by op name, then by signature, as
    `config.mappings.match_mappings` gives them), else from the heuristic mapper (with `dataflow` fixed, if given)."""
    searcher = HeuristicSearcher(dataflow)

    def given(op: Op) -> Mapping | None:
        if mappings is None or not isinstance(op, Gemm):
            return None
        return mappings.get(op.name) or mappings.get(json.dumps(list(op.signature()), default=list))

    return SimulationResult(arch=arch, workload_name=workload_name, engine=engine,
                            results=tuple(run_op(arch, op, engine, max_events=max_events, searcher=searcher,
                                                 mapping=given(op)) for op in ops))


def simulate_gemms(arch: ArchSpec, ops: Sequence[Gemm], *, workload_name: str = "",
                   dataflow: Dataflow | None = None) -> SimulationResult:
    """The analytic cost of a GEMM list (for callers that only have GEMMs)."""
    return simulate_ops(arch, list(ops), workload_name=workload_name, dataflow=dataflow)


def tune(arch: ArchSpec, model: ModelShape, methods: Sequence[Method], settings: TuningSettings, trace: Trace | None,
         *, engine: Engine = Engine.ANALYTIC, searcher: Searcher | None = None) -> list[MethodResult]:
    """One tuning step per method; `trace` (required for edge-llm) gives Edge-LLM's per-layer policies and phases."""
    return [run_method(arch, model, m, settings, trace, engine, searcher) for m in methods]


def infer(arch: ArchSpec, model: ModelShape, settings: InferenceSettings, traces: Sequence[Trace | None],
          *, engine: Engine = Engine.ANALYTIC) -> list[InferenceResult]:
    """Inference per entry of `traces`: None is vanilla LoRA (merged, one exit), a trace is Edge-LLM with its exits."""
    for trace in traces:
        if trace is not None:
            check_against(trace, arch)
    return [run_inference(arch, model, settings, trace, engine) for trace in traces]


def schedule(arch: ArchSpec, ops: Sequence[Gemm], searcher: Searcher) -> list[OpSchedule]:
    """Each op's searched mapping, with the fixed-dataflow baselines ("no scheduling") beside it."""
    baselines = {str(d): FixedSearcher(d) for d in DATAFLOWS}
    out = []
    for i, op in enumerate(ops):
        log.info("scheduling %s (%d of %d) with %s", op.name, i + 1, len(ops), searcher.name)
        out.append(OpSchedule(op=op, result=searcher.best(arch, op),
                              baselines={name: b.best(arch, op) for name, b in baselines.items()}))
    return out
