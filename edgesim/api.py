"""The public entry points, composed explicitly: map each op, evaluate, total up.

- `simulate_ops`: a list of ops (GEMMs and vector ops) on one accelerator, one after another.
- `tune`: one tuning step per method (`edgesim.llm.tune`), Edge-LLM's phases weighted by their steps.
- `infer`: prefill and decode with a tuned model, vanilla LoRA or Edge-LLM's voting exits.
- `schedule`: each GEMM's searched mapping beside the fixed-dataflow baselines.
- `schedule_nests`: each GEMM's searched loop nest (`edgesim.loopnest`) on the accelerator's hierarchy, costed by the
  loop-nest model (`edgesim.cost.nest`).

Two engines: `analytic` (the cost model: overlap assumed perfect within an op) and `sim` (the tile-level
pipeline simulator: stalls by cause and a timeline). Specs come in loaded (`edgesim.config`); results go out
as the types of `edgesim.results`, which `edgesim.report` formats.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from edgesim.arch import ArchSpec
from edgesim.cost.hierarchy import of_arch
from edgesim.cost.nest import NestCosts, evaluate_nest, supported
from edgesim.evaluate import run_op
from edgesim.hierarchy import Hierarchy, Interconnect
from edgesim.llm.inference import InferenceSettings, run_inference
from edgesim.llm.model import ModelShape
from edgesim.llm.rag import RagIndexing, RagResult, RagSettings, run_index, run_rag
from edgesim.llm.step import TuningSettings
from edgesim.llm.trace import Trace, check_against
from edgesim.llm.tune import run_method
from edgesim.mapping import DATAFLOWS, Dataflow, Mapping
from edgesim.methods import Method
from edgesim.nestsearch.auto import auto_search
from edgesim.nestsearch.cpsat import cpsat_search
from edgesim.nestsearch.genetic import genetic_search
from edgesim.nestsearch.random_search import random_search
from edgesim.nestsearch.result import NestResult
from edgesim.nestspace import NestSpace, Spatial, default_spatials
from edgesim.operands import operand_model
from edgesim.ops import Gemm, Op
from edgesim.overlap.run import SERIAL, OverlapSettings
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
         *, engine: Engine = Engine.ANALYTIC, searcher: Searcher | None = None,
         overlap: OverlapSettings = SERIAL) -> list[MethodResult]:
    """One tuning step per method; `trace` (required for edge-llm) gives Edge-LLM's per-layer policies and phases;
    `overlap` schedules each step's ops across the engines and DRAM (default: one after another)."""
    return [run_method(arch, model, m, settings, trace, engine, searcher, overlap) for m in methods]


def infer(arch: ArchSpec, model: ModelShape, settings: InferenceSettings, traces: Sequence[Trace | None],
          *, engine: Engine = Engine.ANALYTIC) -> list[InferenceResult]:
    """Inference per entry of `traces`: None is vanilla LoRA (merged, one exit), a trace is Edge-LLM with its exits."""
    for trace in traces:
        if trace is not None:
            check_against(trace, arch)
    return [run_inference(arch, model, settings, trace, engine) for trace in traces]


def infer_rag(arch: ArchSpec, model: ModelShape, encoder: ModelShape, settings: InferenceSettings, rag: RagSettings,
              *, engine: Engine = Engine.ANALYTIC) -> RagResult:
    """Retrieval-augmented generation with the untuned model: indexing once, then per query the retrieval and the
    generation with the retrieved chunks in the prompt (`edgesim.llm.rag`)."""
    return run_rag(arch, model, encoder, settings, rag, engine)


def index_rag(arch: ArchSpec, encoder: ModelShape, rag: RagSettings, *, engine: Engine = Engine.ANALYTIC) -> RagIndexing:
    """RAG's adaptation: embedding the corpus once (`edgesim.llm.rag.run_index`)."""
    return run_index(arch, encoder, rag, engine=engine)


def schedule(arch: ArchSpec, ops: Sequence[Gemm], searcher: Searcher) -> list[OpSchedule]:
    """Each op's searched mapping, with the fixed-dataflow baselines ("no scheduling") beside it."""
    baselines = {str(d): FixedSearcher(d) for d in DATAFLOWS}
    out = []
    for i, op in enumerate(ops):
        log.info("scheduling %s (%d of %d) with %s", op.name, i + 1, len(ops), searcher.name)
        out.append(OpSchedule(op=op, result=searcher.best(arch, op),
                              baselines={name: b.best(arch, op) for name, b in baselines.items()}))
    return out


