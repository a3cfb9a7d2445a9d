"""A multi-dimensional PE array and a per-operand memory hierarchy: what the loop-nest cost model
(`edgesim.cost.nest`) runs on.

The three-level `ArchSpec` (one rows x cols array; registers, one global buffer, DRAM, each holding every
operand) is the special case every accelerator has (`edgesim.cost.hierarchy.of_arch`). A hardware YAML may
instead describe, as ZigZag and Timeloop do:
- an array of any number of named axes (e.g. ZigZag's edge_tpu_like: D1 8 x D2 8 x D3 4 x D4 4), on which a
  mapping may unroll several GEMM dims per axis;
- memories that hold only some operands (a weight-only register, an input/output SRAM) and that one instance
  serves several array axes (a register shared by the PEs along the axes it serves: the operand is broadcast
  to them, or, for outputs, reduced from them).

Units: bytes, bytes per cycle per instance, pJ per byte, cycles. Operands: A (M x K), B (K x N), C (M x N).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

OPERANDS = ("A", "B", "C")


class Interconnect(StrEnum):
    """How operands reach the PEs.

    systolic: operands hop PE to PE, so every fold pays pipeline fill, skew and drain (SCALE-Sim's count; two axes,
    rows first); broadcast: a memory feeds every PE it serves in the same cycle and outputs are reduced by an adder
    tree, so the array costs one cycle per temporal iteration (ZigZag's and Timeloop's model).
    """

    SYSTOLIC = "systolic"
    BROADCAST = "broadcast"


class PortModel(StrEnum):
    """How a memory's port time is counted.

    bytes: bytes over bandwidth, whatever the operand (a banked or wide memory serving several streams in a cycle);
    access: every transfer of one operand occupies whole port cycles, ceil(bytes / bandwidth), and streams of
    different operands never share a cycle (a single-ported SRAM serving one row per cycle; ZigZag's model).
    """

    BYTES = "bytes"
    ACCESS = "access"


class MemoryKind(StrEnum):
    REGISTER = "register"  # inside a PE (or a PE group): its MAC-facing traffic may use pipeline latches
    BUFFER = "buffer"  # on-chip SRAM
    DRAM = "dram"  # off chip; the outermost level, holds every operand


@dataclass(frozen=True, slots=True, kw_only=True)
class ArrayAxis:
    name: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Memory:
    """One memory. Capacity and bandwidth are per instance; one instance serves the PEs along `served_axes`
    (all of them: one shared memory; none: one per PE).

    Ports: `shared_port` means reads and writes share one port of `read_bytes_per_cycle`; otherwise reads and
    writes each have their own (`read_bytes_per_cycle`, `write_bytes_per_cycle`).
    """

    name: str
    kind: MemoryKind
    operands: tuple[str, ...]
    capacity_bytes: float
    served_axes: tuple[str, ...]
    read_bytes_per_cycle: float
    write_bytes_per_cycle: float
    shared_port: bool
    read_pj_per_byte: float
    write_pj_per_byte: float
    latency_cycles: int = 0
    port_model: PortModel = PortModel.BYTES


@dataclass(frozen=True, slots=True, kw_only=True)
class Hierarchy:
    """The array axes and the memories, innermost first; the last memory is DRAM and holds every operand."""

    axes: tuple[ArrayAxis, ...]
    interconnect: Interconnect
    memories: tuple[Memory, ...]

    def __post_init__(self) -> None:
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise ValueError(f"array axes must have distinct names, got {names}")
        if self.interconnect == Interconnect.SYSTOLIC:
            if len(self.axes) != 2:
                raise ValueError(f"a systolic array has two axes (rows, cols), got {len(self.axes)}")
            first = self.memories[0]
            if first.kind != MemoryKind.REGISTER or set(first.operands) != set(OPERANDS) or first.served_axes:
                raise ValueError("a systolic array's first memory is the PE's register file: kind register, holding "
                                 f"A, B and C, serving no axis; got {first.name!r}")
        if not self.memories or self.memories[-1].kind != MemoryKind.DRAM:
            raise ValueError("the last memory must be DRAM")
        for m in self.memories:
            bad = [a for a in m.served_axes if a not in names]
            if bad:
                raise ValueError(f"memory {m.name!r} serves unknown array axes {bad}; the axes are {names}")
        for t in OPERANDS:
            chain = self.chain(t)
            if not chain or chain[-1] != len(self.memories) - 1:
                raise ValueError(f"operand {t} must be held by DRAM")
            served = [set(self.memories[j].served_axes) for j in chain]
            if any(not lo <= hi for lo, hi in zip(served, served[1:], strict=False)):
                raise ValueError(f"operand {t}: each memory must serve every axis its inner memory serves "
                                 f"({' -> '.join(self.memories[j].name for j in chain)})")

    @property
    def pes(self) -> int:
        out = 1
        for a in self.axes:
            out *= a.size
        return out

    def chain(self, operand: str) -> tuple[int, ...]:
        """Indices of the memories holding `operand`, innermost first."""
        return tuple(j for j, m in enumerate(self.memories) if operand in m.operands)
