"""An exact CP-SAT model of the analytic cost model's latency, for one GEMM, one dataflow and one buffering mode.

Where `edgesim.search.cpsat` solves a log-domain proxy, this model's objective is the cost model's own latency
(`edgesim.cost.model.evaluate`, `total_cycles`), up to the integer rounding stated below.

Decision variables: a tile index per dim (m, n, k) over the mapspace's candidate tiles, and the DRAM loop order
(six booleans, exactly one set). The dataflow and double buffering are fixed per model; the searcher solves one
model per (dataflow, buffering) pair and keeps the best: the single-buffered models first, then each model under
the bound of the best objective found so far, so the solver prunes what cannot beat it (on LLaMA-7B GEMMs under
cost model v4: about 0.1 s per op for all six models, against 0.4-0.9 s unbounded).

Every quantity that depends on one dim only (trip count, full tile, the array folds of `edgesim.cost.tiling`,
the buffer re-reads of `edgesim.cost.access`, the per-fold time of `edgesim.cost.systolic`) is a table over that
dim's candidates, read with an element constraint. The rest is built with integer constraints:
- compute cycles = batch · (one table per dim, multiplied: `AddMultiplicationEquality`), exactly as
  `compute_cycles` factorises them;
- re-fetch of each tensor = OR over the dims that index it of (that dim's loop sits inside the tensor's unindexed
  loop, from the order booleans) AND (that dim iterates, a table); DRAM bytes of A = A · (re-fetch ? trips of n : 1),
  and likewise B over m and C's partial-sum spills over k;
- buffer bytes, register-port bytes and DRAM bytes are linear in those; their cycles are bytes / bandwidth
  (`AddDivisionEquality` with the bandwidth as an exact fraction);
- on-chip = max(compute, buffer port, register port) (`AddMaxEquality`); single buffered: on-chip + DRAM +
  tiles · latency; double buffered: min(the tile pipeline's closed form, single buffered), the pipeline
  (`edgesim.cost.pipelining`) written out by `IntModel.pipelined` over the tiles (trips · batch), the innermost
  iterating DRAM loop (per order: it iterates and no loop inside it does, booleans), the every-tile and burst bytes
  (what that loop indexes moves every tile), the first tile's load and the last tile's write-back (rm · rn outputs);
- the solver branches on the tile indices and the order only (a fixed search: everything else follows by
  propagation);
- capacity: (A tile + stored B tile + partial-sum tile) · (2 if double buffered) ≤ the global buffer.

Units and rounding: bytes in 1/`BYTE_SCALE` of a byte (operand widths in bits are exact; a stored B's bytes per
element, metadata included, is rounded to that grain), cycles in 1/`CYCLE_SCALE` of a cycle (each division floors,
so a term may be up to one unit short). The decoded mapping is always re-scored by the cost model itself.
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from edgesim.arch import ArchSpec
from edgesim.cost.access import INNER_RELEVANT, TENSOR_DIMS
from edgesim.cost.tiling import fold_count, k_effective, split
from edgesim.intmodel import IntModel
from edgesim.mapping import DATAFLOWS, LOOP_ORDERS, Dataflow
from edgesim.mapspace import Mapspace
from edgesim.operands import OperandModel, operand_model
from edgesim.ops import Gemm

BYTE_SCALE = 256
CYCLE_SCALE = 16

Candidate = tuple[Dataflow, int, int, int, str, bool]


def _q(x: float) -> int:
    """Bytes to integer units of 1/BYTE_SCALE byte."""
    return round(x * BYTE_SCALE)


class ExactModel(IntModel):
    """The model for one (dataflow, buffering) pair; `decode` reads a solution back as a mapping candidate."""

    def __init__(self, arch: ArchSpec, op: Gemm, space: Mapspace, df: Dataflow, double_buffer: bool):
        super().__init__(BYTE_SCALE, CYCLE_SCALE)
        self.df, self.db = df, double_buffer
        m = self.model
        om = operand_model(arch, op)
        self.tiles = {d.name: np.array(d.tiles, dtype=np.int64) for d in space.dims}
        self.index = {d: m.new_int_var(0, len(t) - 1, f"i_{d}") for d, t in self.tiles.items()}
        self.order = [m.new_bool_var(f"order_{o}") for o in LOOP_ORDERS]
        m.add_exactly_one(self.order)
        tab = _tables(arch, op, om, self.tiles, df)
        v = {name: self._element(name, dim, values) for name, (dim, values) in tab.items()}

        # compute cycles: batch · X_m · Y_n · Z_k (the factorised systolic formula)
        mn = self.product("comp_mn", v["comp_m"], v["comp_n"])
        comp = self.product("comp", mn, v["comp_k"])

        # which tensors are re-fetched once per iteration of their unindexed DRAM loop
        refetch = []
        for t, rel in enumerate(TENSOR_DIMS):  # the dims indexing A, B, C, as INNER_RELEVANT is indexed
            zs = []
            for d in rel:
                inner = sum(int(INNER_RELEVANT[o, t, "mnk".index(d)]) * x for o, x in enumerate(self.order))
                z = m.new_bool_var(f"z_{t}_{d}")
                m.add(z <= inner)
                m.add(z <= v[f"it_{d}"])
                m.add(z >= inner + v[f"it_{d}"] - 1)
                zs.append(z)
            r = m.new_bool_var(f"refetch_{t}")
            m.add_max_equality(r, zs)
            refetch.append(r)

        b = op.batch
        ub = self.ub
        a_all, b_all = _q(b * op.m * op.k * om.a_bytes), _q(b * om.b_stored_bytes)
        c_all = b * op.m * op.n
        psum, c_out = _q(c_all * om.psum_bytes), _q(c_all * om.c_bytes)
        # DRAM: A · (refetch_A ? n trips : 1), B · (refetch_B ? m trips : 1), partial sums spilled (k trips − 1) times
        da = self.lin("da", a_all + self.product("da_extra", refetch[0], v["a_more"]), a_all + ub["da_extra"])
        db_ = self.lin("db", b_all + self.product("db_extra", refetch[1], v["b_more"]), b_all + ub["db_extra"])
        dc_in = self.product("dc_in", refetch[2], v["c_spill"])
        dram_bytes = self.lin("dram_bytes", da + db_ + 2 * dc_in + c_out,
                               ub["da"] + ub["db"] + 2 * ub["dc_in"] + c_out)
        glb_bytes = self.lin("glb_bytes", v["glb_a"] + v["glb_b"] + 2 * v["ps_acc"] - psum + 2 * dc_in + c_out + da + db_,
                              ub["glb_a"] + ub["glb_b"] + 2 * ub["ps_acc"] + 2 * ub["dc_in"] + c_out + ub["da"] + ub["db"])
        macs = b * op.m * op.n * op.k * om.k_kept
        if df == Dataflow.WS:  # the stationary operand's register reads (one per MAC) and writes (one per load)
            port_bytes = self.lin("port_bytes", _q(macs * om.b_bytes) + v["glb_b"], _q(macs * om.b_bytes) + ub["glb_b"])
        elif df == Dataflow.IS:
            port_bytes = self.lin("port_bytes", _q(macs * om.a_bytes) + v["glb_a"], _q(macs * om.a_bytes) + ub["glb_a"])
        else:
            port_bytes = self.lin("port_bytes", 0, 0)
        glb, rf, dram = arch.global_buffer, arch.registers, arch.dram
        dram_c = self.cycles("dram_c", dram_bytes, dram.bandwidth_bytes_per_cycle)
        glb_c = self.cycles("glb_c", glb_bytes, glb.bandwidth_bytes_per_cycle)
        rf_c = self.cycles("rf_c", port_bytes, rf.bandwidth_bytes_per_cycle * rf.instances)
        comp_c = self.lin("comp_c", comp * (b * CYCLE_SCALE), ub["comp"] * b * CYCLE_SCALE)
        on_chip = self.model.new_int_var(0, max(ub["comp_c"], ub["glb_c"], ub["rf_c"]), "on_chip")
        m.add_max_equality(on_chip, [comp_c, glb_c, rf_c])
        ub["on_chip"] = max(ub["comp_c"], ub["glb_c"], ub["rf_c"])

        # the global buffer holds the A tile, the stored B tile and the partial-sum tile (twice, double buffered)
        mk = self.product("tile_mk", v["tm"], v["tk"])
        kn = self.product("tile_kn", v["tk"], v["tn"])
        mn_t = self.product("tile_mn", v["tm"], v["tn"])
        b_per_elem = om.b_stored_bytes / (op.k * op.n)
        tile_in = self.lin("tile_in", _q(om.a_bytes) * mk + _q(b_per_elem) * kn,
                            _q(om.a_bytes) * ub["tile_mk"] + _q(b_per_elem) * ub["tile_kn"])
        need = (tile_in + _q(om.psum_bytes) * mn_t) * (2 if double_buffer else 1)
        m.add(need <= int(glb.capacity_bytes * BYTE_SCALE))

        lat = round(dram.latency_cycles * CYCLE_SCALE)
        trips = self.product("trips", self.product("trips_mn", v["nm"], v["nn"]), v["nk"])
        single = self.lin("single", on_chip + dram_c + trips * (b * lat),
                          ub["on_chip"] + ub["dram_c"] + ub["trips"] * b * lat)
        if double_buffer:
            total = self._pipelined(op, om, v, on_chip, dram_c, da, db_, dc_in, c_out, dram_bytes, tile_in, trips,
                                    single, dram.bandwidth_bytes_per_cycle, lat)
        else:
            total = single
        self.total = total
        m.minimize(total)
        # branch on the decisions only: everything else follows from them by propagation (searching the wide
        # intermediate domains of the pipeline's divisions instead can stall a solve for seconds)
        m.add_decision_strategy([*self.index.values(), *self.order], cp_model.CHOOSE_FIRST,
                                cp_model.SELECT_MIN_VALUE)

    def _pipelined(self, op: Gemm, om: OperandModel, v: dict[str, cp_model.IntVar], on_chip: cp_model.IntVar,
                   dram_c: cp_model.IntVar, da: cp_model.IntVar, db_: cp_model.IntVar, dc_in: cp_model.IntVar,
                   c_out: int, dram_bytes: cp_model.IntVar, tile_in: cp_model.IntVar, trips: cp_model.IntVar,
                   single: cp_model.IntVar, bandwidth: float, lat: int) -> cp_model.IntVar:
        """Double buffered: min(the tile pipeline (`IntModel.pipelined`), single buffered), its inputs as
        `edgesim.cost.pipelining.three_level_cycles` derives them."""
        m, ub = self.model, self.ub
        it = {d: m.new_bool_var(f"itb_{d}") for d in "mnk"}
        for d in "mnk":
            m.add(it[d] == v[f"it_{d}"])
        # the innermost DRAM loop that iterates: per order, d iterates and no loop inside it does
        inner = {}
        for d in "mnk":
            ys = []
            for o, x in zip(LOOP_ORDERS, self.order, strict=True):
                inside = [it[e] for e in o[o.index(d) + 1:]]
                y = m.new_bool_var(f"inner_{d}_{o}")
                m.add_bool_and([x, it[d], *(z.Not() for z in inside)]).only_enforce_if(y)
                m.add_bool_or([x.Not(), it[d].Not(), *inside]).only_enforce_if(y.Not())
                ys.append(y)
            inner[d] = m.new_bool_var(f"inner_{d}")
            m.add(inner[d] == sum(ys))
        trip_in = self.lin("trips_inner", sum(self.gate(f"trips_in_{d}", inner[d], v[f"n{d}"]) for d in "mnk")
                           + 1 - sum(inner.values()), max(ub["nm"], ub["nn"], ub["nk"]))
        tiles = self.lin("tiles", trips * op.batch, ub["trips"] * op.batch)
        # what the innermost loop indexes moves on every tile (everything when none iterates): A unless it is n, ...
        every = {t: self._bool(f"every_{t}", 1 - inner[d]) for t, d in (("a", "n"), ("b", "m"), ("c", "k"))}
        c_wr = self.lin("c_writes", dc_in + c_out, ub["dc_in"] + c_out)
        xe_b = self.lin("every_load_bytes", self.gate("ev_a", every["a"], da) + self.gate("ev_b", every["b"], db_)
                        + self.gate("ev_c", every["c"], dc_in), ub["da"] + ub["db"] + ub["dc_in"])
        we_b = self.gate("every_wb_bytes", every["c"], c_wr)
        burst_b = self.lin("burst_bytes", dram_bytes - xe_b - we_b, ub["dram_bytes"])
        xe = self.cycles("every_loads", xe_b, bandwidth)
        we = self.cycles("every_writebacks", we_b, bandwidth)
        burst = self.cycles("bursts", burst_b, bandwidth)
        loads = self.cycles("loads", self.lin("load_bytes", da + db_ + dc_in, ub["da"] + ub["db"] + ub["dc_in"]),
                            bandwidth)
        load = self.cycles("first_load", tile_in, bandwidth)
        x0 = self.minv("first", [load, loads], ub["loads"])
        last_c = self.product("last_c", v["rm"], v["rn"])
        wl = self.cycles("last_writeback", self.lin("last_c_bytes", last_c * _q(om.c_bytes),
                                                    ub["last_c"] * _q(om.c_bytes)), bandwidth)
        pipe = self.pipelined(on_chip, xe, we, burst, dram_c, x0, wl, tiles, trip_in, lat)
        return self.minv("total", [pipe, single], ub["single"])

    def _element(self, name: str, dim: str, values: list[int]) -> cp_model.IntVar:
        out = self.model.new_int_var(min(values), max(values), name)
        self.model.add_element(self.index[dim], values, out)
        self.ub[name] = max(values)
        return out

    def decode(self, solver: cp_model.CpSolver) -> Candidate:
        tile = {d: int(self.tiles[d][solver.value(i)]) for d, i in self.index.items()}
        order = next(o for o, x in zip(LOOP_ORDERS, self.order, strict=True) if solver.value(x))
        return self.df, tile["m"], tile["n"], tile["k"], order, self.db


def _tables(arch: ArchSpec, op: Gemm, om: OperandModel, tiles: dict[str, np.ndarray],
            df: Dataflow) -> dict[str, tuple[str, list[int]]]:
    """Per-dim tables (name -> (dim, one value per candidate tile)), from the cost model's own tiling helpers."""
    R, C = arch.pe_array.rows, arch.pe_array.cols
    nm, tm, rm = split(op.m, tiles["m"])
    nn, tn, rn = split(op.n, tiles["n"])
    nk, tk, rk = split(op.k, tiles["k"])
    ke, rke = k_effective(tk, om), k_effective(rk, om)
    fm_r, fm_c, fn_c = fold_count(nm, tm, rm, R), fold_count(nm, tm, rm, C), fold_count(nn, tn, rn, C)
    fk_r = fold_count(nk, ke, rke, R)
    ovh = R + C - 2 if df == Dataflow.OS else 2 * R + C - 2
    s = om.stretch
    if df == Dataflow.OS:
        comp = {"m": fm_r, "n": fn_c, "k": ovh * nk + s * ((nk - 1) * ke + rke)}
        a_reps, b_reps, acc = fn_c, fm_r, nk
    elif df == Dataflow.WS:
        comp = {"m": ovh * nm + s * op.m, "n": fn_c, "k": fk_r}
        a_reps, b_reps, acc = fn_c, nm, fk_r
    else:
        comp = {"m": fm_c, "n": ovh * nn + s * op.n, "k": fk_r}
        a_reps, b_reps, acc = nn, fm_c, fk_r
    b = op.batch
    a_all, b_all = b * op.m * op.k * om.a_bytes, b * om.b_stored_bytes
    psum = b * op.m * op.n * om.psum_bytes

    def ints(x: np.ndarray) -> list[int]:
        return [int(v) for v in x]

    def qs(x: np.ndarray) -> list[int]:
        return [_q(float(v)) for v in x]

    return {
        "comp_m": ("m", ints(comp["m"])), "comp_n": ("n", ints(comp["n"])), "comp_k": ("k", ints(comp["k"])),
        "it_m": ("m", ints(nm > 1)), "it_n": ("n", ints(nn > 1)), "it_k": ("k", ints(nk > 1)),
        "nm": ("m", ints(nm)), "nn": ("n", ints(nn)), "nk": ("k", ints(nk)),
        "tm": ("m", ints(tm)), "tn": ("n", ints(tn)), "tk": ("k", ints(tk)), "rm": ("m", ints(rm)), "rn": ("n", ints(rn)),
        "a_more": ("n", qs(a_all * (nn - 1))), "b_more": ("m", qs(b_all * (nm - 1))),
        "c_spill": ("k", qs(psum * (nk - 1))),
        "glb_a": ("n", qs(a_all * a_reps)), "glb_b": ("m", qs(b_all * b_reps)), "ps_acc": ("k", qs(psum * acc)),
    }


