"""Every accelerator as a `Hierarchy`, and every three-level `Mapping` as a `LoopNest` on it.

`of_arch(arch)` is the hardware YAML's own hierarchy when it declares one (`array:` and `memories:`), else the
three-level model's: a systolic rows x cols array; per-PE registers holding A, B and C; one global buffer serving
the whole array; DRAM.

`nest_of_mapping(arch, op, mapping)` writes a three-level mapping as the loop nest it stands for, innermost first:
the dataflow's temporal dim over the whole tile (os: k, ws: m, is: n), held at the registers by the stationary
operand (C, B, A); the array folds of the two spatial dims; the DRAM loops in the mapping's order. The nest
model then reproduces the three-level model's cycles and its buffer and DRAM traffic (tests/cost/test_nest.py),
except for a double-buffered mapping whose two tiles do not fit the global buffer: the three-level model rejects
it, the nest model runs it with one tile and ZigZag's refill window (`edgesim.cost.nest`).
Only tiles the array divides (or that fit within one fold) of dims the tiles divide have such a nest.
"""

from __future__ import annotations

from edgesim.arch import ArchSpec
from edgesim.hierarchy import ArrayAxis, Hierarchy, Interconnect, Memory, MemoryKind
from edgesim.loopnest import LoopNest
from edgesim.mapping import Dataflow, Mapping
from edgesim.ops import Gemm

ROWS, COLS = "rows", "cols"


def of_arch(arch: ArchSpec) -> Hierarchy:
    """The accelerator's hierarchy (see the module docstring)."""
    if arch.hierarchy is not None:
        return arch.hierarchy
    rf, glb, dram = arch.registers, arch.global_buffer, arch.dram
    both = (ROWS, COLS)
    mems = (Memory(name=rf.name, kind=MemoryKind.REGISTER, operands=("A", "B", "C"), capacity_bytes=rf.capacity_bytes,
                   served_axes=(), read_bytes_per_cycle=rf.bandwidth_bytes_per_cycle,
                   write_bytes_per_cycle=rf.bandwidth_bytes_per_cycle, shared_port=True,
                   read_pj_per_byte=rf.read_energy_pj_per_byte, write_pj_per_byte=rf.write_energy_pj_per_byte),
            Memory(name=glb.name, kind=MemoryKind.BUFFER, operands=("A", "B", "C"), capacity_bytes=glb.capacity_bytes,
                   served_axes=both, read_bytes_per_cycle=glb.bandwidth_bytes_per_cycle,
                   write_bytes_per_cycle=glb.bandwidth_bytes_per_cycle, shared_port=True,
                   read_pj_per_byte=glb.read_energy_pj_per_byte, write_pj_per_byte=glb.write_energy_pj_per_byte,
                   latency_cycles=glb.latency_cycles),
            Memory(name=dram.name, kind=MemoryKind.DRAM, operands=("A", "B", "C"), capacity_bytes=dram.capacity_bytes,
                   served_axes=both, read_bytes_per_cycle=dram.bandwidth_bytes_per_cycle,
                   write_bytes_per_cycle=dram.bandwidth_bytes_per_cycle, shared_port=True,
                   read_pj_per_byte=dram.read_energy_pj_per_byte, write_pj_per_byte=dram.write_energy_pj_per_byte,
                   latency_cycles=dram.latency_cycles))
    return Hierarchy(axes=(ArrayAxis(name=ROWS, size=arch.pe_array.rows), ArrayAxis(name=COLS, size=arch.pe_array.cols)),
                     interconnect=Interconnect.SYSTOLIC, memories=mems)


# per dataflow: (dim on rows, dim on cols, dim in time, index of the operand the PE holds: A 0, B 1, C 2)
_SHAPE = {Dataflow.OS: ("m", "n", "k", 2), Dataflow.WS: ("k", "n", "m", 1), Dataflow.IS: ("k", "m", "n", 0)}


def nest_of_mapping(arch: ArchSpec, op: Gemm, mp: Mapping) -> LoopNest:
    """The loop nest a three-level mapping stands for (module docstring); ValueError if it has none."""
    rows_dim, cols_dim, time_dim, held = _SHAPE[mp.dataflow]
    size = {"m": op.m, "n": op.n, "k": op.k}
    tile = {"m": min(mp.tile_m, op.m), "n": min(mp.tile_n, op.n), "k": min(mp.tile_k, op.k)}
    if any(size[d] % tile[d] for d in "mnk"):
        raise ValueError(f"{mp.describe()}: a tile that does not divide its dim has no loop nest")
    spatial: dict[str, int] = {}
    folds: dict[str, int] = {}
    for d, extent in ((rows_dim, arch.pe_array.rows), (cols_dim, arch.pe_array.cols)):
        if tile[d] > extent and tile[d] % extent:
            raise ValueError(f"{mp.describe()}: tile {d} {tile[d]} is neither within one fold nor a multiple of "
                             f"the array's {extent}")
        spatial[d] = min(tile[d], extent)
        folds[d] = tile[d] // spatial[d]
    temporal = [(time_dim, tile[time_dim]), (rows_dim, folds[rows_dim]), (cols_dim, folds[cols_dim])]
    temporal += [(d, size[d] // tile[d]) for d in reversed(mp.dram_order)]
    reg = [0, 0, 0]
    reg[held] = 1
    return LoopNest(spatial=(((rows_dim, spatial[rows_dim]),), ((cols_dim, spatial[cols_dim]),)),
                    temporal=tuple(temporal), bounds=(tuple(reg), (3, 3, 3), (6, 6, 6)),  # type: ignore[arg-type]
                    double_buffer=mp.double_buffer)
