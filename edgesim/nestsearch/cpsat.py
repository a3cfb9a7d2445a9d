"""An exact CP-SAT model of the loop-nest model's latency (`edgesim.cost.nest`, broadcast arrays), for one GEMM and
one spatial unrolling: the solver picks the loop order and every operand's bound at every memory.

Decision variables: `x[i][p]` (loop i at position p, innermost first; identical loops keep their relative order)
and `b[t][j]` (the bound of operand t at on-chip memory j, non-decreasing along t's memories); one boolean per
memory just below DRAM saying whether it double-buffers. Everything else follows with integer constraints, the
nest model's formulas written out:
- per position: its factor and whether its dim indexes each operand (linear in x);
- tiles: prefix products of the indexing factors (`AddMultiplicationEquality`, one per position and operand), read
  at the bound with an element constraint; fills: suffix products of all factors, read at the first indexing loop
  at or above the bound (element constraints over a next-index chain); traffic = fills x tile x constants;
- the refill window of a single-buffered memory below DRAM: the compute time between refills over the product of
  the irrelevant loops at the top of the tile (`AddDivisionEquality`), its stall (fills - 1) x max(0, refill -
  window);
- cycles: each port's bytes over its bandwidth (floors, bandwidths as exact fractions), on-chip = max(compute,
  ports), total = min(the tile pipeline's closed form (`edgesim.cost.pipelining`, `IntModel.pipelined`) with
  on-chip + stalls busy, single buffered): the DRAM-level tiles are the suffix product at the lowest bound below
  DRAM (times the batch), the innermost iterating DRAM loop the loop at that bound (every factor is >= 2), and
  what it indexes moves on every tile unless its tile below DRAM has fewer fills than tiles; the other operands
  with a memory below DRAM are held (`edgesim.cost.nest`): their transfers after an input's first fill (one fill is
  the tile's bytes) and before C's last write-back are the stalls' `caught` bursts (DRAM must have one shared port
  counted in bytes, so that loads and write-backs are their bytes over its bandwidth).

Units and rounding: bytes in 1/`BYTE_SCALE` byte (operand widths must be whole multiples of it), cycles in
1/`CYCLE_SCALE` cycle; each division floors, so the objective can be a few units below the nest model's float
latency. The decoded nest is always re-scored by `edgesim.cost.nest`.
"""

from __future__ import annotations

import time
from fractions import Fraction

from ortools.sat.python import cp_model

from edgesim.cost.nest import REL
from edgesim.hierarchy import OPERANDS, Interconnect, MemoryKind, PortModel
from edgesim.intmodel import IntModel
from edgesim.loopnest import DIMS, LoopNest, NestSet
from edgesim.nestsearch.result import NestResult, score
from edgesim.nestspace import NestSpace

BYTE_SCALE = 8
CYCLE_SCALE = 16

Expr = cp_model.LinearExprT