def solve_exact(arch: ArchSpec, op: Gemm, space: Mapspace, deterministic_limit: float,
                seed: int = 0) -> list[tuple[int, Candidate | None, str]]:
    """(objective in 1/CYCLE_SCALE cycles, candidate, status) of each (dataflow, buffering) model; the candidate is
    None (objective -1) for a model without a solution (INFEASIBLE: proven; NO_BETTER: proven to have no mapping
    better than one an earlier model found, the bound it was solved under; UNKNOWN: none found within the budget).
    One sequential worker and a deterministic-time budget (no clock), so the answer is reproducible; each model gets
    the budget left over its remaining models, so what a quickly proved model does not use goes on."""
    pairs = [(df, db) for df in DATAFLOWS if df in space.dataflows for db in space.double_buffer]
    # single-buffered models first (quick to prove); each later model is bounded by the best objective proved so far,
    # so the solver prunes every branch that cannot beat it (its INFEASIBLE is then reported as NO_BETTER)
    order = sorted(range(len(pairs)), key=lambda j: pairs[j][1])
    found: dict[int, tuple[int, Candidate | None, str]] = {}
    left = deterministic_limit
    best: int | None = None
    for i, j in enumerate(order):
        df, db = pairs[j]
        em = ExactModel(arch, op, space, df, db)
        if best is not None:
            em.model.add(em.total <= best)
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.num_workers = 1
        p.catch_sigint_signal = False
        p.random_seed = seed
        p.search_branching = cp_model.FIXED_SEARCH  # the model's decision strategy: the tile indices, then the order
        p.max_deterministic_time = left / (len(pairs) - i)
        status = solver.solve(em.model)
        left = max(0.0, left - solver.deterministic_time)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            obj = int(solver.objective_value)
            found[j] = (obj, em.decode(solver), solver.status_name(status))
            best = obj if best is None else min(best, obj)
        else:
            bounded = status == cp_model.INFEASIBLE and best is not None
            found[j] = (-1, None, "NO_BETTER" if bounded else solver.status_name(status))
    return [found[j] for j in range(len(pairs))]
