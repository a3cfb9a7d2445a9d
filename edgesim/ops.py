"""Operations, the work every stage passes along: a GEMM (M×K)·(K×N) -> M×N, optionally batched, with operand
precisions and weight sparsity, and a vector op (softmax, norms, activations, element-wise ops, optimizer
updates) on the vector unit. `Op` is either.

Conventions: operand A (M×K) is the activation-like input, B (K×N) the weight-like operand
(the only one that may be stored compressed), C (M×N) the output. `batch` counts independent
GEMMs that share no operand (e.g. attention heads); tokens that share a weight belong in M.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class WeightFormat(StrEnum):
    DENSE = "dense"
    UNSTRUCTURED = "unstructured"  # arbitrary zeros, `weight_density` nonzeros
    NM = "nm"  # N:M structured: at most n nonzeros in every m consecutive elements along K


@dataclass(frozen=True, slots=True, kw_only=True)
class Gemm:
    name: str
    m: int
    n: int
    k: int
    batch: int = 1
    a_bits: int = 8
    b_bits: int = 8
    c_bits: int = 8
    weight_density: float = 1.0
    weight_format: WeightFormat = WeightFormat.DENSE
    nm: tuple[int, int] | None = None  # (n, m) when weight_format is nm

    def __post_init__(self) -> None:
        for dim in ("m", "n", "k", "batch", "a_bits", "b_bits", "c_bits"):
            if getattr(self, dim) < 1:
                raise ValueError(f"Gemm {self.name!r}: {dim} must be >= 1, got {getattr(self, dim)}")
        if not 0 < self.weight_density <= 1:
            raise ValueError(f"Gemm {self.name!r}: weight_density must be in (0, 1], got {self.weight_density}")
        if self.weight_format == WeightFormat.NM:
            if self.nm is None or not 0 < self.nm[0] < self.nm[1]:
                raise ValueError(f"Gemm {self.name!r}: weight_format nm needs nm=(n, m) with 0 < n < m, got {self.nm}")
            if abs(self.weight_density - self.nm[0] / self.nm[1]) > 1e-9:
                raise ValueError(f"Gemm {self.name!r}: an {self.nm[0]}:{self.nm[1]} weight has density "
                                 f"{self.nm[0] / self.nm[1]}, got weight_density={self.weight_density}")

    @property
    def macs(self) -> int:
        """Dense multiply-accumulates: batch·M·N·K."""
        return self.batch * self.m * self.n * self.k

    def signature(self) -> tuple[object, ...]:
        """Everything that determines the cost of this op (the name excluded)."""
        return (self.m, self.n, self.k, self.batch, self.a_bits, self.b_bits, self.c_bits,
                self.weight_density, str(self.weight_format), self.nm)


class VectorKind(StrEnum):
    SOFTMAX = "softmax"
    RMSNORM = "rmsnorm"
    LAYERNORM = "layernorm"
    SILU = "silu"
    GELU = "gelu"
    RELU = "relu"
    ADD = "add"
    MUL = "mul"
    ROPE = "rope"
    ADAM = "adam"
    SGD = "sgd"
    DEQUANT_NF4 = "dequant_nf4"  # NF4 codes and block scales in, `bits`-wide weights out (QLoRA)
    DOT = "dot"  # dot products against a query held on chip: the stored vectors stream in (RAG similarity search)
    TOPK = "topk"  # keep the k best of a stream of scores (RAG retrieval)


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorOp:
    name: str
    kind: VectorKind
    elements: int  # elements of one input tensor
    bits: int = 16  # element width of inputs and outputs (optimizer state: the state's width)
    backward: bool = False  # the op's backward: reads its inputs and the incoming gradient, twice the work

    def __post_init__(self) -> None:
        if self.elements < 1 or self.bits < 1:
            raise ValueError(f"VectorOp {self.name!r}: elements and bits must be >= 1")

    @property
    def macs(self) -> int:
        return 0

    def signature(self) -> tuple[object, ...]:
        return (str(self.kind), self.elements, self.bits, self.backward)


Op = Gemm | VectorOp
