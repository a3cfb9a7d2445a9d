"""Sweep specs (`edgesim sweep run SPEC`): a base accelerator, hardware parameters to vary, constraints, workloads,
objectives and a sampler. Validated like the hardware YAML: every problem at once, each with file:line, field path,
value and what was expected.

    name: npu-for-edge-llm
    hardware: edge_npu_16x16                   # a name in hw_configs/, or a path (relative to the spec's folder)
    parameters:                                # hardware field paths (as in --set) -> values; none: the base alone
      pe_array.rows: [8, 16, 32]
      global_buffer.capacity_kib: {log_range: [128, 4096], num: 6}    # geometric; {range: [lo, hi], num} is linear
    constraints: ["pe_array.rows * pe_array.cols <= 2048", "area_mm2 <= 4"]
    workloads:
      - {kind: tune, model: llama7b, method: edge-llm, seq: 512}
      - {kind: infer, model: llama7b, prompt: 512, generate: 128}
      - {kind: tune, model: llama7b, method: lora, seq: 256, samples: 1000, epochs: 2}   # the whole adaptation
      - {kind: tune, model: llama7b, method: rag, seq: 256, samples: 1000}   # RAG's adaptation: indexing the corpus
      - {kind: infer, model: llama7b, method: rag, prompt: 128, top_k: 4}   # one RAG query (retrieval + generation)
    objectives: [latency_s, energy_j, area_mm2]
    sampler: {kind: grid}                      # random / latin-hypercube {n, seed}; nsga2 {trials, seed, population}
    mapper: auto                               # as `edgesim tune --mapper`; latency_tolerance as --latency-tolerance

Constraints are expressions over the resolved hardware's fields (YAML names and units) and the derived `area_mm2`
and `pes`; they are evaluated by `simpleeval` (names, arithmetic, comparisons, and/or/not; no calls, no Python
eval), and must give a boolean on the base accelerator. They filter points before anything runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import simpleeval

from edgesim.config import schema as s
from edgesim.config.builtin import display_path
from edgesim.config.hardware import HW_SCHEMA, load_hardware, resolve_hw_path
from edgesim.config.models import load_model
from edgesim.config.traces import default_trace_path, load_trace
from edgesim.config.yaml_source import LineDict, load_yaml
from edgesim.cost.area import area_mm2
from edgesim.errors import ConfigError, Problem
from edgesim.llm.step import compression_problem
from edgesim.methods import Method

# minimised unless listed in MAXIMISED
OBJECTIVES = ("latency_s", "energy_j", "area_mm2", "peak_memory_bytes", "dram_bytes", "edp", "tokens_per_s")
MAXIMISED = frozenset({"tokens_per_s"})
SAMPLERS = ("grid", "random", "latin-hypercube", "nsga2")
SWEEP_MAPPERS = ("auto", "exhaustive", "cpsat", "fixed-ws", "fixed-os", "fixed-is", "heuristic")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadSpec:
    """One workload every point runs: a tuning step (`tune`) or inference (`infer`) of a model."""

    kind: str
    model: str
    method: str = "edge-llm"  # tune: any Method or rag (its indexing); infer: lora, edge-llm or rag
    seq: int | None = None  # tune: default the trace's, else 512 (capped at the model's max_seq)
    batch: int | None = None
    base_bits: int | None = None  # vanilla methods: default the MAC's native width at each point
    lora_rank: int = 8
    trace: str | None = None  # default workloads/traces/<model>_edge_llm.json
    prompt: int = 512  # infer
    generate: int = 128  # infer
    samples: int | None = None  # tune: a corpus of this many samples (of seq tokens): the whole adaptation
    epochs: int = 1  # tune: passes over the corpus
    encoder: str = "minilm_l6"  # rag
    chunk_tokens: int = 128  # rag
    chunks: int | None = None  # rag: default the corpus split into chunks (tune with samples), else 10,000
    top_k: int = 4  # rag (infer)
    index: str = "flat"  # rag: flat or ivf
    weight_bits: int | None = None  # lora, partial, rag, infer lora: frozen base weights at this width (else base_bits)
    weight_sparsity: float = 0.0  # ... and this unstructured sparsity

    @property
    def label(self) -> str:
        corpus = (f" n{self.samples}" + (f"x{self.epochs}" if self.epochs != 1 else "")) if self.samples else ""
        method = self.method + self.compression_tag
        if self.kind == "infer":
            chunks = f" c{self.chunks}" if self.method == "rag" and self.chunks else ""
            return f"infer {self.model} {method} p{self.prompt}+g{self.generate}{chunks}"
        return f"tune {self.model} {method}" + (f" seq{self.seq}" if self.seq else "") + corpus

    @property
    def compression_tag(self) -> str:
        """"" when uncompressed, else e.g. " w4 s50%" (the frozen base's weight width and sparsity)."""
        bits = f" w{self.weight_bits}" if self.weight_bits is not None else ""
        return bits + (f" s{self.weight_sparsity:.0%}" if self.weight_sparsity else "")

    def key(self) -> dict[str, Any]:
        """Every field that changes the result (for point ids); the fields added for RAG and corpora only when they
        differ from their defaults, so that the workloads of older specs keep their point ids."""
        d = asdict(self)
        for name, default in _ADDED_DEFAULTS.items():
            if d[name] == default:
                d.pop(name)
        return d


_ADDED_DEFAULTS: dict[str, Any] = {"samples": None, "epochs": 1, "encoder": "minilm_l6", "chunk_tokens": 128,
                                   "chunks": None, "top_k": 4, "index": "flat", "weight_bits": None,
                                   "weight_sparsity": 0.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class SamplerSpec:
    kind: str
    n: int | None = None  # random, latin-hypercube: points drawn
    trials: int | None = None  # nsga2: points evaluated in all
    population: int = 20  # nsga2: points per generation
    seed: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    name: str
    source: str
    hardware: str  # the resolved base accelerator file (what the workers load)
    hardware_fingerprint: str  # of the base accelerator: a moved checkout still resumes; an edited file does not
    parameters: tuple[tuple[str, tuple[Any, ...]], ...]  # (field path, values) in spec order
    constraints: tuple[str, ...]
    workloads: tuple[WorkloadSpec, ...]
    objectives: tuple[str, ...]
    sampler: SamplerSpec
    mapper: str = "auto"
    latency_tolerance: float = 0.02

    def to_json(self) -> str:
        """The spec as stored with the results: the base accelerator by file name and fingerprint, not by path."""
        d = asdict(self)
        d.pop("source")
        d["hardware"] = Path(self.hardware).name
        d["workloads"] = [w.key() for w in self.workloads]  # a spec written before RAG's fields stores as it did
        return json.dumps(d, sort_keys=True, default=list)


def constraint_names(fields: dict[str, Any], area: float) -> dict[str, Any]:
    """The names a constraint may use: each hardware section as a namespace of its fields, plus derived metrics."""
    names: dict[str, Any] = {}
    for key, value in fields.items():
        names[key] = SimpleNamespace(**value) if isinstance(value, dict) else value
    names["area_mm2"] = area
    names["pes"] = fields["pe_array"]["rows"] * fields["pe_array"]["cols"]
    return names


def check_constraint(expr: str, names: dict[str, Any]) -> bool:
    """Evaluate one constraint safely (simpleeval); raise ValueError saying what is wrong with it."""
    try:
        out = simpleeval.SimpleEval(names=names, functions={}).eval(expr)
    except (simpleeval.InvalidExpression, SyntaxError, TypeError, ZeroDivisionError) as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(out, bool):
        raise ValueError(f"expected a comparison giving true or false, got {out!r}")
    return out


def _list_of(kind: type) -> s.Checker:
    return lambda v: (isinstance(v, list) and all(isinstance(x, kind) for x in v), v)


def _is_mapping(v: Any) -> tuple[bool, Any]:
    return isinstance(v, dict), v


def _tolerance(v: Any) -> tuple[bool, Any]:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1
    return ok, float(v) if ok else v


SPEC_SCHEMA: s.Schema = {
    "name": s.Field(s.string(), "a non-empty string"),
    "description": s.Field(s.string(), "a string", required=False, default=""),
    "hardware": s.Field(s.string(), "a name in hw_configs/ or a path to a hardware YAML"),
    "parameters": s.Field(_is_mapping, "a mapping {hardware field path: values}", required=False, default={}),
    "constraints": s.Field(_list_of(str), "a list of expressions (strings)", required=False, default=[]),
    "workloads": s.Field(_list_of(dict), "a list of workloads, e.g. [{kind: tune, model: llama7b}]"),
    "objectives": s.Field(_list_of(str), f"a list of objectives from {', '.join(OBJECTIVES)}"),
    "sampler": s.Field(_is_mapping, f"a mapping with kind one of {', '.join(SAMPLERS)}", required=False,
                       default={"kind": "grid"}),
    "mapper": s.Field(s.one_of(*SWEEP_MAPPERS), f"one of {', '.join(SWEEP_MAPPERS)}", required=False, default="auto"),
    "latency_tolerance": s.Field(_tolerance, "a fraction in [0, 1)", required=False, default=0.02),
}

_POS = "a positive integer"
_RAG_FIELDS: dict[str, s.Field] = {
    "encoder": s.Field(s.string(), "an embedding model in workloads/models/ or a model YAML", required=False,
                       default="minilm_l6"),
    "chunk_tokens": s.Field(s.positive_int(), _POS, required=False, default=128),
    "chunks": s.Field(s.positive_int(), _POS, required=False, default=None),
    "index": s.Field(s.one_of("flat", "ivf"), "flat or ivf", required=False, default="flat"),
}
_COMPRESSION_FIELDS: dict[str, s.Field] = {
    "weight_bits": s.positive(64, "bits", integer=True, required=False),
    "weight_sparsity": s.Field(s.nonneg_float(0.99), "a fraction in [0, 0.99]", required=False, default=0.0),
}
TUNE_SCHEMA: s.Schema = {
    "kind": s.Field(s.one_of("tune"), "tune"),
    "model": s.Field(s.string(), "a model name in workloads/models/ or a model YAML"),
    "method": s.Field(s.one_of(*Method, "rag"), f"one of {', '.join([*Method, 'rag'])}", required=False,
                      default="edge-llm"),
    "seq": s.Field(s.positive_int(), _POS, required=False, default=None),
    "batch": s.Field(s.positive_int(), _POS, required=False, default=None),
    "base_bits": s.positive(64, "bits", integer=True, required=False),
    "lora_rank": s.Field(s.positive_int(), _POS, required=False, default=8),
    "trace": s.Field(s.string(), "a trace path", required=False, default=None),
    "samples": s.Field(s.positive_int(), _POS + " (corpus samples)", required=False, default=None),
    "epochs": s.Field(s.positive_int(), _POS, required=False, default=1),
    **_RAG_FIELDS,
    **_COMPRESSION_FIELDS,
}
INFER_SCHEMA: s.Schema = {
    "kind": s.Field(s.one_of("infer"), "infer"),
    "model": s.Field(s.string(), "a model name in workloads/models/ or a model YAML"),
    "method": s.Field(s.one_of("lora", "edge-llm", "rag"), "lora, edge-llm or rag", required=False,
                      default="edge-llm"),
    "prompt": s.Field(s.positive_int(), _POS, required=False, default=512),
    "generate": s.Field(s.positive_int(), _POS, required=False, default=128),
    "base_bits": s.positive(64, "bits", integer=True, required=False),
    "trace": s.Field(s.string(), "a trace path", required=False, default=None),
    "top_k": s.Field(s.positive_int(), _POS, required=False, default=4),
    **_RAG_FIELDS,
    **_COMPRESSION_FIELDS,
}
def _nonneg_int_check(v: Any) -> tuple[bool, Any]:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0, v


def _sampler_schemas() -> dict[str, s.Schema]:
    seed = s.Field(_nonneg_int_check, "an integer >= 0", required=False, default=0)
    kind = s.Field(s.one_of(*SAMPLERS), f"one of {', '.join(SAMPLERS)}")
    return {
        "grid": {"kind": kind},
        "random": {"kind": kind, "n": s.Field(s.positive_int(), _POS), "seed": seed},
        "latin-hypercube": {"kind": kind, "n": s.Field(s.positive_int(), _POS), "seed": seed},
        "nsga2": {"kind": kind, "trials": s.Field(s.positive_int(), _POS), "seed": seed,
                  "population": s.Field(s.positive_int(), _POS, required=False, default=20)},
    }


def _line(node: Any, key: str | int) -> int | None:
    if isinstance(node, LineDict) and isinstance(key, str):
        return node.lines.get(key, node.start_line)
    if isinstance(node, list) and isinstance(key, int) and isinstance(node[key], LineDict):
        start: int | None = node[key].start_line
        return start
    return None


def _spread(spec: Any, field: s.Field) -> list[Any] | str:
    """{log_range: [lo, hi], num: n} or {range: [lo, hi], num: n} -> values (rounded for integer fields); or why not."""
    kinds = [k for k in ("log_range", "range") if k in spec]
    extra = set(spec) - {"log_range", "range", "num"}
    if len(kinds) != 1 or extra:
        return "expected a list of values, or {log_range: [lo, hi], num: n} or {range: [lo, hi], num: n}"
    lohi, num = spec[kinds[0]], spec.get("num")
    if (not isinstance(lohi, list) or len(lohi) != 2 or not all(isinstance(x, int | float) and not isinstance(x, bool)
                                                                 and math.isfinite(x) for x in lohi)):
        return f"{kinds[0]}: expected [lo, hi] (two finite numbers), got {lohi!r}"
    lo, hi = float(lohi[0]), float(lohi[1])
    if not isinstance(num, int) or isinstance(num, bool) or num < 2:
        return f"num: expected an integer >= 2, got {num!r}"
    if not lo < hi or (kinds[0] == "log_range" and lo <= 0):
        return f"{kinds[0]}: expected 0 < lo < hi for a log range (lo < hi for a range), got {lohi!r}"
    if kinds[0] == "log_range":
        values = [math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * i / (num - 1)) for i in range(num)]
    else:
        values = [lo + (hi - lo) * i / (num - 1) for i in range(num)]
    integer = field.check(1)[0] and not field.check(1.5)[0]
    out = [round(v) for v in values] if integer else [float(f"{v:.6g}") for v in values]
    return list(dict.fromkeys(out))  # integer rounding can repeat a value


def _parameters(raw: Any, source: str, problems: list[Problem], sampler: Any) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """The hardware fields to vary; none (the base accelerator alone, its workloads swept) only with the grid sampler."""
    out = []
    if not raw and isinstance(sampler, dict) and sampler.get("kind") != "grid":
        problems.append(Problem(source=source, path="parameters", line=_line(raw, "parameters"), message=(
            f"expected at least one hardware field to vary with the {sampler.get('kind')} sampler (without "
            "parameters the grid sampler runs the workloads on the base accelerator alone)")))
    for path, spec in raw.items():
        where = f"parameters.{path}"
        line = _line(raw, path)
        entry, why = s.lookup(HW_SCHEMA, str(path))
        if not isinstance(entry, s.Field):
            problems.append(Problem(source=source, path=where, line=line,
                                    message=why or "is a section; vary one of its fields"))
            continue
        values = spec if isinstance(spec, list) else (_spread(spec, entry) if isinstance(spec, dict) else
                                                      "expected a list of values or a {log_range|range, num} mapping")
        if isinstance(values, str):
            problems.append(Problem(source=source, path=where, line=line, message=f"{values}, got {spec!r}"))
            continue
        if not values:
            problems.append(Problem(source=source, path=where, line=line, message="expected at least one value"))
            continue
        checked = []
        for v in values:
            ok, conv = entry.check(v)
            if ok:
                checked.append(conv)
            else:
                problems.append(Problem(source=source, path=where, line=line, message=f"expected {entry.expected}, got {v!r}"))
        if len(set(map(repr, checked))) != len(checked):
            problems.append(Problem(source=source, path=where, line=line, message=f"values repeat: {values!r}"))
        out.append((str(path), tuple(checked)))
    return tuple(out)


def _workloads(raw: list[Any], source: str, base_dir: Path, problems: list[Problem]) -> tuple[WorkloadSpec, ...]:
    out = []
    if not raw:
        problems.append(Problem(source=source, path="workloads", message="expected at least one workload"))
    for i, entry in enumerate(raw):
        path, line = f"workloads[{i}]", _line(raw, i)
        kind = entry.get("kind")
        schema = {"tune": TUNE_SCHEMA, "infer": INFER_SCHEMA}.get(kind) if isinstance(kind, str) else None
        if schema is None:
            problems.append(Problem(source=source, path=f"{path}.kind", line=line, message=f"expected tune or infer, got {kind!r}"))
            continue
        mine: list[Problem] = []
        v = s.validate(entry, schema, source=source, path=path, problems=mine, parent_line=line)
        if not mine:
            if v.get("trace") and not Path(v["trace"]).is_absolute() and (base_dir / v["trace"]).exists():
                v["trace"] = str(base_dir / v["trace"])
            w = WorkloadSpec(**v)
            try:
                model = load_model(w.model)
                if w.method == Method.EDGE_LLM:
                    load_trace(w.trace or default_trace_path(w.model), model)
                if w.method == "rag":
                    load_model(w.encoder)
                if (why := compression_problem(w.method, w.weight_bits, w.weight_sparsity)) is not None or (
                        w.method == "rag" and w.kind == "tune" and (w.weight_bits or w.weight_sparsity)):
                    field = "weight_bits" if w.weight_bits is not None else "weight_sparsity"
                    mine.append(Problem(source=source, path=f"{path}.{field}", line=line, message=(
                        why or "RAG's adaptation embeds the corpus with the uncompressed encoder; compress the "
                        "generator in the infer workload")))
                if w.samples is not None and w.chunks is not None and w.method == "rag":
                    mine.append(Problem(source=source, path=f"{path}.chunks", line=line, message=(
                        "with samples the chunks are the corpus split into chunk_tokens chunks; give one of the two")))
            except ConfigError as exc:
                mine += [Problem(source=source, path=path, line=line, message=f"{p}") for p in exc.problems]
            else:
                tokens = (("seq", w.seq or 0) if kind == "tune" else ("prompt + generate", w.prompt + w.generate))
                if tokens[1] > model.max_seq:
                    mine.append(Problem(source=source, path=f"{path}.{tokens[0].split()[0]}", line=line, message=(
                        f"{tokens[0]} is {tokens[1]:,} but {model.name}'s max_seq is {model.max_seq:,}")))
                else:
                    out.append(w)
        problems += mine
    labels = [w.label for w in out]
    for lab in {x for x in labels if labels.count(x) > 1}:
        problems.append(Problem(source=source, path="workloads", message=f"the workload '{lab}' appears twice"))
    return tuple(out)


def _sampler(raw: Any, source: str, line: int | None, problems: list[Problem]) -> SamplerSpec:
    schemas = _sampler_schemas()
    kind = raw.get("kind")
    if kind not in schemas:
        problems.append(Problem(source=source, path="sampler.kind", line=line,
                                message=f"expected one of {', '.join(SAMPLERS)}, got {kind!r}"))
        return SamplerSpec(kind="grid")
    v = s.validate(raw, schemas[kind], source=source, path="sampler", problems=problems, parent_line=line)
    return SamplerSpec(**v) if len(v) == len(schemas[kind]) else SamplerSpec(kind="grid")


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec; raise ConfigError listing every problem."""
    p = Path(path)
    source = display_path(p)
    raw = load_yaml(p)
    problems: list[Problem] = []
    v = s.validate(raw, SPEC_SCHEMA, source=source, problems=problems)
    if problems:
        raise ConfigError(problems)
    hw = v["hardware"]
    if not Path(hw).is_absolute() and (p.parent / hw).exists():
        hw = str(p.parent / hw)
    try:
        hw_path = str(resolve_hw_path(hw))
        base, fields = load_hardware(hw_path)
        base_names = constraint_names(fields, area_mm2(base))
    except ConfigError as exc:
        raise ConfigError([Problem(source=source, path="hardware", line=_line(raw, "hardware"), message=str(q))
                           for q in exc.problems]) from None
    params = _parameters(v["parameters"], source, problems, v["sampler"])
    for i, expr in enumerate(v["constraints"]):
        try:
            check_constraint(expr, base_names)
        except ValueError as exc:
            problems.append(Problem(source=source, path=f"constraints[{i}]", line=_line(raw, "constraints"),
                                    message=f"{expr!r}: {exc}"))
    workloads = _workloads(v["workloads"], source, p.parent, problems)
    objectives = v["objectives"]
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown or not objectives or len(set(objectives)) != len(objectives):
        problems.append(Problem(source=source, path="objectives", line=_line(raw, "objectives"),
                                message=f"expected distinct names from {', '.join(OBJECTIVES)}, got {objectives!r}"))
    sampler = _sampler(v["sampler"], source, _line(raw, "sampler"), problems)
    if problems:
        raise ConfigError(problems)
    return SweepSpec(name=v["name"], source=source, hardware=hw_path, hardware_fingerprint=base.fingerprint(),
                     parameters=params,
                     constraints=tuple(v["constraints"]), workloads=workloads, objectives=tuple(objectives),
                     sampler=sampler, mapper=v["mapper"], latency_tolerance=v["latency_tolerance"])
