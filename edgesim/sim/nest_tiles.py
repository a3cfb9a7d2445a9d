"""The tile simulator on loop nests: the DRAM-level tiles of a `LoopNest` on a `Hierarchy`, played by `pipeline`.

DRAM-level loops. Each operand t has a memory just below DRAM in its chain, holding its tile across its bound b_t
(the innermost b_t temporal loops). The DRAM-level loops are the temporal loops at or above lo = min_t b_t, plus the
batch, outermost (it indexes every operand). One iteration of them is one tile: everything below lo (and the
spatial unrolling) runs inside it. An operand held only by DRAM streams from it: it has no on-chip tile, so its
bound is taken as 0, which makes every temporal iteration a DRAM-level tile, and its per-tile DRAM traffic is its
MAC-side traffic (`edgesim.cost.nest`: an input read whenever a loop that indexes it advances; C's partial sums
written every iteration and read back but the first time), loaded before and written back after the iteration.
That is pessimistic (a real stream overlaps within the iteration) but moves exactly the model's bytes.

Events. `edgesim.cost.nest` counts a memory's tile of t as filled once per iteration of the loops from
θ = nxt_t(b) up, where nxt_t(b) is the first loop at or above the bound b that indexes t and iterates (a systolic
PE register: θ = b). In time, a fill happens exactly at the iterations where a loop >= θ advances (the loops below
it wrap): when loop θ itself advances it indexes t, when a loop above it advances loop θ wraps, and a loop in
[b, θ) does not index t. So per DRAM-level tile, with d_now the loop that advanced to reach it (the innermost
DRAM-level loop not at its first index; the batch counts as above every loop; the very first tile as everything),
the fill events ("starts") of threshold θ are
- θ < lo: Π_{lo > i >= θ} f_i (every tile, the same: the tile begins with one and its inner loops add the rest);
- θ >= lo: 1 if d_now >= θ, else 0.
A tile's data leave at the same events seen from its end ("ends": d_next, the loop that advances next). C's first
visit of an element ("first": all k loops >= θ at their first index, i.e. every DRAM-level k loop at its first
index, times Π of the non-k loops in [θ, lo) when θ < lo) needs no partial sums back; its last visit ("final": every
DRAM-level k loop at its last index) leaves at output width. The model's DRAM reads and writes are sums of these
events times per-event bytes, so summed over the tiles the simulator moves exactly the model's DRAM bytes
(tests/sim/test_nest_tiles.py). A tile's attributes depend only on which thresholds d_now and d_next reach and on
the two k flags: as in `tiles.py`, each loop contributes its first, middle and last iterations, and identical
subtrees are shared (the tree is a DAG) and merged when adjacent.

Per tile:
- `load_parts`: A and B at their starts above their below-DRAM bound (the union over the array of the tiles below
  one DRAM instance, at DRAM's width: B compressed), C's partial sums at its revisits (starts that are not firsts);
- `writeback_bytes`: C at its ends, partial sums at accumulator width, the final visit at output width;
- `compute_cycles`: broadcast: the tile's temporal iterations x stretch; systolic: that plus the fill/skew/drain of
  every fold starting in it (a fold starts when a loop at or above the stationary operand's register bound advances:
  `edgesim.cost.nest`'s fold count);
- on-chip ports: every on-chip memory's port traffic of the tile (MAC-side reads and accumulations, fills of inner
  memories, its own fills and drains, per `edgesim.cost.nest`'s rules and the same events), in cycles as the model
  prices it: bytes per active instance over the bandwidth, or, for a port counted per access (`PortModel.ACCESS`),
  ceil(bytes per instance of one transfer / bandwidth) whole cycles per transfer of each stream; a shared port
  carries reads plus writes, split ports the larger. (Per transfer, not per average: the model rounds up a stream's
  average transfer, so it charges a cycle to the first visits of C, which move no partial sums.) The pipeline
  occupies the array for max(compute, port cycles); to express "the busiest on-chip port in cycles" without a new
  field, `buffer_bytes` holds the tile's busiest port cycles and the ports get a buffer bandwidth of 1 B/cycle
  (`register_port_bytes` is 0: the register files are among the memories). `simulate_nest` reports the real bytes
  through the hierarchy's buffers (kind buffer) as `SimResult.buffer_bytes`; `utilization["global_buffer"]` is the
  busiest on-chip port's busy share;
- `macs`: the tile's MACs, padding included (the model's `macs`).

DRAM: one channel (or one per operand, `per_operand`) at DRAM's read bandwidth (hierarchies built from a config
give DRAM one shared port) and its latency. Buffering (`double_buffered`): the pipeline double-buffers when the nest
asks for it and every memory just below DRAM can hold a second tile of every operand it keeps for DRAM beside all its
first tiles; otherwise it single-buffers. The model (ZigZag's rule) doubles the subset of operands that fits with the
least stall and lets an operand with one tile refill inside the window its top irrelevant loops leave; a tile
pipeline overlaps all of a tile's transfers or none, and running it double-buffered would overlap transfers the
buffer cannot hold, so the simulator takes the physically possible, pessimistic side (`single_buffered=` overrides).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field, replace

from edgesim.cost.nest import supported
from edgesim.hierarchy import OPERANDS, Hierarchy, Interconnect, MemoryKind
from edgesim.loopnest import DIMS, LoopNest
from edgesim.operands import OperandModel
from edgesim.ops import Gemm
from edgesim.sim.pipeline import Ports, SimResult, play_tree
from edgesim.sim.tiles import TENSOR_DIMS, Node, Seq, Tile, _classes

# slots of a tile's quantity vector; on-chip memory j's port reads and writes follow at _PORT + 2j, _PORT + 2j + 1
_LOAD = {"A": 0, "B": 1, "C": 2}
_WB, _COMPUTE, _MACS, _PORT = 3, 4, 5, 6
# event kinds (module docstring): starts, ends, starts that are first visits, ends that are final visits, and the
# differences start - first (revisits) and end - final (partial leaves)
START, END, FIRST, FINAL, REVISIT, PARTIAL = "start", "end", "first", "final", "revisit", "partial"


@dataclass(frozen=True, slots=True)
class NestTile(Tile):
    """A loop-nest tile. `buffer_bytes` holds the busiest on-chip port's cycles (module docstring); the per-memory
    port cycles and the bytes through the buffers are kept for reporting."""

    port_cycles: tuple[float, ...] = ()  # per on-chip memory (the hierarchy's order, DRAM excluded)
    buffer_traffic: float = 0.0  # bytes read and written at memories of kind buffer


@dataclass(frozen=True, slots=True)
class _Flow:
    """`amount` bytes (all instances) per event of `kind` at threshold `theta` into `slot`; at a memory whose port is
    counted per access, each event also occupies `cycles` whole port cycles."""

    kind: str
    theta: int
    slot: int
    amount: float
    cycles: float = 0.0


@dataclass(slots=True)
class _Plan:
    h: Hierarchy
    lo: int
    dims: tuple[str, ...]
    fac: tuple[int, ...]
    flows: list[_Flow]
    inst: list[int]
    access: list[bool]  # the memory's port is counted in whole cycles per transfer (PortModel.ACCESS)
    double_buffer: bool  # the pipeline may double-buffer (`double_buffered`)
    thresholds: list[int] = field(default_factory=list)
    span: list[int] = field(default_factory=list)  # span[θ] = Π_{θ <= i < lo} f_i
    span_nk: list[int] = field(default_factory=list)  # the same over the loops that are not k

    def count(self, kind: str, theta: int, d_now: int, d_next: int, kf: bool, kl: bool) -> int:
        if kind in (REVISIT, PARTIAL):
            base, sub = (START, FIRST) if kind == REVISIT else (END, FINAL)
            return self.count(base, theta, d_now, d_next, kf, kl) - self.count(sub, theta, d_now, d_next, kf, kl)
        d = d_now if kind in (START, FIRST) else d_next
        if kind in (START, END):
            return self.span[theta] if theta < self.lo else int(d >= theta)
        flag = kf if kind == FIRST else kl
        if not flag:
            return 0
        return self.span_nk[theta] if theta < self.lo else int(d >= theta)

    def tile(self, d_now: int, d_next: int, kf: bool, kl: bool) -> NestTile:
        v = [0.0] * (_PORT + 2 * (len(self.h.memories) - 1))
        cyc = [0.0] * len(v)
        for fl in self.flows:
            n = self.count(fl.kind, fl.theta, d_now, d_next, kf, kl)
            if n:
                v[fl.slot] += n * fl.amount
                cyc[fl.slot] += n * fl.cycles
        ports: list[float] = []
        traffic = 0.0
        for j, m in enumerate(self.h.memories[:-1]):
            r, w, k = v[_PORT + 2 * j], v[_PORT + 2 * j + 1], self.inst[j]
            if self.access[j]:
                rc, wc = cyc[_PORT + 2 * j], cyc[_PORT + 2 * j + 1]
                ports.append(rc + wc if m.shared_port else max(rc, wc))
            elif m.shared_port:
                ports.append((r + w) / (m.read_bytes_per_cycle * k))
            else:
                ports.append(max(r / (m.read_bytes_per_cycle * k), w / (m.write_bytes_per_cycle * k)))
            if m.kind == MemoryKind.BUFFER:
                traffic += r + w
        return NestTile(load_parts=(v[0], v[1], v[2]), writeback_bytes=v[_WB], compute_cycles=v[_COMPUTE],
                        buffer_bytes=max(ports, default=0.0), register_port_bytes=0.0, macs=v[_MACS],
                        port_cycles=tuple(ports), buffer_traffic=traffic)


def _plan(h: Hierarchy, op: Gemm, om: OperandModel, nest: LoopNest) -> _Plan:
    """The per-event flows of the nest (module docstring), each mirroring one count of `edgesim.cost.nest`."""
    reason = supported(om)
    if reason:
        raise ValueError(reason)
    J = len(h.memories)
    dram = J - 1
    if len(nest.spatial) != len(h.axes) or len(nest.bounds) != J:
        raise ValueError(f"the nest has {len(nest.spatial)} spatial axes and {len(nest.bounds)} bound rows; the "
                         f"hierarchy has {len(h.axes)} axes and {J} memories")
    used = [math.prod(f for _, f in axis) for axis in nest.spatial]
    if any(u > a.size for u, a in zip(used, h.axes, strict=True)):
        raise ValueError(f"{nest.describe()}: the spatial unrolling exceeds the array")
    size = {"m": op.m, "n": op.n, "k": op.k}
    if any(nest.factor(d) < size[d] for d in DIMS):
        raise ValueError(f"{nest.describe()}: the loops do not cover the GEMM {op.m}x{op.n}x{op.k}")
    L = len(nest.temporal)
    dims = tuple(d for d, _ in nest.temporal)
    fac = tuple(f for _, f in nest.temporal)
    sp = [{d: math.prod(f for e, f in axis if e == d) for d in DIMS} for axis in nest.spatial]
    served = [[a.name in m.served_axes or m.kind == MemoryKind.DRAM for a in h.axes] for m in h.memories]
    systolic = h.interconnect == Interconnect.SYSTOLIC
    inst = [math.prod(u for u, s in zip(used, served[j], strict=True) if not s) for j in range(J)]

    def sp_rel(t: str, mask: list[bool]) -> int:
        """The unrolling, over the axes in `mask`, of the dims that index t."""
        return math.prod(sp[x][d] for x in range(len(h.axes)) if mask[x] for d in TENSOR_DIMS[t])

    def nxt(t: str, b: int) -> int:
        return next((i for i in range(b, L) if dims[i] in TENSOR_DIMS[t] and fac[i] > 1), L)

    def pre(t: str, b: int) -> int:
        return math.prod(fac[i] for i in range(b) if dims[i] in TENSOR_DIMS[t])

    def bound(j: int, t: str) -> int:
        return L if j == dram else nest.bounds[j][OPERANDS.index(t)]

    b_stored = om.b_stored_bytes / (op.k * op.n)

    def width(t: str, j: int) -> float:
        if t == "B":
            return om.b_bytes if j == h.chain("B")[0] else b_stored
        return om.a_bytes if t == "A" else om.psum_bytes

    def not_served(p: int, c: int) -> list[bool]:
        return [sp_p and not sp_c for sp_p, sp_c in zip(served[p], served[c], strict=True)]

    def theta(t: str, chain: tuple[int, ...], i: int) -> int:
        b = bound(chain[i], t)
        if systolic and i == 0 and h.memories[chain[0]].kind == MemoryKind.REGISTER:
            return b  # a systolic PE reloads its registers every fold
        return nxt(t, b)

    lo = min(bound(h.chain(t)[-2], t) if len(h.chain(t)) > 1 else 0 for t in OPERANDS)
    flows: list[_Flow] = []
    # a memory whose port is counted per access (PortModel.ACCESS, read by value so that this module does not depend
    # on the enum): each transfer of one stream occupies ceil(bytes per instance / port width) whole cycles
    access = [str(getattr(m, "port_model", "bytes")) == "access" for m in h.memories]

    def add(kind: str, th: int, slot: int, amount: float) -> None:
        if not amount:
            return
        cycles = 0.0
        if slot >= _PORT:
            j, write = divmod(slot - _PORT, 2)
            m = h.memories[j]
            if access[j]:
                bw = m.write_bytes_per_cycle if write and not m.shared_port else m.read_bytes_per_cycle
                cycles = float(math.ceil(amount / (inst[j] * bw) - 1e-9))
        flows.append(_Flow(kind, th, slot, float(amount), cycles))

    def rd(j: int) -> int:
        return _PORT + 2 * j

    def wr(j: int) -> int:
        return _PORT + 2 * j + 1

    # compute: one temporal iteration per cycle (x stretch); a systolic array adds each fold's fill, skew and drain
    add(START, 0, _COMPUTE, om.stretch)
    add(START, 0, _MACS, math.prod(used))
    if systolic:
        b0 = nest.bounds[0]
        held = 2 if b0[2] >= max(b0[0], b0[1]) else (0 if b0[0] >= b0[1] else 1)
        rows, cols = h.axes[0].size, h.axes[1].size
        add(START, b0[held], _COMPUTE, 2 * rows + cols - 2 if held != 2 else rows + cols - 2)  # cost.nest.fold_overhead

    for t in ("A", "B"):
        chain = h.chain(t)
        j0 = chain[0]
        mac_theta = 0 if systolic else nxt(t, 0)  # a broadcast MAC holds its input across inner unindexing loops
        mac = inst[j0] * sp_rel(t, served[j0])
        if j0 == dram:  # streamed from DRAM
            add(START, mac_theta, _LOAD[t], mac * width(t, dram))
            continue
        latch = h.memories[j0].kind == MemoryKind.REGISTER and bound(j0, t) == 0  # a pipeline latch: no port
        if not latch:
            add(START, mac_theta, rd(j0), mac * width(t, j0))
        for i in range(len(chain) - 1):
            c, p = chain[i], chain[i + 1]
            th = theta(t, chain, i)
            tile = pre(t, bound(c, t)) * sp_rel(t, served[c])
            if not (latch and i == 0):
                add(START, th, wr(c), tile * inst[c] * width(t, c))
            up = tile * sp_rel(t, not_served(p, c)) * inst[p] * width(t, p)
            add(START, th, _LOAD[t] if p == dram else rd(p), up)

    # C: updates flow up at ends, partial sums come back down at revisits; first visits read nothing back
    psum, out = om.psum_bytes, om.c_bytes
    c_elems = nest.factor("m") * nest.factor("n")  # padded outputs

    def first_elems(th: int) -> float:
        """Elements per first-visit event: the outputs over the first visits (the non-k loops at or above th)."""
        return c_elems / math.prod(fac[i] for i in range(th, L) if dims[i] != "k")

    chain = h.chain("C")
    j0 = chain[0]
    mac = inst[j0] * sp_rel("C", served[j0])
    if j0 == dram:  # streamed: every iteration writes its partial sums to DRAM and reads them back but the first time
        if not math.isclose(mac, first_elems(0), rel_tol=1e-12):
            raise AssertionError(f"C's DRAM events move {mac} elements, first visits {first_elems(0)}")
        add(PARTIAL, 0, _WB, mac * psum)  # each element's last update leaves at the output width
        add(FINAL, 0, _WB, mac * out)
        add(REVISIT, 0, _LOAD["C"], mac * psum)
    elif h.memories[j0].kind != MemoryKind.REGISTER:  # an accumulator register's updates use no port
        add(START, 0, wr(j0), mac * psum)
        add(REVISIT, 0, rd(j0), mac * psum)
        add(FIRST, 0, rd(j0), (mac - first_elems(0)) * psum)  # instances not reduced by j0 hold partial sums apart
    for i in range(len(chain) - 1):
        c, p = chain[i], chain[i + 1]
        th = theta("C", chain, i)
        e = pre("C", bound(c, "C")) * sp_rel("C", served[c]) * sp_rel("C", not_served(p, c)) * inst[p]
        fe = first_elems(th)
        drains = not (i == 0 and h.memories[c].kind == MemoryKind.REGISTER)  # else they ride the array's pipeline
        if p == dram:
            # DRAM serves every axis, so an event moves whole outputs: e == fe (the model's c_elems split evenly)
            if not math.isclose(e, fe, rel_tol=1e-12):
                raise AssertionError(f"C's DRAM events move {e} elements, first visits {fe}")
            add(REVISIT, th, _LOAD["C"], e * psum)
            add(PARTIAL, th, _WB, e * psum)
            add(FINAL, th, _WB, e * out)
            if drains:
                add(REVISIT, th, wr(c), e * psum)
                add(PARTIAL, th, rd(c), e * psum)
                add(FINAL, th, rd(c), e * out)
            continue
        add(END, th, wr(p), e * psum)
        add(REVISIT, th, rd(p), e * psum)
        add(FIRST, th, rd(p), (e - fe) * psum)
        if drains:
            add(END, th, rd(c), e * psum)
            add(REVISIT, th, wr(c), e * psum)
            add(FIRST, th, wr(c), (e - fe) * psum)

    # can every memory just below DRAM hold a second tile of every operand it holds for DRAM (the model doubles any
    # subset that fits; the pipeline doubles all or nothing)
    below = {h.chain(t)[-2] for t in OPERANDS if len(h.chain(t)) > 1}
    need = {j: sum(pre(t, bound(j, t)) * sp_rel(t, served[j]) * width(t, j) for t in h.memories[j].operands)
            for j in below}
    second = {j: sum(pre(t, bound(j, t)) * sp_rel(t, served[j]) * width(t, j) for t in OPERANDS
                     if len(h.chain(t)) > 1 and h.chain(t)[-2] == j) for j in below}
    two = all(need[j] + second[j] <= h.memories[j].capacity_bytes for j in below)

    plan = _Plan(h=h, lo=lo, dims=dims, fac=fac, flows=flows, inst=inst, access=access,
                 double_buffer=nest.double_buffer and two)
    plan.thresholds = sorted({fl.theta for fl in flows if fl.theta >= lo})
    plan.span = [math.prod(fac[i] for i in range(th, lo)) for th in range(lo + 1)]
    plan.span_nk = [math.prod(fac[i] for i in range(th, lo) if dims[i] != "k") for th in range(lo + 1)]
    return plan


def _tree(plan: _Plan, batch: int) -> Seq:
    """The tile tree: batch outermost, then the DRAM-level loops outermost first (unit loops left out)."""
    L = len(plan.fac)
    levels = [("b", batch, L)] + [(plan.dims[i], plan.fac[i], i) for i in range(L - 1, plan.lo - 1, -1)
                                  if plan.fac[i] > 1]
    th = plan.thresholds
    every = len(th)  # the rank of "every loop changed" (the first or last tile, a new batch)

    def rank(i: int) -> int:
        return bisect_right(th, i)

    def rep(r: int) -> int:
        """A loop index whose comparisons with the thresholds are those of rank r."""
        return th[r - 1] if r > 0 else -1

    tiles: dict[tuple[int, int, bool, bool], Tile] = {}
    seqs: dict[tuple[int, int, int, bool, bool], Seq] = {}

    def build(depth: int, rn: int, rx: int, kf: bool, kl: bool) -> Seq:
        key = (depth, rn, rx, kf, kl)
        if key in seqs:
            return seqs[key]
        dim, trips, index = levels[depth]
        items: list[tuple[Node, int]] = []
        for is_first, is_last, reps in _classes(trips):
            # the innermost loop not at its first (last) index decides what changes: deeper levels override
            rn2, rx2 = (rn if is_first else rank(index)), (rx if is_last else rank(index))
            kf2, kl2 = kf and (is_first or dim != "k"), kl and (is_last or dim != "k")
            child: Node
            if depth == len(levels) - 1:
                tk = (rn2, rx2, kf2, kl2)
                if tk not in tiles:
                    tiles[tk] = plan.tile(rep(rn2), rep(rx2), kf2, kl2)
                child = tiles[tk]
            else:
                child = build(depth + 1, rn2, rx2, kf2, kl2)
            if items and items[-1][0] is child:
                items[-1] = (child, items[-1][1] + reps)
            else:
                items.append((child, reps))
        seqs[key] = Seq(tuple(items))
        return seqs[key]

    return build(0, every, every, True, True)


def nest_tile_tree(h: Hierarchy, op: Gemm, om: OperandModel, nest: LoopNest) -> Seq:
    """The DRAM-level tiles of `nest` as nested runs of identical tiles (module docstring)."""
    return _tree(_plan(h, op, om, nest), op.batch)


def double_buffered(h: Hierarchy, op: Gemm, om: OperandModel, nest: LoopNest) -> bool:
    """Whether `simulate_nest` double-buffers the nest by default (module docstring)."""
    return _plan(h, op, om, nest).double_buffer


def _total(node: Node, of: dict[int, float]) -> float:
    """Σ over the tiles of `node` of their buffer traffic (shared subtrees summed once)."""
    if id(node) in of:
        return of[id(node)]
    if isinstance(node, NestTile):
        out = node.buffer_traffic
    elif isinstance(node, Tile):
        out = 0.0
    else:
        out = sum(_total(child, of) * reps for child, reps in node.items)
    of[id(node)] = out
    return out


def simulate_nest(h: Hierarchy, op: Gemm, om: OperandModel, nest: LoopNest, *, max_events: int = 2000,
                  per_operand: bool = False, single_buffered: bool | None = None) -> SimResult:
    """Simulate the DRAM-level tile pipeline of `op` under `nest` on `h` (module docstring).

    `single_buffered`: None derives it (`double_buffered`); True or False forces it.
    """
    plan = _plan(h, op, om, nest)
    tree = _tree(plan, op.batch)
    dram = h.memories[-1]
    sb = not plan.double_buffer if single_buffered is None else single_buffered
    p = Ports(bandwidth=dram.read_bytes_per_cycle, latency=float(dram.latency_cycles), buffer_bandwidth=1.0,
              register_bandwidth=1.0, single_buffered=sb, per_operand=per_operand)
    r = play_tree(tree, p, max_events=max_events)
    return replace(r, buffer_bytes=_total(tree, {}))


__all__ = ["NestTile", "double_buffered", "nest_tile_tree", "simulate_nest"]
