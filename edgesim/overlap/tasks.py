"""Each op of a step as tasks on the accelerator's resources, with the durations and bytes of its cost.

Resources: the PE array and the vector unit (engines: one op at a time each), the DRAM channel (one transfer at a
time: loads and stores share its bandwidth) and the global buffer (a capacity in bytes).

An op becomes, in this order:
- **prefetch**: its first tile's inputs, loaded on the DRAM channel (double-buffered GEMMs only: the cost model's
  `first` transfer, `min(tile inputs / bandwidth, DRAM cycles)`);
- **latency**: the DRAM read latency before the first data arrive (occupies no resource);
- **compute**: the op on its engine for `max(on-chip cycles, streamed DRAM cycles)`;
- **stream**: the rest of its DRAM traffic, loads of later tiles and every write-back, on the DRAM channel inside
  the compute window (the cost model overlaps them with compute; where in the window they run is the scheduler's
  choice, a fluid approximation of the interleaved tile transfers).

So one op alone takes prefetch + latency + compute = exactly the cost model's cycles (`edgesim.cost.model`:
latency + first + max(on-chip, DRAM - first) double buffered; single buffered the whole op is compute with its DRAM
traffic as stream and no prefetch; a vector op is latency + max(vector, DRAM, buffer) cycles). A GEMM holds its
mapping's buffer need (`buffer_need_bytes`) from the start of its prefetch to the end of its compute; a vector op
streams through the buffer and holds no modelled capacity.

An output that stays on chip for its readers (`OpTasks.output_stream_cycles`) saves its write-back and each reader's
load of it (`InputRead.stream_cycles`), both taken off the stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edgesim.arch import ArchSpec
from edgesim.cost.model import GemmCost, buffer_need_bytes
from edgesim.cost.vector import IN_BITS, VectorCost, streams
from edgesim.errors import Infeasible
from edgesim.operands import operand_model
from edgesim.ops import Gemm, Op, VectorOp

ENGINES = ("array", "vector")


class GraphNode(Protocol):
    """An op of a step with the tensors it reads and writes (`edgesim.llm.step.StepNode` is one)."""

    @property
    def op(self) -> Op: ...
    @property
    def layer(self) -> int: ...
    @property
    def inputs(self) -> tuple[str, ...]: ...
    @property
    def outputs(self) -> tuple[str, ...]: ...
    @property
    def output_bytes(self) -> float: ...


@dataclass(frozen=True, slots=True)
class InputRead:
    tensor: str
    dram_bytes: float  # this op's DRAM reads of the tensor (a re-fetching mapping reads it more than once)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpTasks:
    name: str
    inputs: tuple[str, ...]  # the tensors it reads and writes (the op graph's edges)
    outputs: tuple[str, ...]
    engine: str  # "array", "vector", or "none" (an infeasible op: no task, its dependencies kept)
    prefetch: float  # cycles on the DRAM channel
    latency: float  # cycles between the prefetch's end and the compute's start
    compute: float  # cycles on the engine with nothing kept on chip
    on_chip: float  # the compute window's floor: the engine's own cycles, however little streams
    stream: float  # cycles on the DRAM channel inside the compute window
    hold_bytes: float  # global buffer held from the prefetch's start to the compute's end
    dram_bytes: float
    output_bytes: float  # of each output tensor, as written to DRAM
    reads: tuple[InputRead, ...]  # DRAM reads of graph tensors (weights are not graph tensors)
    reuse: bool  # its traffic overlaps its compute, so an operand or output kept on chip shortens its stream

    def stream_cycles(self, saved_bytes: float, bandwidth: float) -> float:
        """The stream with `saved_bytes` of its traffic kept on chip (never below zero)."""
        return max(0.0, self.stream - saved_bytes / bandwidth) if self.reuse else self.stream

    def compute_cycles(self, saved_bytes: float, bandwidth: float) -> float:
        """The compute window with `saved_bytes` kept on chip: the on-chip floor or the shorter stream."""
        return max(self.on_chip, self.stream_cycles(saved_bytes, bandwidth)) if self.reuse else self.compute

    @property
    def serial(self) -> float:
        """Cycles alone, one op after another: the cost model's figure."""
        return self.prefetch + self.latency + self.compute