class NestExactModel(IntModel):
    """The model for one spatial choice `s` of `space`; `decode` reads a solution back as a LoopNest."""

    def __init__(self, space: NestSpace, s: int):
        h, op, om = space.hierarchy, space.op, space.om
        if h.interconnect != Interconnect.BROADCAST:
            raise ValueError("the exact nest model covers broadcast arrays (systolic ones use the three-level model)")
        super().__init__(BYTE_SCALE, CYCLE_SCALE)
        self.space, self.s = space, s
        m = self.model
        self.loops = loops = space.loops(s)
        L = len(loops)
        spatial = space.spatials[s]
        J = len(h.memories)
        axes = [a.name for a in h.axes]
        used = [1] * len(axes)
        sp = [[1, 1, 1] for _ in axes]
        for x, axis in enumerate(spatial):
            for d, f in axis:
                used[x] *= f
                sp[x][DIMS.index(d)] *= f

        def served(j: int) -> list[bool]:
            mem = h.memories[j]
            return [a in mem.served_axes or mem.kind == MemoryKind.DRAM for a in axes]

        def inst(j: int) -> int:
            out = 1
            for x, sv in enumerate(served(j)):
                out *= 1 if sv else used[x]
            return out

        def sp_rel(t: int, x: int) -> int:
            out = 1
            for di in range(3):
                out *= sp[x][di] if REL[t][di] else 1
            return out

        def over(t: int, axes_mask: list[bool]) -> int:
            out = 1
            for x, on in enumerate(axes_mask):
                out *= sp_rel(t, x) if on else 1
            return out

        T = 1
        for _, f in loops:
            T *= f
        cover = [1, 1, 1]
        for di, f in loops:
            cover[di] *= f
        for x in range(len(axes)):
            for di in range(3):
                cover[di] *= sp[x][di]
        c_elems = cover[0] * cover[1] * op.batch

        # positions
        self.x = [[m.new_bool_var(f"x_{i}_{p}") for p in range(L)] for i in range(L)]
        for i in range(L):
            m.add_exactly_one(self.x[i])
        for p in range(L):
            m.add_exactly_one([self.x[i][p] for i in range(L)])
        pos = [sum(p * self.x[i][p] for p in range(L)) for i in range(L)]
        for i in range(L):
            for i2 in range(i + 1, L):
                if loops[i] == loops[i2]:
                    m.add(pos[i] < pos[i2])
        fvals = sorted({f for _, f in loops})
        fac = [self.lin(f"fac_{p}", sum(f * self.x[i][p] for i, (_, f) in enumerate(loops)), max(fvals))
               for p in range(L)]
        sfx = [self._const("sfx_end", 1)]
        for p in reversed(range(L)):
            sfx.insert(0, self.product(f"sfx_{p}", fac[p], sfx[0], cap=T))
        pre: list[list[cp_model.IntVar]] = []
        fillsat: list[list[cp_model.IntVar]] = []
        topat: list[list[cp_model.IntVar]] = []
        for t in range(3):
            rel_t = [self.lin(f"rel_{t}_{p}", sum(self.x[i][p] for i, (d, _) in enumerate(loops) if REL[t][d]), 1)
                     for p in range(L)]
            relb = []
            for p in range(L):
                rb = m.new_bool_var(f"relb_{t}_{p}")
                m.add(rb == rel_t[p])
                relb.append(rb)
            rel_total = 1
            for di, f in loops:
                rel_total *= f if REL[t][di] else 1
            g = [self.lin(f"g_{t}_{p}", 1 + sum((f - 1) * self.x[i][p] for i, (d, f) in enumerate(loops) if REL[t][d]),
                           max(fvals)) for p in range(L)]
            pr = [self._const(f"pre_{t}_0", 1)]
            for p in range(L):
                pr.append(self.product(f"pre_{t}_{p + 1}", pr[p], g[p], cap=rel_total))
            pre.append(pr)
            nr = [m.new_int_var(L, L, f"nr_{t}_{L}")]
            for p in reversed(range(L)):
                v = m.new_int_var(p, L, f"nr_{t}_{p}")
                m.add(v == p).only_enforce_if(relb[p])
                m.add(v == nr[0]).only_enforce_if(relb[p].Not())
                nr.insert(0, v)
            fl = []
            for p in range(L + 1):
                v = m.new_int_var(1, T, f"fills_{t}_{p}")
                m.add_element(nr[p], sfx, v)
                self.ub[v.name] = T
                fl.append(v)
            fillsat.append(fl)
            # top[p]: product of the loops at positions below p above the last indexing loop (1 if p's loop indexes)
            tp = [self._const(f"top_{t}_0", 1)]
            for p in range(L):
                aux = self.product(f"topx_{t}_{p}", tp[p], fac[p], cap=T)
                v = m.new_int_var(1, T, f"top_{t}_{p + 1}")
                m.add(v == 1).only_enforce_if(relb[p])
                m.add(v == aux).only_enforce_if(relb[p].Not())
                self.ub[v.name] = T
                tp.append(v)
            topat.append(tp)

        # bounds, tiles and fills at each memory
        self.b: dict[tuple[int, int], cp_model.IntVar] = {}
        tile: dict[tuple[int, int], cp_model.IntVar] = {}
        fills: dict[tuple[int, int], cp_model.IntVar] = {}
        for t, name in enumerate(OPERANDS):
            chain = h.chain(name)
            prev = None
            for j in chain[:-1]:
                bv = m.new_int_var(0, L, f"b_{t}_{j}")
                if prev is not None:
                    m.add(bv >= prev)
                prev = bv
                self.b[t, j] = bv
                tile[t, j] = self._element(f"tile_{t}_{j}", bv, pre[t])
                fills[t, j] = self._element(f"fl_{t}_{j}", bv, fillsat[t])

        b_stored = om.b_stored_bytes / (op.k * op.n)

        def width(t: int, j: int, final: bool = False) -> int:
            w = (om.a_bytes if t == 0 else (om.b_bytes if j == h.chain("B")[0] else b_stored) if t == 1
                 else (om.c_bytes if final else om.psum_bytes))
            q = w * BYTE_SCALE
            if abs(q - round(q)) > 1e-9:
                raise ValueError(f"operand {OPERANDS[t]} is {w:g} B per element, not a multiple of 1/{BYTE_SCALE} B")
            return round(q)

        batch = op.batch
        reads: list[list[Expr]] = [[] for _ in range(J)]
        writes: list[list[Expr]] = [[] for _ in range(J)]
        preads: list[list[Expr]] = [[] for _ in range(J)]
        pwrites: list[list[Expr]] = [[] for _ in range(J)]
        rub = [0] * J
        wub = [0] * J
        first_in: list[Expr] = []
        first_ub = 0
        stalls: list[Expr] = []
        stall_ub = 0
        capacity = [mem.capacity_bytes for mem in h.memories]
        need: dict[int, list[Expr]] = {}
        two: dict[tuple[int, int], cp_model.IntVar] = {}
        doubles: dict[int, list[Expr]] = {}
        dram = h.memories[-1]
        per_iter = om.stretch  # broadcast: cycles per temporal iteration

        def add(lst: list[list[Expr]], ubs: list[int], j: int, e: Expr, ub: int) -> None:
            lst[j].append(e)
            ubs[j] += ub

        # access-granular ports (PortModel.ACCESS): whole cycles per transfer, in 1/CYCLE_SCALE cycles per instance
        access = [mem.port_model == PortModel.ACCESS for mem in h.memories]
        acc_r: list[list[Expr]] = [[] for _ in range(J)]
        acc_w: list[list[Expr]] = [[] for _ in range(J)]
        acc_ub = [[0, 0] for _ in range(J)]

        def port_bw(j: int, write: bool) -> Fraction:
            mem = h.memories[j]
            bw = mem.write_bytes_per_cycle if write and not mem.shared_port else mem.read_bytes_per_cycle
            return Fraction(bw).limit_denominator(10_000)

        def ceil_const(j: int, write: bool, per: int) -> int:
            """ceil(per / bandwidth) for `per` in 1/BYTE_SCALE bytes."""
            bw = port_bw(j, write)
            return -(-(per * bw.denominator) // (BYTE_SCALE * bw.numerator))

        def ceil_var(name: str, j: int, write: bool, x: cp_model.IntVar, k: int) -> cp_model.IntVar:
            """ceil(x * k / bandwidth), x * k in 1/BYTE_SCALE bytes."""
            bw = port_bw(j, write)
            den = BYTE_SCALE * bw.numerator
            num = self.lin(f"{name}_n", x * (k * bw.denominator) + (den - 1), self.ub[x.name] * k * bw.denominator + den)
            q = m.new_int_var(0, self.ub[num.name] // den, name)
            m.add_division_equality(q, num, den)
            self.ub[name] = self.ub[num.name] // den
            return q

        def access_cycles(j: int, write: bool, events: Expr, ub: int) -> None:
            if access[j]:
                (acc_w if write else acc_r)[j].append(events * (CYCLE_SCALE * batch))
                acc_ub[j][int(write)] += ub * CYCLE_SCALE * batch

        dram_reads: list[list[Expr]] = []  # per operand, its DRAM port reads (the tail of preads[J - 1] it adds)
        fill_bytes: dict[int, cp_model.LinearExpr] = {}  # per input with a memory below DRAM: one fill's DRAM reads
        for t, name in enumerate(OPERANDS):
            n_before = len(preads[J - 1])
            chain = h.chain(name)
            j0 = chain[0]
            is_reg = h.memories[j0].kind == MemoryKind.REGISTER
            for j in chain[:-1]:
                need.setdefault(j, []).append(tile[t, j] * (over(t, served(j)) * width(t, j)))
            if t < 2:
                mac = fillsat[t][0]
                k = inst(j0) * over(t, served(j0)) * width(t, j0) * batch
                add(reads, rub, j0, mac * k, T * k)
                latch = None
                if is_reg and len(chain) > 1:
                    latch = m.new_bool_var(f"latch_{t}")
                    m.add(self.b[t, j0] == 0).only_enforce_if(latch)
                    m.add(self.b[t, j0] >= 1).only_enforce_if(latch.Not())
                    held = m.new_bool_var(f"held_{t}")
                    m.add(held + latch == 1)
                    kept = self.product(f"macport_{t}", mac, held, cap=T)
                    add(preads, [0] * J, j0, kept * k, T * k)
                else:
                    kept = mac
                    preads[j0].append(mac * k)
                q0 = ceil_const(j0, False, over(t, served(j0)) * width(t, j0))
                access_cycles(j0, False, kept * q0, T * q0)
                for i in range(len(chain) - 1):
                    c, p = chain[i], chain[i + 1]
                    ft = self.product(f"ft_{t}_{c}", fills[t, c], tile[t, c], cap=self.ub_product(fills[t, c], tile[t, c]))
                    ub = self.ub[ft.name]
                    kw = inst(c) * over(t, served(c)) * width(t, c) * batch
                    kr = over(t, served(p)) * inst(p) * width(t, p) * batch  # the union of the children's tiles
                    add(writes, wub, c, ft * kw, ub * kw)
                    add(reads, rub, p, ft * kr, ub * kr)
                    if i == 0 and latch is not None:
                        kept = self.product(f"wport_{t}", ft, held, cap=ub)
                        pwrites[c].append(kept * kw)
                    else:
                        pwrites[c].append(ft * kw)
                    preads[p].append(ft * kr)
                    for j, write, kk in ((c, True, over(t, served(c)) * width(t, c)),
                                         (p, False, over(t, served(p)) * width(t, p))):
                        if access[j]:
                            q = ceil_var(f"q_{t}_{c}_{j}", j, write, tile[t, c], kk)
                            ev = self.product(f"ev_{t}_{c}_{j}", fills[t, c], q, cap=T * self.ub[q.name])
                            if j == c and i == 0 and latch is not None:
                                ev = self.product(f"evh_{t}_{c}", ev, held, cap=self.ub[ev.name])
                            access_cycles(j, write, ev, self.ub[ev.name])
                below = chain[-2] if len(chain) > 1 else None
                if below is not None:
                    kf = inst(below) * over(t, served(below)) * width(t, below) * batch
                    first_in.append(tile[t, below] * kf)
                    first_ub += self.ub[tile[t, below].name] * kf
                    fill_bytes[t] = tile[t, below] * (over(t, served(J - 1)) * inst(J - 1) * width(t, J - 1))
            else:
                upd = T * inst(j0) * over(t, served(j0)) * batch
                ps = width(t, j0)
                add(writes, wub, j0, upd * ps, upd * ps)
                add(reads, rub, j0, (upd if is_reg else upd - c_elems) * ps, upd * ps)
                if not is_reg:
                    preads[j0].append((upd - c_elems) * ps)
                    pwrites[j0].append(upd * ps)
                    if access[j0]:
                        union0 = inst(j0) * over(t, served(j0))
                        first_ev = c_elems // (union0 * batch)
                        for write in (False, True):
                            q0 = ceil_const(j0, write, over(t, served(j0)) * ps)
                            ev0 = (T if write else T - first_ev) * q0
                            access_cycles(j0, write, ev0, ev0)
                for i in range(len(chain) - 1):
                    c, p = chain[i], chain[i + 1]
                    ft = self.product(f"ft_{t}_{c}", fills[t, c], tile[t, c], cap=self.ub_product(fills[t, c], tile[t, c]))
                    ku = over(t, served(p)) * inst(p) * batch
                    up = ft * ku
                    up_ub = self.ub[ft.name] * ku
                    final = p == J - 1
                    psb = width(t, p)
                    up_bytes = (up - c_elems) * psb + c_elems * width(t, p, final=final)
                    down_bytes = (up - c_elems) * psb
                    add(writes, wub, p, up_bytes, up_ub * psb)
                    add(reads, rub, p, down_bytes, up_ub * psb)
                    pwrites[p].append(up_bytes)
                    preads[p].append(down_bytes)
                    if not (i == 0 and is_reg):
                        add(reads, rub, c, up_bytes, up_ub * psb)
                        add(writes, wub, c, down_bytes, up_ub * psb)
                        preads[c].append(up_bytes)
                        pwrites[c].append(down_bytes)
                    sides = [(p, over(t, served(p)))] + ([] if i == 0 and is_reg else [(c, over(t, served(c)))])
                    if any(access[j] for j, _ in sides):
                        # distinct tiles (first visits): the padded outputs over the elements one fill moves
                        per_fill = self.lin(f"pf_{t}_{c}", tile[t, c] * (over(t, served(p)) * inst(p)),
                                             self.ub[tile[t, c].name] * over(t, served(p)) * inst(p))
                        distinct = m.new_int_var(0, c_elems, f"distinct_{t}_{c}")
                        pf1 = m.new_int_var(1, max(1, self.ub[per_fill.name]), f"pf1_{t}_{c}")
                        m.add(pf1 == per_fill)
                        m.add_division_equality(distinct, c_elems // batch, pf1)
                        down_ev = self.lin(f"dev_{t}_{c}", fills[t, c] - distinct, T)
                        for j, kk in sides:
                            if not access[j]:
                                continue
                            for write in (False, True):
                                q = ceil_var(f"qc_{t}_{c}_{j}_{int(write)}", j, write, tile[t, c], kk * psb)
                                up_side = (j == p) == write  # the parent writes what goes up, the child reads it
                                ev_var = fills[t, c] if up_side else down_ev
                                ev = self.product(f"evc_{t}_{c}_{j}_{int(write)}", ev_var, q,
                                                   cap=T * self.ub[q.name])
                                access_cycles(j, write, ev, self.ub[ev.name])
            dram_reads.append(preads[J - 1][n_before:])
            # refill stalls of a single-buffered memory just below DRAM
            if len(chain) > 1:
                jb = chain[-2]
                two[t, jb] = m.new_bool_var(f"two_{t}_{jb}")  # a second tile of t in jb (per operand)
                tw = m.new_int_var(0, 1, f"twoi_{t}")
                m.add(tw == two[t, jb])
                self.ub[tw.name] = 1
                second = self.product(f"second_{t}", tile[t, jb], tw, cap=self.ub[tile[t, jb].name])
                doubles.setdefault(jb, []).append(second * (over(t, served(jb)) * width(t, jb)))
                top_b = self._element(f"topb_{t}", self.b[t, jb], topat[t])
                denom = self.product(f"den_{t}", fills[t, jb], top_b, cap=T * T, lo=1)
                window = m.new_int_var(0, CYCLE_SCALE * per_iter * T, f"win_{t}")
                m.add_division_equality(window, CYCLE_SCALE * per_iter * T, denom)
                # one refill over the DRAM link: the union of the instances' tiles (edgesim.cost.nest)
                union = over(t, [True] * len(axes))
                tub = self.ub[tile[t, jb].name]
                if t < 2:
                    kb = union * width(t, jb)
                    tb = self.lin(f"tb_{t}", tile[t, jb] * kb, tub * kb)
                else:
                    # C leaves as final outputs if its tile completes the reduction, else it also comes back
                    ftv = self.product(f"ftc_{t}", fills[t, jb], tile[t, jb],
                                        cap=self.ub_product(fills[t, jb], tile[t, jb]))
                    rv = m.new_bool_var(f"revisit_{t}")
                    m.add(ftv * (union * batch) >= c_elems + 1).only_enforce_if(rv)
                    m.add(ftv * (union * batch) <= c_elems).only_enforce_if(rv.Not())
                    rvb = m.new_int_var(0, 1, f"rvi_{t}")
                    m.add(rvb == rv)
                    self.ub[rvb.name] = 1
                    rt = self.product(f"rvtile_{t}", tile[t, jb], rvb, cap=tub)
                    cw, pw = width(t, jb, final=True), width(t, jb)
                    tb = self.lin(f"tb_{t}", tile[t, jb] * (union * cw) + rt * (union * (2 * pw - cw)),
                                   tub * union * max(cw, 2 * pw))
                refill = self.cycles(f"refill_{t}", tb, dram.read_bytes_per_cycle)
                excess = m.new_int_var(0, self.ub[refill.name], f"excess_{t}")
                m.add_max_equality(excess, [0, refill - window])
                self.ub[excess.name] = self.ub[refill.name]
                fm1 = self.lin(f"fm1_{t}", fills[t, jb] - 1, T)
                st = self.product(f"stall_{t}", fm1, excess, cap=T * self.ub[refill.name])
                eff = m.new_int_var(0, self.ub[st.name] * batch, f"stalleff_{t}")
                m.add(eff >= st * batch - (self.ub[st.name] * batch) * two[t, jb])
                stalls.append(eff)
                stall_ub += self.ub[st.name] * batch

        for j, terms in need.items():
            cap = int(capacity[j] * BYTE_SCALE)
            m.add(cp_model.LinearExpr.sum(terms + doubles.get(j, [])) <= cap)

        # cycles
        cyc: list[cp_model.IntVar] = []
        for j, mem in enumerate(h.memories):
            k = inst(j)
            r_ub, w_ub = rub[j] + 1, wub[j] + 1
            if access[j]:
                ar = self.lin(f"accr_{j}", cp_model.LinearExpr.sum(acc_r[j]), acc_ub[j][0])
                aw = self.lin(f"accw_{j}", cp_model.LinearExpr.sum(acc_w[j]), acc_ub[j][1])
                if mem.shared_port:
                    cyc.append(self.lin(f"pc_{j}", ar + aw, acc_ub[j][0] + acc_ub[j][1]))
                else:
                    v = m.new_int_var(0, max(acc_ub[j]), f"pc_{j}")
                    m.add_max_equality(v, [ar, aw])
                    self.ub[v.name] = max(acc_ub[j])
                    cyc.append(v)
            elif mem.shared_port:
                tot = self.lin(f"port_{j}", cp_model.LinearExpr.sum(preads[j] + pwrites[j]), r_ub + w_ub)
                cyc.append(self.cycles(f"pc_{j}", tot, mem.read_bytes_per_cycle * k))
            else:
                p_r = self.lin(f"portr_{j}", cp_model.LinearExpr.sum(preads[j]), r_ub)
                p_w = self.lin(f"portw_{j}", cp_model.LinearExpr.sum(pwrites[j]), w_ub)
                rr = self.cycles(f"pr_{j}", p_r, mem.read_bytes_per_cycle * k)
                ww = self.cycles(f"pw_{j}", p_w, mem.write_bytes_per_cycle * k)
                v = m.new_int_var(0, max(self.ub[rr.name], self.ub[ww.name]), f"pc_{j}")
                m.add_max_equality(v, [rr, ww])
                self.ub[v.name] = max(self.ub[rr.name], self.ub[ww.name])
                cyc.append(v)
        compute = CYCLE_SCALE * batch * om.stretch * T
        on_ub = max([compute] + [self.ub[c.name] for c in cyc[:-1]])
        on_chip = m.new_int_var(0, on_ub, "on_chip")
        m.add_max_equality(on_chip, [compute, *cyc[:-1]])
        dram_c = cyc[-1]
        if not dram.shared_port or access[J - 1]:
            raise ValueError("the exact nest model needs a DRAM with one shared port counted in bytes")
        kd = inst(J - 1)
        stall = self.lin("stall", sum(stalls), stall_ub)
        busy = self.lin("busy", on_chip + stall, on_ub + stall_ub)
        # the DRAM-level tiles: below the lowest bound under DRAM; every loop's factor is at least 2, so the innermost
        # DRAM loop that iterates is the loop at that bound (none when it is L)
        belows = [self.b[t, h.chain(name)[-2]] for t, name in enumerate(OPERANDS) if len(h.chain(name)) > 1]
        tb = m.new_int_var(0, L, "tile_bound")
        m.add_min_equality(tb, belows or [self._const("no_bound", L)])
        lat = round(dram.latency_cycles * CYCLE_SCALE)
        dram_tiles = self._element("dram_tiles", tb, sfx)
        tiles_out = self.lin("tiles_out", dram_tiles * batch, T * batch)
        one = self._const("one", 1)
        trips_in = self._element("trips_inner", tb, [*fac, one])
        inner = []
        for di in range(3):
            at = [self.lin(f"is_{di}_{p}", sum(self.x[i][p] for i, (dd, _) in enumerate(loops) if dd == di), 1)
                  for p in range(L)]
            inner.append(self._element(f"inner_{di}", tb, [*at, self._const(f"zero_{di}", 0)]))
        # what that loop indexes moves on every tile, unless its tile below DRAM spans several DRAM tiles (fewer fills
        # than tiles); an operand with a memory below DRAM that does not move on every tile is held: it moves once per
        # fill, and the prefetch window catches all its transfers but an input's first fill and C's last write-back
        rd, every_b, ev_b, held_b, caught_b = [], [], [], [], []
        c_held: cp_model.IntVar | None = None
        for t, name in enumerate(OPERANDS):
            r = self.lin(f"dram_rd_{t}", sum(dram_reads[t]), rub[J - 1] + 1)
            d_un = next(d for d in range(3) if not REL[t][d])  # the dim t does not index
            ev = m.new_bool_var(f"every_{t}")
            rd.append(r)
            every_b.append(self.gate(f"every_rd_{t}", ev, r))
            ev_b.append(ev)
            chain = h.chain(name)
            if len(chain) == 1:
                m.add(ev == 1 - inner[d_un])
                continue
            full = m.new_bool_var(f"full_{t}")
            m.add(fills[t, chain[-2]] >= dram_tiles).only_enforce_if(full)
            m.add(fills[t, chain[-2]] <= dram_tiles - 1).only_enforce_if(full.Not())
            m.add(ev <= full)
            m.add(ev <= 1 - inner[d_un])
            m.add(ev >= full - inner[d_un])
            nev = m.new_bool_var(f"held_{t}")
            m.add(nev == 1 - ev)
            held_b.append(self.gate(f"held_rd_{t}", nev, r))
            if t < 2:
                after = self.lin(f"after_first_{t}", r - fill_bytes[t], self.ub[r.name])
                caught_b.append(self.gate(f"caught_rd_{t}", nev, after))
            else:
                caught_b.append(held_b[-1])
                c_held = nev
        rbw = dram.read_bytes_per_cycle * kd
        load_b = self.lin("dram_load_bytes", sum(rd), 3 * (rub[J - 1] + 1))
        loads = self.cycles("loads", load_b, rbw)
        xe = self.cycles("every_loads", self.lin("every_load_bytes", sum(every_b), 3 * (rub[J - 1] + 1)), rbw)
        held_x = self.cycles("held_loads", self.lin("held_load_bytes", sum(held_b), 3 * (rub[J - 1] + 1)), rbw)
        caught_x = self.cycles("caught_loads", self.lin("caught_load_bytes", sum(caught_b), 3 * (rub[J - 1] + 1)), rbw)
        wb = self.lin("writebacks", dram_c - loads, self.ub[dram_c.name])
        we = self.gate("every_writebacks", ev_b[2], wb)
        held_w = self.gate("held_writebacks", c_held, wb) if c_held is not None else self._const("no_held_w", 0)
        burst = self.lin("bursts", dram_c - xe - we - held_x - held_w, self.ub[dram_c.name])
        fin = self.lin("first_in", sum(first_in), first_ub)
        load = self.cycles("first_load", fin, dram.read_bytes_per_cycle)
        x0 = self.minv("first", [load, loads], self.ub["loads"])
        c_chain = h.chain("C")
        if len(c_chain) > 1:
            jb = c_chain[-2]
            kc = over(2, [True] * len(axes)) * width(2, jb, final=True)
            c_last = self.cycles("c_last", self.lin("c_last_bytes", tile[2, jb] * kc, self.ub[tile[2, jb].name] * kc),
                                 dram.write_bytes_per_cycle)
            wl = self.minv("last_writeback", [c_last, wb], self.ub[wb.name])
        else:  # C straight from the array to DRAM: every tile its share
            n_out = m.new_int_var(1, T * batch, "tiles_pos")
            m.add(n_out == tiles_out)
            wl = self.floor_div("last_writeback", wb, self.ub[wb.name], n_out)
        caught_w = self._const("no_caught_w", 0)
        if c_held is not None:
            caught_w = self.gate("caught_writebacks", c_held, self.lin("wb_but_last", wb - wl, self.ub[wb.name]))
        caught = self.lin("caught", caught_x + caught_w, self.ub[caught_x.name] + self.ub[wb.name])
        pipe = self.pipelined(busy, xe, we, burst, dram_c, x0, wl, tiles_out, trips_in, lat, caught)
        single = self.lin("single", on_chip + dram_c + tiles_out * lat, on_ub + self.ub[dram_c.name] + T * batch * lat)
        self.total = self.minv("total", [pipe, single], self.ub["single"])
        m.minimize(self.total)

    # helpers: non-negative integer variables with tracked upper bounds
    def _const(self, name: str, value: int) -> cp_model.IntVar:
        v = self.model.new_constant(value)
        self.ub[v.name] = value
        return v

    def _element(self, name: str, index: cp_model.IntVar, values: list[cp_model.IntVar]) -> cp_model.IntVar:
        ub = max(self.ub.get(v.name, 1) for v in values)
        v = self.model.new_int_var(0, ub, name)
        self.model.add_element(index, values, v)
        self.ub[name] = ub
        return v

    def decode(self, value: cp_model.CpSolver | cp_model.CpSolverSolutionCallback) -> LoopNest:
        L = len(self.loops)
        at = [next(i for i in range(L) if value.value(self.x[i][p])) for p in range(L)]
        temporal = tuple((DIMS[self.loops[i][0]], self.loops[i][1]) for i in at)
        h = self.space.hierarchy
        bounds = []
        for j, mem in enumerate(h.memories):
            row = []
            for t in range(3):
                if mem.kind == MemoryKind.DRAM:
                    row.append(L)
                elif (t, j) in self.b:
                    row.append(int(value.value(self.b[t, j])))
                else:
                    row.append(0)
            bounds.append((row[0], row[1], row[2]))
        return LoopNest(spatial=self.space.spatials[self.s], temporal=temporal, bounds=tuple(bounds),
                        double_buffer=True)


class _Trace(cp_model.CpSolverSolutionCallback):
    """Each improving solution, decoded, with the time it was found."""

    def __init__(self, em: NestExactModel, t0: float):
        super().__init__()
        self.em, self.t0 = em, t0
        self.log: list[tuple[float, LoopNest]] = []

    def on_solution_callback(self) -> None:
        self.log.append((time.perf_counter() - self.t0, self.em.decode(self)))


def cpsat_search(space: NestSpace, *, deterministic_limit: float | None = 10.0, seconds: float | None = None,
                 seed: int = 0, workers: int = 1) -> NestResult:
    """The exact model per spatial choice, the budget shared out as the three-level searcher does (what a quickly
    proved model leaves goes on). `deterministic_limit` (OR-Tools deterministic time, reproducible) or `seconds`
    (wall clock, for equal-wall-time comparisons; then the answer depends on the machine). Every solution the solver
    reports is decoded and re-scored by the nest model; the trace records when each improvement was found."""
    if deterministic_limit is None and seconds is None:
        raise ValueError("give a deterministic or a wall-clock budget")
    out = NestResult("cpsat")
    t0 = time.perf_counter()
    n = len(space.spatials)
    for s in range(n):
        em = NestExactModel(space, s)
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.num_workers = workers
        p.random_seed = seed
        p.catch_sigint_signal = False
        if deterministic_limit is not None:
            p.max_deterministic_time = deterministic_limit / (n - s)
        if seconds is not None:
            p.max_time_in_seconds = max(0.0, seconds - (time.perf_counter() - t0)) / (n - s)
        trace = _Trace(em, t0)
        solver.solve(em.model, trace)
        for found, nest in trace.log:  # in the order found: offer keeps the improvements and their times
            ns = NestSet.of([nest])
            out.offer(space, ns, score(space, ns), found)
            out.evaluated += 1
        if deterministic_limit is not None:
            deterministic_limit = max(0.0, deterministic_limit - solver.deterministic_time)
    out.wall_seconds = time.perf_counter() - t0
    return out
