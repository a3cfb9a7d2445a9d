"""What an op's precisions and weight sparsity mean on a given accelerator (mapping-independent).

Precision (DESIGN.md section 3):
- fixed: one MAC per PE per cycle at up to native bits; wider operands take
  ceil(a/native)·ceil(w/native) passes.
- fusion (Bit Fusion, ISCA 2018): operands are rounded up to min_bits·2^j; a native-bit PE then does
  (native/a)·(native/w) MACs per cycle. The extra MACs reduce along K, so K shrinks by that factor.
- split (lane splitting, as GPU tensor cores: NVIDIA's A100 does INT8 at 2x and INT4 at 4x its FP16 rate):
  operands are rounded up to min_bits·2^j and a native-bit PE does native/max(a, w) MACs per cycle, packed along K.
- serial: cycles per MAC = ceil(b_bits / serial_bits_per_cycle) (weights fed bit-serially),
  so time stretches by that factor.

Weight sparsity:
- hardware without support multiplies the zeros and stores B dense;
- unstructured skipping keeps a fraction min(1, density/efficiency) of K (load imbalance), and stores B
  compressed (bitmap: 1 bit per element; CSR: a ceil(log2 K)-bit row index per nonzero plus a 32-bit
  pointer per column) whenever that is smaller than dense;
- N:M hardware runs an op whose pattern fits a supported (n', m') with the same m and n <= n' at
  n'/m' of K, storing n'/m' of the values plus ceil(log2 m) index bits each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgesim.arch import ArchSpec, MetadataFormat, PrecisionMode, SparsityMode
from edgesim.ops import Gemm, WeightFormat
from edgesim.units import bits_to_bytes

CSR_POINTER_BITS = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class OperandModel:
    a_bytes: float  # per element of A
    b_bytes: float  # per element of B's values
    c_bytes: float  # per final output element
    psum_bytes: float  # per partial sum (accumulator width)
    b_stored_bytes: float  # one copy of B (K×N) as stored, metadata included, per batch
    k_kept: float  # fraction of K that the array actually computes (zero skipping)
    pack: int  # MACs a PE does per cycle along K (fusion); 1 otherwise
    stretch: int  # cycles per MAC (serial, or multi-pass for too-wide operands)
    mac_energy_pj: float  # per executed MAC
    b_format: str  # how B is stored: dense | bitmap | csr | n:m

    def k_effective(self, k: int) -> int:
        """K elements that occupy the array (rows or time) after skipping and packing."""
        return max(1, math.ceil(math.ceil(k * self.k_kept - 1e-9) / self.pack))


def _round_bits(bits: int, min_bits: int) -> int:
    """The narrowest min_bits·2^j that holds `bits`."""
    if bits <= min_bits:
        return min_bits
    return min_bits << (-(-bits // min_bits) - 1).bit_length()


def _precision(arch: ArchSpec, op: Gemm) -> tuple[int, int, float]:
    """(pack, stretch, pJ per MAC) for the op's operand widths on this MAC."""
    mac = arch.mac
    nat = mac.native_bits
    a, w = op.a_bits, op.b_bits
    passes = math.ceil(a / nat) * math.ceil(w / nat)
    if mac.precision_mode == PrecisionMode.FUSION:
        a_eff, w_eff = _round_bits(a, mac.min_bits), _round_bits(w, mac.min_bits)
        if a_eff <= nat and w_eff <= nat:
            return (nat // a_eff) * (nat // w_eff), 1, mac.energy_pj_at(max(a_eff, w_eff))
        return 1, passes, mac.energy_pj_at(nat) * passes
    if mac.precision_mode == PrecisionMode.SPLIT:
        lane = max(_round_bits(a, mac.min_bits), _round_bits(w, mac.min_bits))
        if lane <= nat:
            return nat // lane, 1, mac.energy_pj_at(lane)
        return 1, passes, mac.energy_pj_at(nat) * passes
    if mac.precision_mode == PrecisionMode.SERIAL:
        return 1, math.ceil(w / mac.serial_bits_per_cycle), mac.energy_pj_at(max(a, w))
    return 1, passes, mac.energy_pj_at(nat) * passes


def _sparsity(arch: ArchSpec, op: Gemm, b_value_bytes: float) -> tuple[float, float, str]:
    """(k_kept, stored bytes of B, format name)."""
    dense = op.k * op.n * b_value_bytes
    d = op.weight_density
    sp = arch.sparsity
    if op.weight_format == WeightFormat.DENSE or d >= 1.0 or sp.mode == SparsityMode.NONE:
        return 1.0, dense, "dense"
    if sp.mode == SparsityMode.UNSTRUCTURED:
        values = op.k * op.n * d * b_value_bytes
        if sp.metadata_format == MetadataFormat.BITMAP:
            meta = op.k * op.n / 8
        else:
            meta = op.k * op.n * d * math.ceil(math.log2(max(op.k, 2))) / 8 + (op.n + 1) * CSR_POINTER_BITS / 8
        kept = min(1.0, d / sp.efficiency)
        if values + meta < dense:
            return kept, values + meta, str(sp.metadata_format)
        return kept, dense, "dense"
    if op.weight_format == WeightFormat.NM and op.nm is not None:
        n, m = op.nm
        fits = [(hn, hm) for hn, hm in sp.nm_patterns if hm == m and n <= hn]
        if fits:
            hn, hm = min(fits)
            frac = hn / hm
            stored = op.k * op.n * frac * (b_value_bytes + math.ceil(math.log2(hm)) / 8)
            return frac, min(stored, dense), f"{hn}:{hm}"
    return 1.0, dense, "dense"  # an unstructured weight on N:M-only hardware cannot be exploited


def operand_model(arch: ArchSpec, op: Gemm) -> OperandModel:
    pack, stretch, pj = _precision(arch, op)
    b_bytes = bits_to_bytes(op.b_bits)
    kept, stored, fmt = _sparsity(arch, op, b_bytes)
    return OperandModel(a_bytes=bits_to_bytes(op.a_bits), b_bytes=b_bytes, c_bytes=bits_to_bytes(op.c_bits),
                        psum_bytes=bits_to_bytes(arch.mac.accumulator_bits), b_stored_bytes=stored,
                        k_kept=kept, pack=pack, stretch=stretch, mac_energy_pj=pj, b_format=fmt)
