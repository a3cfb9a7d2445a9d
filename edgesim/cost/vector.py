"""The cost of a vector op (`edgesim.ops.VectorOp`: softmax, norms, activations, element-wise ops, optimizer
updates) on the vector unit.

A vector op streams its operands from DRAM through the global buffer to the vector unit and its
result back (nothing is fused with the producing GEMM, a conservative default). Cost per op:
- work: elements × ops per element; vector-unit cycles = ceil(work / (lanes × ops per lane per cycle));
- traffic: every input read once and every output written once, at their bit-widths, through DRAM and
  the global buffer (a backward op: the incoming gradient and what it saved in, a gradient per forward input out,
  `streams`); DRAM cycles = bytes / bandwidth;
- double-buffered streaming: total = DRAM latency + max(vector cycles, DRAM cycles, buffer cycles);
- energy: work × pJ/op + bytes × (DRAM + buffer read/write pJ/B).

Ops per element count one per add, mul, max, compare or divide and `EXP_OPS` for an exponential
(a LUT plus polynomial on typical NPU vector units). They are this model's assumptions, listed in
`OPS_PER_ELEMENT` so a user can read and change them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgesim.arch import ArchSpec
from edgesim.ops import VectorKind, VectorOp
from edgesim.units import bits_to_bytes

EXP_OPS = 4
# QLoRA's NF4 storage (Dettmers et al., "QLoRA", NeurIPS 2023, section 3): 4-bit codes, and with double quantisation
# an 8-bit absmax per 64-weight block plus a 32-bit constant per 256 blocks: 4 + 8/64 + 32/(64*256) = 4.127 bits
NF4_BITS_PER_WEIGHT = 4 + 8 / 64 + 32 / (64 * 256)


# ops per element; (inputs, outputs) streamed per element (tensors of the element's shape)
OPS_PER_ELEMENT: dict[VectorKind, float] = {
    VectorKind.SOFTMAX: 1 + 1 + EXP_OPS + 1 + 1,  # row max, subtract, exp, row sum, scale by 1/sum
    VectorKind.RMSNORM: 1 + 1 + 1 + 1,  # square, sum, scale by rsqrt, gain
    VectorKind.LAYERNORM: 1 + 1 + 1 + 1 + 1 + 1 + 1,  # mean, centre, square, sum, scale, gain, bias
    VectorKind.SILU: EXP_OPS + 1 + 1 + 1,  # x / (1 + exp(-x))
    VectorKind.GELU: 3 + 1 + EXP_OPS + 2 + 1,  # tanh approximation
    VectorKind.RELU: 1,
    VectorKind.ADD: 1,
    VectorKind.MUL: 1,
    VectorKind.ROPE: 3,  # x·cos + rotate(x)·sin
    VectorKind.ADAM: 12,  # two moment updates, bias correction, sqrt, divide, step
    VectorKind.SGD: 2,
    VectorKind.DEQUANT_NF4: 2,  # codebook lookup, scale by the block's absmax (the absmax's own dequantisation:
                                # once per 64 weights, not counted)
    VectorKind.DOT: 2,  # multiply by the query's element, accumulate
    VectorKind.TOPK: 2,  # compare with the k-th best so far; rarely (k of N times), insert: counted as one op
}
STREAMS: dict[VectorKind, tuple[int, int]] = {
    VectorKind.SOFTMAX: (1, 1), VectorKind.RMSNORM: (1, 1), VectorKind.LAYERNORM: (1, 1),
    VectorKind.SILU: (1, 1), VectorKind.GELU: (1, 1), VectorKind.RELU: (1, 1), VectorKind.ADD: (2, 1), VectorKind.MUL: (2, 1),
    VectorKind.ROPE: (1, 1),
    VectorKind.ADAM: (4, 3),  # reads param, grad, m, v; writes param, m, v
    VectorKind.SGD: (2, 1),
    VectorKind.DEQUANT_NF4: (1, 1),
    VectorKind.DOT: (1, 0),  # the stored vectors in; the query stays on chip; one score per vector (see TOPK)
    VectorKind.TOPK: (1, 0),  # the scores in; k indices out (negligible)
}
IN_BITS: dict[VectorKind, float] = {VectorKind.DEQUANT_NF4: NF4_BITS_PER_WEIGHT}  # inputs narrower than `bits`
# what an op's backward reads besides the incoming gradient: its forward inputs, its forward output, or nothing (an
# add's gradient passes through, a rotary embedding's is a fixed rotation of it)
SAVED: dict[VectorKind, str] = {VectorKind.ADD: "none", VectorKind.ROPE: "none", VectorKind.SOFTMAX: "output",
                                VectorKind.MUL: "inputs", VectorKind.RMSNORM: "inputs", VectorKind.LAYERNORM: "inputs",
                                VectorKind.SILU: "inputs", VectorKind.GELU: "inputs", VectorKind.RELU: "inputs"}


def streams(op: VectorOp) -> tuple[int, int]:
    """Tensors of the op's element shape it reads and writes. A backward reads the incoming gradient and what it
    saved (`SAVED`), and writes one gradient per forward input."""
    n_in, n_out = STREAMS[op.kind]
    if not op.backward:
        return n_in, n_out
    saved = {"inputs": n_in, "output": n_out, "none": 0}[SAVED[op.kind]]
    return 1 + saved, n_in


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorCost:
    op: VectorOp
    vector_cycles: float
    dram_cycles: float
    glb_cycles: float
    total_cycles: float
    dram_bytes: float
    energy_pj: float
    level_energy_pj: dict[str, float]
    op_energy_pj: float
    utilization: float  # vector-unit busy fraction

    @property
    def compute_cycles(self) -> float:
        return self.vector_cycles

    @property
    def macs(self) -> int:
        return 0


def stream_bytes(op: VectorOp) -> tuple[float, float]:
    """Bytes the op reads and writes (`streams` tensors of its element shape, inputs at `IN_BITS` where narrower)."""
    n_in, n_out = streams(op)
    return n_in * op.elements * IN_BITS.get(op.kind, op.bits) / 8, n_out * op.elements * bits_to_bytes(op.bits)


def evaluate_vector(arch: ArchSpec, op: VectorOp) -> VectorCost:
    vu, glb, dram = arch.vector_unit, arch.global_buffer, arch.dram
    work = op.elements * OPS_PER_ELEMENT[op.kind] * (2 if op.backward else 1)
    vector_cycles = float(math.ceil(work / (vu.lanes * vu.ops_per_lane_per_cycle)))
    in_bytes, out_bytes = stream_bytes(op)
    dram_bytes = in_bytes + out_bytes
    dram_cycles = dram_bytes / dram.bandwidth_bytes_per_cycle
    glb_cycles = 2 * dram_bytes / glb.bandwidth_bytes_per_cycle  # every byte written then read once
    total = dram.latency_cycles + max(vector_cycles, dram_cycles, glb_cycles)
    level = {"registers": 0.0,
             "global_buffer": dram_bytes * (glb.read_energy_pj_per_byte + glb.write_energy_pj_per_byte),
             "dram": in_bytes * dram.read_energy_pj_per_byte + out_bytes * dram.write_energy_pj_per_byte}
    op_pj = work * vu.energy_pj_per_op
    return VectorCost(op=op, vector_cycles=vector_cycles, dram_cycles=dram_cycles, glb_cycles=glb_cycles,
                      total_cycles=total, dram_bytes=dram_bytes, energy_pj=sum(level.values()) + op_pj,
                      level_energy_pj=level, op_energy_pj=op_pj, utilization=vector_cycles / total)