# the loop-nest searchers (`edgesim.nestsearch`) by name, and the budget each takes when none is given: points
# (random search; auto's random phase) or trials (genetic); cpsat's budget is `deterministic_limit` alone
NEST_SEARCHERS = ("auto", "cpsat", "random", "genetic")
NEST_BUDGETS = {"auto": 20_000, "random": 20_000, "genetic": 5_000}


@dataclass(frozen=True, slots=True)
class NestSchedule:
    """One op's loop-nest search: `result` (None when the op was not searched) and, when the op is mapped, the nest's
    costs by the loop-nest model; `reason` is why the op is not mapped ("" when it is)."""

    op: Gemm
    result: NestResult | None
    reason: str
    costs: NestCosts | None = None

    @property
    def mapped(self) -> bool:
        return not self.reason and self.result is not None and self.result.nest is not None and self.costs is not None


def check_spatial(h: Hierarchy, spatial: Spatial) -> None:
    """ValueError unless `spatial` has one entry per array axis of `h`, each unrolling dims m, n, k by positive
    factors whose product fits the axis."""
    if len(spatial) != len(h.axes):
        raise ValueError(f"a spatial unrolling has one entry per array axis ({len(h.axes)}), got {len(spatial)}")
    for axis, unroll in zip(h.axes, spatial, strict=True):
        used = 1
        for d, f in unroll:
            if d not in "mnk" or f < 1:
                raise ValueError(f"axis {axis.name}: a spatial loop is (dim in 'mnk', factor >= 1), got ({d!r}, {f})")
            used *= f
        if used > axis.size:
            raise ValueError(f"axis {axis.name}: the unrolling uses {used} PEs, the axis has {axis.size}")


def schedule_nests(arch: ArchSpec, ops: Sequence[Gemm], *, searcher: str, deterministic_limit: float = 3.0,
                   budget: int | None = None, seed: int = 0, spatial: Spatial | None = None) -> list[NestSchedule]:
    """Each op's loop nest on `of_arch(arch)`, searched by `searcher` (one of `NEST_SEARCHERS`) over the spatial
    unrolling `spatial` (default: `default_spatials`, every one-dim-per-axis unrolling the memories can hold, or all
    of them if none can).

    Budgets: `deterministic_limit` (OR-Tools deterministic time per op: cpsat, and auto's CP-SAT phase); `budget`
    (points for random and auto's random phase, trials for genetic; default `NEST_BUDGETS`); `seed` for all.
    An op the loop-nest model cannot cost (`edgesim.cost.nest.supported`), or for which the search finds no feasible
    nest, is returned with `result` None or nest-less and its `reason`. ValueError for an unknown searcher, a bad
    `spatial`, or cpsat on a systolic array (the exact nest model covers broadcast arrays)."""
    if searcher not in NEST_SEARCHERS:
        raise ValueError(f"unknown loop-nest searcher {searcher!r}; expected one of {', '.join(NEST_SEARCHERS)}")
    h = of_arch(arch)
    if searcher == "cpsat" and h.interconnect != Interconnect.BROADCAST:
        raise ValueError(f"the exact loop-nest model (cpsat) covers broadcast arrays; {arch.name} is a {h.interconnect} "
                         "array: use auto (random search there), random or genetic")
    if spatial is not None:
        check_spatial(h, spatial)
    points = NEST_BUDGETS.get(searcher, 0) if budget is None else budget
    out = []
    for i, op in enumerate(ops):
        om = operand_model(arch, op)
        if reason := supported(om):
            out.append(NestSchedule(op, None, reason))
            continue
        space = NestSpace(h, op, om, (spatial,) if spatial is not None else tuple(default_spatials(h, op, om) or default_spatials(h, op)))
        log.info("searching %s's loop nest (%d of %d) with %s", op.name, i + 1, len(ops), searcher)
        try:
            if searcher == "auto":
                res = auto_search(space, points=points, deterministic_limit=deterministic_limit, seed=seed)
            elif searcher == "cpsat":
                res = cpsat_search(space, deterministic_limit=deterministic_limit, seed=seed)
            elif searcher == "random":
                res = random_search(space, budget=points, seed=seed)
            else:
                res = genetic_search(space, budget=points, seed=seed)
        except ValueError as exc:  # the exact model's limits (e.g. an operand width not a whole 1/8 byte)
            out.append(NestSchedule(op, None, f"{searcher}: {exc}"))
            continue
        if res.nest is None:
            out.append(NestSchedule(op, res, f"{res.searcher} found no feasible nest among the {res.evaluated:,} it "
                                              "scored (each overflows a memory or the array)"))
            continue
        out.append(NestSchedule(op, res, "", evaluate_nest(h, op, om, res.nest)))
    return out