def _gemm_tasks(arch: ArchSpec, op: Gemm, c: GemmCost, inputs: tuple[str, ...], outputs: tuple[str, ...],
                out_bytes: float) -> OpTasks:
    dram = arch.dram
    om = operand_model(arch, op)
    m = c.mapping
    tile_in, need = buffer_need_bytes(op, om, np.array(min(m.tile_m, op.m)), np.array(min(m.tile_n, op.n)),
                                      np.array(min(m.tile_k, op.k)), np.array(m.double_buffer))
    on_chip = max(c.compute_cycles, c.glb_cycles, c.rf_cycles)
    reads = [InputRead(inputs[0], c.read_bytes["dram"]["A"])] if inputs else []
    if len(inputs) > 1:  # an activation as the second operand (attention, a backward GEMM), or a dequantised weight
        reads.append(InputRead(inputs[1], c.read_bytes["dram"]["B"]))
    if m.double_buffer:
        first = min(float(tile_in) / dram.bandwidth_bytes_per_cycle, c.dram_cycles)
        stream = c.dram_cycles - first
        prefetch, latency, compute = first, float(dram.latency_cycles), max(on_chip, stream)
    else:
        prefetch, latency, compute, stream = 0.0, 0.0, c.total_cycles, c.dram_cycles
        on_chip = c.total_cycles - c.dram_cycles
    return OpTasks(name=op.name, inputs=inputs, outputs=outputs, engine="array", prefetch=prefetch, latency=latency,
                   compute=compute, on_chip=on_chip,
                   stream=stream, hold_bytes=float(need), dram_bytes=c.dram_bytes, output_bytes=out_bytes,
                   reads=tuple(reads), reuse=m.double_buffer)


def _vector_tasks(arch: ArchSpec, op: VectorOp, c: VectorCost, inputs: tuple[str, ...], outputs: tuple[str, ...],
                  out_bytes: float) -> OpTasks:
    n_in = streams(op)[0]
    per_input = op.elements * IN_BITS.get(op.kind, op.bits) / 8
    reads = tuple(InputRead(x, per_input) for x in inputs[:n_in])
    return OpTasks(name=op.name, inputs=inputs, outputs=outputs, engine="vector", prefetch=0.0, latency=arch.dram.latency_cycles,
                   compute=c.total_cycles - arch.dram.latency_cycles, on_chip=max(c.vector_cycles, c.glb_cycles),
                   stream=c.dram_cycles, hold_bytes=0.0, dram_bytes=c.dram_bytes, output_bytes=out_bytes, reads=reads,
                   reuse=True)


def op_tasks(arch: ArchSpec, node: GraphNode, cost: GemmCost | VectorCost | Infeasible) -> OpTasks:
    if isinstance(cost, GemmCost):
        assert isinstance(node.op, Gemm)
        return _gemm_tasks(arch, node.op, cost, node.inputs, node.outputs, node.output_bytes)
    if isinstance(cost, VectorCost):
        assert isinstance(node.op, VectorOp)
        return _vector_tasks(arch, node.op, cost, node.inputs, node.outputs, node.output_bytes)
    return OpTasks(name=node.op.name, inputs=node.inputs, outputs=node.outputs, engine="none", prefetch=0.0,
                   latency=0.0, compute=0.0, on_chip=0.0, stream=0.0,
                   hold_bytes=0.0, dram_bytes=0.0, output_bytes=0.0, reads=(), reuse=False)


def step_tasks(arch: ArchSpec, nodes: Sequence[GraphNode],
               costs: Sequence[GemmCost | VectorCost | Infeasible]) -> tuple[OpTasks, ...]:
    return tuple(op_tasks(arch, n, c) for n, c in zip(nodes, costs, strict=True))
