"""The loop-nest cost model: counts, cycles and energy of `LoopNest` mappings on a `Hierarchy`, vectorised over
candidates (`NestSet`).

Reuse (Timeloop's rule, the one `edgesim.cost.access` applies at DRAM): a memory's tile of an operand is
re-filled once per iteration of the loops above its bound, except the loops that do not index the operand and
sit below the first loop above the bound that indexes it and iterates (the tile stays resident across them).
A systolic array's PE registers are the exception: they are re-filled every fold (every iteration of the loops
above their bound), as SCALE-Sim's folds are independent and each pays its preload.

Traffic, per operand and memory, in elements (then bytes at the operand's width):
- an input's memory is written once per fill per instance; its parent is read once per fill for the union of the
  tiles of the instances below one parent instance: the tile times the unrolling, over the axes the parent
  serves and the child does not, of the dims that index the operand (the other axes get the same data by
  multicast);
- the MACs read an input's innermost memory once per temporal iteration for every distinct element the PEs it
  serves use that cycle; in a broadcast array a MAC's input holds its value across the innermost loops that do
  not index the operand (ZigZag's model), so those iterations need no read;
- outputs flow up: a memory receives (writes) one update per fill of its child's tile, spatially reduced over the
  axes whose dims do not index C; each element's first update needs no read, every later one reads the partial
  sum back down (the child's refill) and writes it up again. The last write of each element into DRAM is at the
  output width, every other transfer at the accumulator width. At a MAC-facing register, C costs one read and
  one write per update (the accumulator), and its drains and refills ride the array's pipeline, as in
  `edgesim.cost.access`;
- B is stored compressed above its MAC-facing memory (`OperandModel.b_stored_bytes`), at value width in it.

Cycles:
- compute: broadcast arrays run one temporal iteration per cycle (times the operand model's stretch); systolic
  arrays (two axes) run folds, one per change of the stationary operand (the operand the PE register holds across
  the most loops, the output on ties), each of `fold_overhead` + its iterations (SCALE-Sim's count,
  `edgesim.cost.systolic`);
- each on-chip memory's port: the bytes per active instance over its bandwidth (a shared port carries reads plus
  writes; split ports each their own); for a memory with `PortModel.ACCESS`, whole cycles per transfer instead:
  each stream's transfers x ceil(bytes per transfer per instance / bandwidth), streams never sharing a cycle. At a
  register, the MAC-facing traffic of C and of inputs held across no loop passes through pipeline latches and uses
  no port (docs/register-file.md);
- DRAM: its bytes over its bandwidth; total as in `edgesim.cost.model`: double buffered, the tile pipeline's
  closed form (`edgesim.cost.pipelining`) over the DRAM-level tiles, with on-chip + refill stalls as the busy cycles
  and DRAM's cycles split between the operands' loads and write-backs by their bytes; single buffered, the sum plus
  one latency per tile. An operand moves on every DRAM tile only when the innermost iterating DRAM loop indexes it
  and its tile below DRAM does not span that loop (fills = tiles); otherwise it moves once per fill of that tile, at
  run boundaries, which can be fewer than the runs (one, for a tile that spans them all): the prefetch window
  catches all its transfers but an input's first fill (in the first tile's load) and C's last write-back (exposed
  after the last tile), and all of them count on the DRAM path (`pipelined_cycles`' held transfers).

Energy (pJ): Σ memories Σ operands (read bytes · read pJ/B + write bytes · write pJ/B) + MACs · pJ/MAC.
Capacity: Σ of the operands' tile bytes in a memory must fit it. Double buffering (the nest's flag) is decided per
operand, as ZigZag does at a shared memory: a memory just below DRAM holds a second tile of the operands whose
copies fit beside every operand's first tile (the subset with the least stall); an operand with one tile must be
refilled within the window its tile's top irrelevant loops leave (the last of their iterations frees the tile
piece by piece; ZigZag's rule), and what does not fit stalls the array:
(fills - 1) · max(0, refill cycles - window). (The three-level model instead
rejects a double-buffered mapping whose two tiles do not fit.) Padding (a dim's factors covering more than the
dim) is computed and moved.

The model covers dense operands at one MAC per PE per cycle (`OperandModel.pack` 1, `k_kept` 1); zero skipping and
Bit Fusion packing are modelled by the three-level model (`edgesim.cost.model`) only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgesim.cost.pipelining import pipelined_cycles
from edgesim.hierarchy import OPERANDS, Hierarchy, Interconnect, MemoryKind, PortModel
from edgesim.loopnest import DIMS, LoopNest, NestSet
from edgesim.operands import OperandModel
from edgesim.ops import Gemm

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# REL[t, d]: does dim d (m, n, k) index operand t (A m x k, B k x n, C m x n)
REL = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=bool)


@dataclass(frozen=True, slots=True)
class NestCosts:
    """Costs of n candidate nests. Units: cycles, bytes, pJ. Per memory arrays are (n, memories, operands)."""

    feasible: BoolArray
    pads: BoolArray  # some dim's factors exceed the dim (padded iterations computed)
    need_bytes: FloatArray  # (n, memories)
    compute_cycles: FloatArray
    port_cycles: FloatArray  # (n, memories): on-chip memories' port cycles; DRAM's transfer cycles
    dram_cycles: FloatArray
    total_cycles: FloatArray
    read_bytes: FloatArray
    write_bytes: FloatArray
    memory_energy_pj: FloatArray  # (n, memories)
    mac_energy_pj: FloatArray
    energy_pj: FloatArray
    macs: FloatArray  # MACs executed, padding included
    utilization: FloatArray  # useful MACs / (total cycles · PEs)

    @property
    def dram_bytes(self) -> FloatArray:
        out: FloatArray = self.read_bytes[:, -1].sum(axis=1) + self.write_bytes[:, -1].sum(axis=1)
        return out


def fold_overhead(rows: int, cols: int, input_stationary: BoolArray) -> IntArray:
    """Fill, skew and drain cycles of one systolic fold (`edgesim.cost.systolic.fold_overhead`)."""
    out: IntArray = np.where(input_stationary, 2 * rows + cols - 2, rows + cols - 2).astype(np.int64)
    return out


def _prefix(x: IntArray) -> IntArray:
    """(n, L+1): products of the first 0..L entries."""
    out: IntArray = np.concatenate([np.ones((x.shape[0], 1), dtype=np.int64), np.cumprod(x, axis=1)], axis=1)
    return out


def _suffix(x: IntArray) -> IntArray:
    """(n, L+1): products of entries i..L-1 (1 at L)."""
    out: IntArray = np.concatenate([np.cumprod(x[:, ::-1], axis=1)[:, ::-1],
                                    np.ones((x.shape[0], 1), dtype=np.int64)], axis=1)
    return out


def _next_true(mask: BoolArray) -> IntArray:
    """(n, L+1): the first index >= i where mask is true, L if none."""
    n, L = mask.shape
    idx = np.where(mask, np.arange(L, dtype=np.int64), L)
    idx = np.concatenate([idx, np.full((n, 1), L, dtype=np.int64)], axis=1)
    out: IntArray = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    return out


def _prev_true(mask: BoolArray) -> IntArray:
    """(n, L+1): the last index < i where mask is true, -1 if none."""
    n, L = mask.shape
    idx = np.where(mask, np.arange(L, dtype=np.int64), -1)
    out: IntArray = np.concatenate([np.full((n, 1), -1, dtype=np.int64), np.maximum.accumulate(idx, axis=1)], axis=1)
    return out


def _at(a: IntArray, idx: IntArray) -> IntArray:
    out: IntArray = np.take_along_axis(a, idx[:, None], axis=1)[:, 0]
    return out


def supported(om: OperandModel) -> str:
    """Why the nest model cannot cost an op with this operand model, or ""."""
    if om.pack != 1 or om.k_kept != 1.0:
        return ("the loop-nest model covers dense operands at one MAC per PE per cycle; this op skips zeros or "
                "packs several MACs per PE (use the three-level model)")
    return ""


def evaluate_nests(h: Hierarchy, op: Gemm, om: OperandModel, ns: NestSet, mac_energy_pj: float | None = None
                   ) -> NestCosts:
    """Score every candidate nest of `op` on `h` (see the module docstring)."""
    reason = supported(om)
    if reason:
        raise ValueError(reason)
    n, L = ns.tdim.shape
    J = len(h.memories)
    sizes = np.array([a.size for a in h.axes], dtype=np.int64)
    served = np.array([[a.name in m.served_axes or m.kind == MemoryKind.DRAM for a in h.axes] for m in h.memories])
    used = ns.sp.prod(axis=2)  # (n, X) PEs used along each axis
    T = ns.tfac.prod(axis=1).astype(np.float64)  # temporal iterations
    sfx = _suffix(ns.tfac)
    systolic = h.interconnect == Interconnect.SYSTOLIC

    # per-dim coverage (padding) and the array's fit
    cover = ns.sp.prod(axis=1) * np.stack([_prefix(np.where(ns.tdim == d, ns.tfac, 1))[:, -1] for d in range(3)],
                                          axis=1)
    pads = np.any(cover != np.array([op.m, op.n, op.k]), axis=1)
    fits_array = np.all(used <= sizes, axis=1) & np.all(cover >= np.array([op.m, op.n, op.k]), axis=1)

    width = {"A": om.a_bytes, "C": om.psum_bytes}
    b_stored = om.b_stored_bytes / (op.k * op.n)
    reads = np.zeros((n, J, 3))
    writes = np.zeros((n, J, 3))
    port_reads = np.zeros((n, J))
    port_writes = np.zeros((n, J))
    # access-granular ports (PortModel.ACCESS): whole cycles per transfer, per instance
    access = [m.port_model == PortModel.ACCESS for m in h.memories]
    acc_reads = np.zeros((n, J))
    acc_writes = np.zeros((n, J))
    need = np.zeros((n, J))
    c_elems = (cover[:, 0] * cover[:, 1]).astype(np.float64)  # padded output elements
    first_in = np.zeros(n)
    c_tile: FloatArray | None = None  # elements of C's tile below DRAM (what one write-back moves)
    refills: list[tuple[int, FloatArray, FloatArray, FloatArray, FloatArray]] = []
    held_fills: dict[int, FloatArray] = {}  # per operand with a memory below DRAM: its tile's fills there (per batch)
    tile_bound = np.full(n, L, dtype=np.int64)

    instances: list[FloatArray] = [np.prod(np.where(served[j], 1, used), axis=1).astype(np.float64) for j in range(J)]

    def inst(j: int) -> FloatArray:
        """Active instances of memory j (the PEs used along the axes it does not serve)."""
        return instances[j]

    def port(j: int, write: bool, nbytes: FloatArray, events: FloatArray, per: FloatArray | None = None) -> None:
        """`nbytes` (all instances) through memory j's port in `events` transfers per instance of `per` bytes each
        (default: the average, nbytes / (events x instances))."""
        (port_writes if write else port_reads)[:, j] += nbytes
        if access[j]:
            m = h.memories[j]
            bw = m.write_bytes_per_cycle if write and not m.shared_port else m.read_bytes_per_cycle
            if per is None:
                per = nbytes / np.maximum(events * inst(j), 1e-300)
            (acc_writes if write else acc_reads)[:, j] += np.where(events > 0, events * np.ceil(per / bw - 1e-9), 0.0)

    for t, name in enumerate(OPERANDS):
        chain = h.chain(name)
        rel = REL[t]
        sp_rel = np.prod(np.where(rel[None, None, :], ns.sp, 1), axis=2)  # (n, X)
        relf = np.where(rel[ns.tdim], ns.tfac, 1)
        pre = _prefix(relf)
        nxt = _next_true(rel[ns.tdim] & (ns.tfac > 1))
        bounds = [np.full(n, L, dtype=np.int64) if j == J - 1 else ns.bound[:, j, t] for j in chain]
        tiles = [_at(pre, b) * np.prod(np.where(served[j], sp_rel, 1), axis=1) for j, b in zip(chain, bounds, strict=True)]
        fills = [_at(sfx, _at(nxt, b)).astype(np.float64) for b in bounds]
        if systolic and h.memories[chain[0]].kind == MemoryKind.REGISTER:
            fills[0] = _at(sfx, bounds[0]).astype(np.float64)  # a systolic PE reloads its registers every fold
        below_dram = chain[-2] if len(chain) > 1 else None

        def elem_bytes(j: int, t: int = t, chain: tuple[int, ...] = chain) -> float:
            if t == 1:
                return om.b_bytes if j == chain[0] else b_stored
            return width["A"] if t == 0 else width["C"]

        # capacity (one tile; double buffering is decided below, per memory)
        for i, j in enumerate(chain[:-1]):
            need[:, j] += tiles[i] * elem_bytes(j)  # per instance
        if below_dram is not None:
            # the refill of the tile below DRAM: its bytes, how often, and the window ZigZag allows it when the memory
            # cannot hold two tiles (the iterations of the irrelevant loops at the top of the tile: the last of them
            # frees the tile progressively)
            b = bounds[-2]
            last_rel = _at(_prev_true(rel[ns.tdim] & (ns.tfac > 1)), b)  # the outermost indexing loop inside the tile
            all_pre = _prefix(ns.tfac)
            top_ir = _at(all_pre, b) / _at(all_pre, last_rel + 1)
            # what one refill moves over the DRAM link: the union of the instances' tiles (multicast, reduced)
            moved = tiles[-2] * np.prod(np.where(~served[below_dram], sp_rel, 1), axis=1)
            if t == 2:
                # C's tile goes out to DRAM and, when revisited, its partial sums come back first; a tile that completes
                # the reduction leaves once, as final outputs
                revisit = fills[-2] * moved > c_elems
                c_tile = moved
                per_fill = moved * np.where(revisit, 2 * om.psum_bytes, om.c_bytes)
            else:
                per_fill = moved * elem_bytes(below_dram)
            refills.append((below_dram, fills[-2], per_fill, top_ir, tiles[-2] * elem_bytes(below_dram)))
            held_fills[t] = fills[-2]

        j0 = chain[0]
        # a broadcast array's MAC input holds its operand across the innermost loops that do not index it (ZigZag's
        # model); a systolic PE reads its registers every MAC
        mac_steps = T if systolic or t == 2 else _at(sfx, nxt[:, 0]).astype(np.float64)
        mac_side = mac_steps * inst(j0) * np.prod(np.where(served[j0], sp_rel, 1), axis=1)
        is_reg = h.memories[j0].kind == MemoryKind.REGISTER
        if t < 2:
            reads[:, j0, t] += mac_side * elem_bytes(j0)
            # a register input held across no loop is a pipeline latch: no port
            latch = is_reg & (bounds[0] == 0) if len(chain) > 1 else np.zeros(n, dtype=bool)
            port(j0, False, np.where(latch, 0.0, mac_side * elem_bytes(j0)), mac_steps)
            for i in range(len(chain) - 1):
                c, p = chain[i], chain[i + 1]
                w = fills[i] * tiles[i] * inst(c) * elem_bytes(c)
                r = fills[i] * tiles[i] * np.prod(np.where(served[p] & ~served[c], sp_rel, 1), axis=1) * inst(p)
                writes[:, c, t] += w
                reads[:, p, t] += r * elem_bytes(p)
                port(c, True, np.where(latch, 0.0, w) if i == 0 else w, fills[i])
                port(p, False, r * elem_bytes(p), fills[i])
            if below_dram is not None:
                first_in += tiles[-2] * inst(below_dram) * elem_bytes(below_dram)
        else:
            psum = om.psum_bytes
            # MAC-facing memory: one update (read + write) per temporal iteration per reduced element; straight into DRAM,
            # each element's last update is at the output width
            writes[:, j0, t] += mac_side * psum if j0 != J - 1 else (mac_side - c_elems) * psum + c_elems * om.c_bytes
            if is_reg:
                reads[:, j0, t] += mac_side * psum  # the accumulator; no port
            else:
                reads[:, j0, t] += (mac_side - c_elems) * psum
                # access ports: one transfer per iteration of the updates' union, at the accumulator width; the
                # first visit of each element is a write only
                per = mac_side / (mac_steps * inst(j0)) * psum
                first_events = c_elems / (mac_side / mac_steps)
                port(j0, False, (mac_side - c_elems) * psum, mac_steps - first_events, per)
                port(j0, True, mac_side * psum, mac_steps, per)
            for i in range(len(chain) - 1):
                c, p = chain[i], chain[i + 1]
                up = fills[i] * tiles[i] * np.prod(np.where(served[p] & ~served[c], sp_rel, 1), axis=1) * inst(p)
                final = p == J - 1
                up_bytes = (up - c_elems) * psum + c_elems * (om.c_bytes if final else psum)
                down_bytes = (up - c_elems) * psum
                writes[:, p, t] += up_bytes
                reads[:, p, t] += down_bytes
                # access ports: each fill of the child moves its tile (union over the parent instance) once up,
                # and back down unless it is the element's first visit; counted at the accumulator width
                per_p = up / (fills[i] * inst(p)) * psum
                down_events = fills[i] - c_elems / (up / fills[i])
                port(p, True, up_bytes, fills[i], per_p)
                port(p, False, down_bytes, down_events, per_p)
                if not (i == 0 and is_reg):  # drains and refills of an accumulator ride the pipeline
                    reads[:, c, t] += up_bytes
                    writes[:, c, t] += down_bytes
                    per_c = tiles[i] * psum
                    port(c, False, up_bytes, fills[i], per_c)
                    port(c, True, down_bytes, down_events, per_c)
        if len(chain) > 1:
            tile_bound = np.minimum(tile_bound, bounds[-2])

    # compute cycles
    if h.interconnect == Interconnect.SYSTOLIC:
        b0 = ns.bound[:, 0, :]
        held = np.where(b0[:, 2] >= b0[:, :2].max(axis=1), 2, np.argmax(b0[:, :2], axis=1))
        t_fold = _at(_prefix(ns.tfac), b0[np.arange(n), held]).astype(np.float64)
        folds = T / t_fold
        over = fold_overhead(int(sizes[0]), int(sizes[1]), held != 2)
        compute = op.batch * folds * (over + om.stretch * t_fold)
    else:
        compute = op.batch * om.stretch * T

    # per-memory cycles and the total
    batch = float(op.batch)
    reads *= batch
    writes *= batch
    port_reads *= batch
    port_writes *= batch
    port_cycles = np.zeros((n, J))
    acc_reads *= batch
    acc_writes *= batch
    for j, m in enumerate(h.memories):
        k = inst(j)
        if access[j]:
            port_cycles[:, j] = (acc_reads[:, j] + acc_writes[:, j] if m.shared_port
                                 else np.maximum(acc_reads[:, j], acc_writes[:, j]))
        elif m.shared_port:
            port_cycles[:, j] = (port_reads[:, j] + port_writes[:, j]) / (m.read_bytes_per_cycle * k)
        else:
            port_cycles[:, j] = np.maximum(port_reads[:, j] / (m.read_bytes_per_cycle * k),
                                           port_writes[:, j] / (m.write_bytes_per_cycle * k))
    dram = h.memories[-1]
    dram_cycles = port_cycles[:, -1]
    on_chip = np.maximum(compute, port_cycles[:, :-1].max(axis=1) if J > 1 else 0.0)
    # double buffering, per operand (as ZigZag decides it per operand at a shared memory): a memory just below DRAM
    # holds a second tile of the operands whose copies fit beside every operand's first tile, the subset with the least
    # stall; an operand with one tile must be refilled within the window its tile's top irrelevant loops leave
    # (ZigZag's rule, cost_model.py calc_latency), and what does not fit stalls the array
    capacity = np.array([m.capacity_bytes for m in h.memories])
    per_iter = compute / (batch * T)
    extra = np.zeros((n, J))
    stall = np.zeros(n)
    for j in sorted({r[0] for r in refills}):
        mine = [r for r in refills if r[0] == j]
        stalls = [(fills_j - 1) * np.maximum(0.0, per_fill / dram.read_bytes_per_cycle - per_iter * T / fills_j / top_ir)
                  for _, fills_j, per_fill, top_ir, _ in mine]
        best = np.sum(stalls, axis=0)  # nothing doubled (always fits when the nest fits at all)
        best_extra = np.zeros(n)
        for mask in range(1, 2 ** len(mine)):
            chosen = [i for i in range(len(mine)) if mask >> i & 1]
            add = np.sum([mine[i][4] for i in chosen], axis=0)
            left = np.sum([stalls[i] for i in range(len(mine)) if i not in chosen], axis=0) if len(chosen) < len(mine) \
                else np.zeros(n)
            # least stall, then as many second tiles as fit (a memory that can double-buffer does)
            ok = ns.db & (need[:, j] + add <= capacity[j]) & ((left < best) | ((left == best) & (add > best_extra)))
            best = np.where(ok, left, best)
            best_extra = np.where(ok, add, best_extra)
        stall += best * batch
        extra[:, j] = best_extra
    tiles_out = _at(sfx, tile_bound).astype(np.float64) * batch
    no_overlap = on_chip + dram_cycles + tiles_out * dram.latency_cycles
    # the double-buffered pipeline of DRAM tiles (edgesim.cost.pipelining), as in edgesim.cost.model: DRAM's cycles
    # split between the operands by their bytes; what the innermost DRAM loop that iterates indexes moves on every
    # tile, the rest once per run of that loop; the last tile writes C's tile below DRAM as final outputs
    dram_bytes = port_reads[:, -1] + port_writes[:, -1]
    per_byte = np.divide(dram_cycles, dram_bytes, out=np.zeros(n), where=dram_bytes > 0)
    inner_at = _at(_next_true(ns.tfac > 1), tile_bound)  # the innermost DRAM-level loop that iterates (L: none)
    if L:
        inner_dim = np.where(inner_at < L, _at(ns.tdim, np.minimum(inner_at, L - 1)), 3)
        runs = tiles_out / np.where(inner_at < L, _at(ns.tfac, np.minimum(inner_at, L - 1)), 1)
    else:  # no temporal loop at all: one tile per batch
        inner_dim, runs = np.full(n, 3), tiles_out
    every = np.concatenate([REL, np.ones((1, 3), dtype=bool)])[inner_dim]  # (n, operand)
    # an operand whose tile below DRAM spans several DRAM tiles is filled less often than every tile, even when that
    # loop indexes it (it sits inside the tile): it moves at the starts (C: the ends) of runs, once per fill
    for t, f in held_fills.items():
        every[:, t] &= f * batch >= tiles_out
    loads = reads[:, -1].sum(axis=1) * per_byte
    every_loads = np.where(every, reads[:, -1], 0.0).sum(axis=1) * per_byte
    writebacks = dram_cycles - loads
    every_writebacks = np.where(every[:, 2], writebacks, 0.0)
    first = np.minimum(first_in / dram.read_bytes_per_cycle, loads)
    last_writeback = (np.minimum(c_tile * om.c_bytes / dram.write_bytes_per_cycle, writebacks) if c_tile is not None
                      else writebacks / tiles_out)  # C straight from the array to DRAM: every tile its share
    # an operand that does not move on every tile and whose tile sits in a memory below DRAM moves once per fill of
    # that tile, which can span several runs (then it moves less often than once per run; a tile spanning every DRAM
    # tile moves once, with the first tile): its transfers are held out of the per-run bursts, and the prefetch window
    # must catch all of them but an input's first fill (in the first load) and C's last write-back (w_l)
    burst_loads = loads - every_loads
    burst_writebacks = writebacks - every_writebacks
    held = np.zeros(n)
    held_bursts = np.zeros(n)
    for t, f in held_fills.items():
        x_t = np.where(every[:, t], 0.0, reads[:, -1, t] * per_byte)
        held += x_t
        burst_loads -= x_t
        if t < 2:
            held_bursts += x_t - x_t / (f * batch)
        else:
            w_c = np.where(every[:, 2], 0.0, writebacks)
            held += w_c
            burst_writebacks -= w_c
            held_bursts += x_t + np.where(every[:, 2], 0.0, writebacks - last_writeback)
    np.maximum(burst_loads, 0.0, out=burst_loads)  # rounding
    overlap = np.minimum(pipelined_cycles(on_chip + stall, every_loads, burst_loads, every_writebacks,
                                          burst_writebacks, first, last_writeback, tiles_out, runs,
                                          dram.latency_cycles, held, held_bursts), no_overlap)
    total = np.where(ns.db, overlap, no_overlap)

    need = need + extra
    feasible = fits_array & np.all(need[:, :-1] <= capacity[:-1], axis=1)
    e_r = np.array([m.read_pj_per_byte for m in h.memories])
    e_w = np.array([m.write_pj_per_byte for m in h.memories])
    mem_pj = reads.sum(axis=2) * e_r + writes.sum(axis=2) * e_w
    macs = T * used.prod(axis=1) * batch
    mac_pj = macs * (om.mac_energy_pj if mac_energy_pj is None else mac_energy_pj)
    util = op.macs / (total * h.pes)
    return NestCosts(feasible=feasible, pads=pads, need_bytes=need, compute_cycles=compute, port_cycles=port_cycles,
                     dram_cycles=dram_cycles, total_cycles=total, read_bytes=reads, write_bytes=writes,
                     memory_energy_pj=mem_pj, mac_energy_pj=mac_pj, energy_pj=mem_pj.sum(axis=1) + mac_pj, macs=macs,
                     utilization=util)


def evaluate_nest(h: Hierarchy, op: Gemm, om: OperandModel, nest: LoopNest) -> NestCosts:
    """One nest (a NestSet of one)."""
    return evaluate_nests(h, op, om, NestSet.of([nest]))


__all__ = ["DIMS", "NestCosts", "evaluate_nest", "evaluate_nests", "fold_overhead", "supported"]
