"""CP-SAT scheduler (OR-Tools) over one GEMM's mapspace.

`CpSatSearcher(model="exact")`, the default, solves `edgesim.search.cpsat_exact`: an integer model whose objective
is the cost model's own latency. `model="log"` solves the older log-domain proxy described below, a CoSA-style
integer model of one GEMM's mapping, re-scored exactly.

Units: logs are natural logs scaled by `SCALE` and rounded to integers (so 1000 = a factor e);
capacity in bytes, latency terms in cycles, all inside the logs.

One model per dataflow (the dataflow fixes which dims sit on the array rows, columns and in time).
Variables, per dim d ∈ {m, n, k}:
- for each distinct prime p of D with multiplicity e: integers sp[d,p], gt[d,p] ≥ 0, sp + gt ≤ e:
  how many copies of p are unrolled spatially (array) and iterated temporally inside the global-buffer
  tile; the remaining e − sp − gt copies are DRAM loop trips (CoSA's factor-to-level assignment);
- one boolean y[d,j] per extra imperfect tile t_j of the mapspace (array-aligned, not a divisor);
  at most one is set, and then every prime goes to DRAM and the tile is t_j exactly;
- DRAM loop order: ranks r_m, r_n, r_k (all different) and booleans after[d,e] ⇔ r_d > r_e;
- `iter[d]` (the DRAM loop of d iterates), `refetch[t]` per tensor, `db` (double buffering),
  and budget shares q_A + q_B + q_C ≤ 16 (sixteenths of the global buffer).
Linear expressions (log domain): log tile, log DRAM trips, log array folds of each spatial dim
(exact per extra tile, D / spatial factor for divisor tiles).
Constraints:
- PE count: Σ log p · sp over the row dim ≤ log rows (K: rows · pack / kept fraction); likewise columns;
- capacity: per tensor log(tile bytes) + db·log 2 ≤ log(capacity · q_t / 16) (a sufficient, linear
  split of the byte sum A + B + C ≤ capacity);
- reuse: refetch[t] ≥ after[d, free(t)] + iter[d] − 1 for each dim d indexing t (the cost model's rule);
  log DRAM bytes of t = log(size) + refetch[t] · log(trips of t's unindexed loop) (big-M linearised).
Objective: minimise 100 · L + w · D + (1 − db) · 100 · log 2, where L, the latency proxy, is the log of
the sum of the busy time, max(log compute cycles, log DRAM cycles, log buffer-port cycles) (a max of logs
standing for the log of the overlapped time), and T · latency / 2, the DRAM latency a one-tile prefetch window
exposes every other tile when tiles are short (T the DRAM-level tiles; cost model v4); D the log of the
largest DRAM stream (traffic, standing in for energy; `w` is `energy_weight`·100); and the last term a
penalty for single buffering (nothing overlaps). Log compute cycles = log folds + log(fill/drain · temporal
tiles + streamed time). Such a log of a sum is bounded from below by tangents of softplus (`_log_sum`), not by
its larger term alone, which can be a factor of 2 short and left the solver blind to fill/drain whenever
streaming dominated.

Every improving solution is collected by a callback; each is expanded to its neighbouring tiles in the
mapspace (one step down or up per dim), all six orders and both bufferings, and re-scored, together with
the fixed-dataflow baselines and the heuristic mapping, by the exact cost model. The best by cycles,
then energy, is returned, so the answer is never worse than any baseline.

`raw=True` ("cpsat-raw", `edgesim schedule --searcher cpsat --raw`) is the solver alone: each dataflow model's
final (best by its own objective) solution, decoded, and the best of those by the cost model. No neighbours, no
baselines, no heuristic mapping: this is the figure that says how good the integer model is.

Determinism: the same op, accelerator and settings give the same answer on every run, whatever the machine
load. The solver runs one worker (a parallel portfolio races its workers, so which improving solutions reach
the callback depends on thread timing), with a fixed `random_seed` and only a deterministic-time budget
(`max_deterministic_time`, OR-Tools' count of work done, not seconds); there is no wall-clock limit at all.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from importlib.metadata import version
from itertools import product

from ortools.sat.python import cp_model

from edgesim.arch import ArchSpec
from edgesim.cost.model import evaluate
from edgesim.errors import Infeasible
from edgesim.mapping import DATAFLOWS, LOOP_ORDERS, Dataflow, Mapping, MappingSet
from edgesim.mapspace import DimSpace, Mapspace, MapspaceOptions, build_mapspace
from edgesim.operands import OperandModel, operand_model
from edgesim.ops import Gemm
from edgesim.search.base import SearchResult
from edgesim.search.baselines import offer_baselines
from edgesim.search.cpsat_exact import solve_exact
from edgesim.search.fixed import AXES
from edgesim.search.incumbent import Incumbent

SCALE = 1000
BIG = 10**6
SHARES = 16
_ORTOOLS_VERSION = version("ortools")  # part of settings(): another release may search differently
_TENSOR_DIMS = {"A": ("m", "k"), "B": ("k", "n"), "C": ("m", "n")}
_FREE = {"A": "n", "B": "m", "C": "k"}

Candidate = tuple[Dataflow, int, int, int, str, bool]
Expr = cp_model.LinearExpr


def total(terms: list[Expr] | list[cp_model.IntVar], const: int = 0) -> Expr:
    """A linear sum (typed, unlike Python's sum over ortools terms)."""
    return cp_model.LinearExpr.sum([*terms, cp_model.LinearExpr.constant(const)])


def term(v: cp_model.IntVar | Expr, coef: int) -> Expr:
    return cp_model.LinearExpr.term(v, coef)


def lg(x: float) -> int:
    """SCALE·ln(x), rounded."""
    return round(SCALE * math.log(x))


@dataclass(slots=True)
class _Dim:
    """A dim's variables and log-domain expressions in one model."""

    space: DimSpace
    sp: dict[int, cp_model.IntVar]
    gt: dict[int, cp_model.IntVar]
    y: list[cp_model.IntVar]
    log_tile: Expr
    log_trips: Expr
    log_folds: Expr  # folds of this dim over its array axis (spatial dims only)
    iterates: cp_model.IntVar

    def tile(self, solver: cp_model.CpSolverSolutionCallback) -> int:
        for j, yv in enumerate(self.y):
            if solver.value(yv):
                return self.space.extras[j]
        t = 1
        for p in self.space.primes:
            t *= p[0] ** (solver.value(self.sp[p[0]]) + solver.value(self.gt[p[0]]))
        return t


class _Collector(cp_model.CpSolverSolutionCallback):
    def __init__(self, decode: _Decoder):
        super().__init__()
        self.decode = decode
        self.found: list[Candidate] = []

    def on_solution_callback(self) -> None:
        self.found.append(self.decode(self))


class _Decoder:
    def __init__(self, df: Dataflow, dims: dict[str, _Dim], rank: dict[str, cp_model.IntVar], db: cp_model.IntVar):
        self.df, self.dims, self.rank, self.db = df, dims, rank, db

    def __call__(self, cb: cp_model.CpSolverSolutionCallback) -> Candidate:
        order = "".join(sorted("mnk", key=lambda d: cb.value(self.rank[d])))
        return (self.df, self.dims["m"].tile(cb), self.dims["n"].tile(cb), self.dims["k"].tile(cb), order,
                bool(cb.value(self.db)))


def _extent(arch: ArchSpec, df: Dataflow, dim: str) -> int | None:
    _, row, col = AXES[df]
    return arch.pe_array.rows if dim == row else arch.pe_array.cols if dim == col else None


def _dim_model(model: cp_model.CpModel, arch: ArchSpec, om: OperandModel, df: Dataflow, ds: DimSpace) -> _Dim:
    extent = _extent(arch, df, ds.name)
    kf = om.k_kept / om.pack if ds.name == "k" else 1.0  # array slots per element of the dim
    sp: dict[int, cp_model.IntVar] = {}
    gt: dict[int, cp_model.IntVar] = {}
    y = [model.new_bool_var(f"y_{ds.name}_{t}") for t in ds.extras]
    any_y = total(y)
    model.add(any_y <= 1)
    for p, e in ds.primes:
        sp[p] = model.new_int_var(0, e if extent is not None else 0, f"sp_{ds.name}_{p}")
        gt[p] = model.new_int_var(0, e, f"gt_{ds.name}_{p}")
        model.add(sp[p] + gt[p] <= e)
        if y:
            model.add(sp[p] + gt[p] + term(any_y, e) <= e)
    in_tile = total([term(sp[p], lg(p)) for p, _ in ds.primes] + [term(gt[p], lg(p)) for p, _ in ds.primes])
    spatial = total([term(sp[p], lg(p)) for p, _ in ds.primes])
    trips = [-(-ds.size // t) for t in ds.extras]
    log_tile = total([in_tile] + [term(yj, lg(t)) for t, yj in zip(ds.extras, y, strict=True)])
    log_trips = total([term(in_tile, -1)] + [term(yj, lg(n) - lg(ds.size)) for n, yj in zip(trips, y, strict=True)], lg(ds.size))
    log_folds = cp_model.LinearExpr.constant(0)
    if extent is not None:
        if ds.primes:
            model.add(spatial + lg(kf) <= lg(extent))
        exact = []
        for t, n in zip(ds.extras, trips, strict=True):
            last = ds.size - (n - 1) * t
            full_e, last_e = (om.k_effective(t), om.k_effective(last)) if ds.name == "k" else (t, last)
            exact.append((n - 1) * -(-full_e // extent) + -(-last_e // extent))  # as tiling.fold_count
        base = lg(max(ds.size * kf, 1.0))
        log_folds = total([term(spatial, -1)] + [term(yj, lg(f) - base) for f, yj in zip(exact, y, strict=True)], base)
    iterates = model.new_bool_var(f"iter_{ds.name}")
    model.add(log_trips <= BIG * iterates)
    return _Dim(ds, sp, gt, y, log_tile, log_trips, log_folds, iterates)


def _max_of(model: cp_model.CpModel, name: str, exprs: list[Expr]) -> cp_model.IntVar:
    v = model.new_int_var(-BIG, BIG, name)
    model.add_max_equality(v, exprs)
    return v


# Tangent points u (in nats) of softplus(u) = ln(1 + e^u), the convex function behind a log of a sum:
# ln(e^a + e^b) = b + softplus(a - b). Tangents every half nat over ±6 nats keep the gap to the curve under 1%.
LSE_TANGENTS = [j / 2 for j in range(-12, 13)]
LSE_Q = 1000  # the tangents' slopes in thousandths (CP-SAT coefficients are integers)


def _log_sum(model: cp_model.CpModel, name: str, a: Expr, b: Expr | int) -> cp_model.IntVar:
    """SCALE·ln(e^(a/SCALE) + e^(b/SCALE)) for linear `a` and `b`, bounded from below by the tangents
    of softplus at LSE_TANGENTS and by both asymptotes (a and b themselves); the objective pulls it onto that
    convex envelope, within 1% of the sum, where the larger log alone can be off by a factor of 2. Linear
    constraints only (no division or table lookup), to keep the search close to the speed of a plain max."""
    v = model.new_int_var(-2 * BIG, 2 * BIG, name)
    model.add(v >= a)
    model.add(v >= b)
    for u in LSE_TANGENTS:
        slope = round(LSE_Q / (1 + math.exp(-u)))  # softplus'(u), in thousandths
        # v - b >= SCALE·softplus(u) + slope/Q · (a - b - SCALE·u), times Q
        intercept = round(LSE_Q * SCALE * math.log1p(math.exp(u)) - slope * SCALE * u)
        model.add(term(v, LSE_Q) >= term(a, slope) + (LSE_Q - slope) * b + intercept)
    return v


def _build(arch: ArchSpec, op: Gemm, space: Mapspace, df: Dataflow,
           energy_weight: float) -> tuple[cp_model.CpModel, _Decoder]:
    om = operand_model(arch, op)
    model = cp_model.CpModel()
    dims = {ds.name: _dim_model(model, arch, om, df, ds) for ds in space.dims}
    time_dim, row, col = AXES[df]

    # DRAM loop order: ranks (0 outermost) and pairwise "d is inside e"
    rank = {d: model.new_int_var(0, 2, f"rank_{d}") for d in "mnk"}
    model.add_all_different(list(rank.values()))
    after: dict[tuple[str, str], Expr] = {}
    for d, e in product("mnk", repeat=2):
        if d < e:
            b = model.new_bool_var(f"after_{d}_{e}")
            model.add(rank[d] > rank[e]).only_enforce_if(b)
            model.add(rank[d] < rank[e]).only_enforce_if(~b)
            after[d, e], after[e, d] = term(b, 1), total([term(b, -1)], 1)

    # capacity: per-tensor shares of the buffer, sufficient for the byte sum
    db = model.new_bool_var("double_buffer")
    if space.double_buffer == (True,):
        model.add(db == 1)
    elif space.double_buffer == (False,):
        model.add(db == 0)
    b_elem = om.b_stored_bytes / (op.k * op.n)
    elem = {"A": om.a_bytes, "B": b_elem, "C": om.psum_bytes}
    q = {t: model.new_int_var(1, SHARES - 2, f"share_{t}") for t in elem}
    model.add(total(list(q.values())) <= SHARES)
    cap = arch.global_buffer.capacity_bytes
    for t, (d1, d2) in _TENSOR_DIMS.items():
        lq = model.new_int_var(-BIG, BIG, f"log_share_{t}")
        model.add_element(q[t], [lg(max(i, 1) / SHARES) for i in range(SHARES)], lq)
        model.add(dims[d1].log_tile + dims[d2].log_tile + lg(elem[t]) + lg(2) * db <= lg(cap) + lq)

    # DRAM traffic per tensor (bytes, log), with the cost model's reuse rule
    batch = op.batch
    size = {"A": batch * op.m * op.k * om.a_bytes, "B": batch * om.b_stored_bytes, "C": batch * op.m * op.n * om.c_bytes}
    refetch_gain = {"A": 0, "B": 0, "C": lg(1 + 2 * om.psum_bytes / om.c_bytes) - lg(2)}
    log_dram: list[Expr] = []
    for t, rel in _TENSOR_DIMS.items():
        free = _FREE[t]
        ref = model.new_bool_var(f"refetch_{t}")
        for d in rel:
            model.add(ref >= after[d, free] + dims[d].iterates - 1)
        z = model.new_int_var(0, BIG, f"extra_{t}")
        model.add(z >= dims[free].log_trips + refetch_gain[t] - BIG * (1 - ref))
        log_dram.append(total([z], lg(size[t])))
    dram_max = _max_of(model, "log_dram_bytes", log_dram)

    # compute cycles: folds of the two spatial dims × (fill/drain per temporal tile + streamed time)
    R, C = arch.pe_array.rows, arch.pe_array.cols
    overhead = R + C - 2 if df == Dataflow.OS else 2 * R + C - 2
    t_total = om.k_effective(op.k) if df == Dataflow.OS else (op.m if df == Dataflow.WS else op.n)
    # log of folds × (overhead × temporal tiles + streamed time): a log of a sum, not the larger term alone
    folds = dims[row].log_folds + dims[col].log_folds
    per_fold = _log_sum(model, "log_fold_time", lg(batch * overhead) + dims[time_dim].log_trips,
                        lg(batch * om.stretch * t_total))
    comp = per_fold + folds
    # global-buffer port bytes (log), per the dataflow's re-read rule
    a_rd = lg(size["A"]) + (dims["n"].log_trips if df == Dataflow.IS else dims["n"].log_folds)
    b_rd = lg(size["B"]) + (dims["m"].log_trips if df == Dataflow.WS else dims["m"].log_folds)
    c_acc = lg(2 * batch * op.m * op.n * om.psum_bytes) + (dims["k"].log_trips if df == Dataflow.OS else dims["k"].log_folds)
    glb = _max_of(model, "log_glb_bytes", [a_rd, b_rd, c_acc])

    busy = _max_of(model, "log_busy", [comp, dram_max - lg(arch.dram.bandwidth_bytes_per_cycle),
                                       glb - lg(arch.global_buffer.bandwidth_bytes_per_cycle)])
    # the prefetch window's stalls: with one tile of prefetch, DRAM latency is exposed once per two tiles unless a
    # tile computes for longer than the next one's load plus the latency (edgesim.cost.pipelining); counted here
    # as T·latency/2 on top of the busy time, which vanishes in the log of the sum where tiles are long
    log_tiles = total([dims[d].log_trips for d in "mnk"], lg(batch))
    lat = _log_sum(model, "log_latency", busy, log_tiles + lg(max(arch.dram.latency_cycles, 1) / 2))
    w = round(100 * energy_weight)
    model.minimize(100 * lat + w * dram_max + 100 * lg(2) * (1 - db))
    return model, _Decoder(df, dims, rank, db)


def _neighbours(space: Mapspace, cand: Candidate) -> list[Mapping]:
    """The candidate's tiles and their neighbours in the mapspace, every order and buffering."""
    df, tm, tn, tk, _, _ = cand
    near = []
    for ds, t in zip(space.dims, (tm, tn, tk), strict=True):
        tiles = ds.tiles
        i = tiles.index(t)
        near.append(sorted({tiles[j] for j in (i - 1, i, i + 1) if 0 <= j < len(tiles)}))
    return [Mapping(dataflow=df, tile_m=a, tile_n=b, tile_k=c, dram_order=o, double_buffer=db)
            for a, b, c, o, db in product(near[0], near[1], near[2], LOOP_ORDERS, space.double_buffer)]


class CpSatSearcher:
    """CP-SAT over the mapspace (see the module docstring); deterministic: same input, same answer, bit for bit.

    `deterministic_limit` is the solver's budget per op in OR-Tools deterministic time units (a count of work
    done, meant to be about one second of solving), split evenly over the dataflows. On the default mapspace
    the solver proves optimality long before it (~0.01 - 0.04 units per op for LLaMA-7B GEMMs); when the
    budget does bind, the solver stops at the same point of the same search on every run.
    """

    name = "cpsat"

    def __init__(self, *, deterministic_limit: float = 3.0, energy_weight: float = 0.1, polish: bool = True,
                 options: MapspaceOptions | None = None, seed: int = 0, tolerance: float = 0.0, raw: bool = False,
                 model: str = "exact"):
        limit = deterministic_limit
        if not limit > 0:
            raise ValueError(f"deterministic_limit must be positive, got {limit}")
        if not -2**31 <= seed < 2**31:
            raise ValueError(f"seed must fit in 32 bits (CP-SAT's random_seed), got {seed}")
        self.tolerance = tolerance  # latency band within which energy decides (see Incumbent)
        self.deterministic_limit, self.energy_weight = float(limit), energy_weight
        if model not in ("exact", "log"):
            raise ValueError(f"model must be 'exact' or 'log', got {model!r}")
        self.polish, self.seed, self.raw, self.model = polish and not raw, seed, raw, model
        if raw:
            self.name = "cpsat-raw"  # the solver's own answers only (see the module docstring)
        self.options = options or MapspaceOptions()
        self.last_status: dict[str, str] = {}
        self.last_solver_cycles = float("inf")

    def settings(self) -> dict[str, object]:
        out: dict[str, object] = {"searcher": self.name, "deterministic_limit": self.deterministic_limit, "num_workers": 1,
                                  "seed": self.seed, "ortools": _ORTOOLS_VERSION, "energy_weight": self.energy_weight,
                                  "polish": self.polish, "mapspace": self.options.settings(), "model": self.model}
        if self.raw:
            out["raw"] = True
        if self.tolerance:
            out["latency_tolerance"] = self.tolerance
        return out

    def _solver(self, n_dataflows: int) -> cp_model.CpSolver:
        """A solver whose search depends only on the model and these parameters (no clock, no thread race)."""
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.num_workers = 1  # one sequential search: the same improving solutions, in the same order, every run
        p.catch_sigint_signal = False  # Ctrl-C reaches Python (exit 130), not a handler that kills it
        p.random_seed = self.seed
        p.max_deterministic_time = self.deterministic_limit / n_dataflows
        # no max_time_in_seconds: a wall-clock limit would make the answer depend on the machine's load
        # Presolve takes ~2.5 s on dense mapspaces (millions of points) before the first solution; without
        # it the first solution comes in ~0.03 s and the optimum in ~0.6 s (measured on 512x1024x1024).
        p.cp_model_presolve = False
        return solver

    def solve(self, arch: ArchSpec, op: Gemm, space: Mapspace, last: int = 8) -> list[Candidate]:
        """The solver's `last` improving solutions per dataflow of the mapspace (its final one last)."""
        found: list[Candidate] = []
        self.last_status = {}
        if self.model == "exact":  # the cost model's own latency (edgesim.search.cpsat_exact): one optimum per model
            pairs = [(df, db) for df in DATAFLOWS if df in space.dataflows for db in space.double_buffer]
            solved = solve_exact(arch, op, space, self.deterministic_limit, self.seed)
            for (df, db), (_, cand, exact_status) in zip(pairs, solved, strict=True):
                if cand is not None:
                    found.append(cand)
                self.last_status[f"{df}{'' if db else '-sb'}"] = exact_status
            return found
        for df in space.dataflows:
            model, decode = _build(arch, op, space, df, self.energy_weight)
            solver = self._solver(len(space.dataflows))
            cb = _Collector(decode)
            status = solver.solve(model, cb)
            self.last_status[str(df)] = solver.status_name(status)
            found += cb.found[-last:]
        return found

    def best(self, arch: ArchSpec, op: Gemm) -> SearchResult | Infeasible:
        t0 = time.perf_counter()
        space = build_mapspace(arch, op, self.options)
        pool: set[Mapping] = set()
        for cand in self.solve(arch, op, space, last=1 if self.raw else 8):
            if self.polish:
                pool.update(_neighbours(space, cand))
            else:
                df, tm, tn, tk, order, db = cand
                pool.add(Mapping(dataflow=df, tile_m=tm, tile_n=tn, tile_k=tk, dram_order=order, double_buffer=db))
        solver_only = _score(arch, op, pool)
        self.last_solver_cycles = solver_only.cycles  # the solver's own answer (polished unless raw), no baselines
        undecided = [k for k, v in self.last_status.items() if v == "UNKNOWN"]
        if self.raw and not pool and undecided:
            return Infeasible(f"CP-SAT found no solution within its budget of {self.deterministic_limit:g} "
                              f"deterministic units ({len(undecided)} of {len(self.last_status)} models undecided: "
                              f"{', '.join(undecided)}); the op is not proven infeasible: raise --deterministic-limit "
                              "or use --searcher exhaustive")
        inc = _score(arch, op, pool, not self.raw, self.tolerance)
        return inc.result(arch, op, self.name, time.perf_counter() - t0, len(pool))


def _score(arch: ArchSpec, op: Gemm, pool: set[Mapping], with_baselines: bool = False,
           tolerance: float = 0.0) -> Incumbent:
    inc = Incumbent(tolerance=tolerance)
    if pool:
        maps = MappingSet.of(sorted(pool, key=lambda m: (DATAFLOWS.index(m.dataflow), m.tile_m, m.tile_n, m.tile_k,
                                                         m.dram_order, m.double_buffer)))
        inc.offer(maps, evaluate(arch, op, maps))
    if with_baselines and not inc.rf_reason:
        offer_baselines(inc, arch, op)
    return inc
