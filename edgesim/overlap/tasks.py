"""Each op of a step as tasks on the accelerator's resources, with the durations and bytes of its cost.

Resources: the PE array and the vector unit (engines: one op at a time each), the DRAM channel (one transfer at a
time: loads and stores share its bandwidth) and the global buffer (a capacity in bytes).

An op becomes, in this order:
- **prefetch**: its first tile's inputs, loaded on the DRAM channel (double-buffered GEMMs only: the cost model's
  first load x_0 = `min(tile inputs / bandwidth, load cycles)`, `edgesim.cost.pipelining`);
- **latency**: the DRAM read latency before the first data arrive (occupies no resource);
- **compute**: the op on its engine; for a double-buffered GEMM `total - prefetch - latency - drain` cycles: its
  on-chip cycles plus the stalls of its one-tile prefetch window (compute path), or, when its DRAM path is longer,
  the channel's busy time plus its idle time (the start, while tile 2 waits for tile 0's compute to free its buffer
  half, and the end, while the last tile waits for its data and computes) less the prefetch and the drain. Idle
  DRAM time and stalls are time the op holds its engine (and its buffer) while the channel is free for other ops;
- **stream**: the rest of its DRAM traffic (loads of later tiles, every write-back but the last tile's) on the DRAM
  channel inside the compute window (where in the window it runs is the scheduler's choice, a fluid approximation
  of the interleaved tile transfers);
- **drain**: the last tile's write-back (double-buffered GEMMs: `last tile outputs · bytes / bandwidth`), exposed
  after the compute window: the engine is free for the next op, but the op has finished (its readers may start)
  only when the drain has. The schedulers do not reserve the DRAM channel for it (a fluid approximation: at most one
  tile's outputs per op share the channel with other ops' transfers); DRAM busy time and its lower bound count it.

So one op alone takes prefetch + latency + compute + drain = exactly the cost model's cycles (`edgesim.cost.model`;
version 4: the longer of the pipeline's compute and DRAM paths, at most the single-buffered cycles). The stream
always fits the window but for at most one DRAM latency: the cost model's total is at least the op's DRAM cycles, so
compute + latency >= stream. Where the channel never idles (loads and write-backs longer than each tile's compute and
latency) the stream exceeds the window by up to the latency, because it runs while the first tile's data are on
their way; then the latency piece is shortened by the excess and the compute window is the stream (the sum is
unchanged). Single buffered, the whole op is compute with its DRAM traffic as stream (no prefetch, no drain); a
vector op is latency + max(vector, DRAM, buffer) cycles of compute with its traffic as stream.

A GEMM holds its mapping's buffer need (`buffer_need_bytes`) from the start of its prefetch to the end of its compute;
a vector op streams through the buffer and holds no modelled capacity.

An output that stays on chip for its readers saves its write-back and each reader's load of it
(`edgesim.overlap.schedule.saved_bytes`), both taken off the stream (`OpTasks.stream_cycles`); the compute window
shrinks by the stream cycles saved, down to the op's on-chip cycles. The drain is never shortened (the schedule keeps
at most one tile's write-back too many when the output stays on chip; the bytes saved, and so the traffic, are
counted in full off the stream).
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
    drain: float = 0.0  # cycles on the DRAM channel after the compute window (the last tile's write-back)

    def stream_cycles(self, saved_bytes: float, bandwidth: float) -> float:
        """The stream with `saved_bytes` of its traffic kept on chip (never below zero)."""
        return max(0.0, self.stream - saved_bytes / bandwidth) if self.reuse else self.stream

    def compute_cycles(self, saved_bytes: float, bandwidth: float) -> float:
        """The compute window with `saved_bytes` kept on chip: shorter by the stream cycles saved, down to the on-chip
        floor (`compute` with nothing saved)."""
        if not self.reuse:
            return self.compute
        return max(self.on_chip, self.compute - (self.stream - self.stream_cycles(saved_bytes, bandwidth)))

    @property
    def serial(self) -> float:
        """Cycles alone, one op after another: the cost model's figure."""
        return self.prefetch + self.latency + self.compute + self.drain


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
    drain = 0.0
    if m.double_buffer:
        bw = dram.bandwidth_bytes_per_cycle
        # the cost model's first load and last write-back (edgesim.cost.pipelining): the last tile is the last along m
        # and n, C written at the operand model's output width
        first = min(float(tile_in) / bw, sum(c.read_bytes["dram"].values()) / bw)
        last_m = op.m - (-(-op.m // min(m.tile_m, op.m)) - 1) * min(m.tile_m, op.m)
        last_n = op.n - (-(-op.n // min(m.tile_n, op.n)) - 1) * min(m.tile_n, op.n)
        drain = last_m * last_n * om.c_bytes / bw
        stream = max(0.0, c.dram_cycles - first - drain)
        latency = float(dram.latency_cycles)
        compute = c.total_cycles - first - latency - drain
        if stream > compute:  # a channel that never idles: the stream runs during the first tile's latency too
            latency -= stream - compute
            compute = stream
        prefetch = first
    else:
        prefetch, latency, compute, stream = 0.0, 0.0, c.total_cycles, c.dram_cycles
        on_chip = c.total_cycles - c.dram_cycles
    return OpTasks(name=op.name, inputs=inputs, outputs=outputs, engine="array", prefetch=prefetch, latency=latency,
                   compute=compute, on_chip=on_chip,
                   stream=stream, hold_bytes=float(need), dram_bytes=c.dram_bytes, output_bytes=out_bytes,
                   reads=tuple(reads), reuse=m.double_buffer, drain=drain)


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
