"""Accelerator specification: frozen value types, internal units only (bytes, cycles, pJ, MHz, mm^2).

The memory hierarchy is three levels, indexed from the innermost: per-PE registers (0),
the global buffer (1) and DRAM (2). `edgesim.config` builds these objects from YAML.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from enum import StrEnum

from edgesim.hierarchy import Hierarchy
from edgesim.units import bytes_per_cycle, ns_to_cycles


class PrecisionMode(StrEnum):
    """How a MAC's speed depends on operand bit-widths (DESIGN.md section 3)."""

    FIXED = "fixed"  # low bits give no speed-up
    FUSION = "fusion"  # Bit Fusion: a b-bit MAC does (b/a)*(b/w) low-precision MACs per cycle
    SERIAL = "serial"  # bit-serial: cycles per MAC scale with the serial operand's bits
    SPLIT = "split"  # lane split (GPU tensor cores): a b-bit MAC does b/max(a, w) narrower MACs per cycle


class SparsityMode(StrEnum):
    NONE = "none"  # zeros are stored and multiplied
    UNSTRUCTURED = "unstructured"  # zeros skipped, weights compressed with metadata
    NM = "nm"  # N:M structured sparsity (e.g. 2:4)


class MetadataFormat(StrEnum):
    BITMAP = "bitmap"  # one bit per dense element
    CSR = "csr"  # a column index per nonzero plus a row pointer per row


@dataclass(frozen=True, slots=True, kw_only=True)
class PEArray:
    rows: int
    cols: int

    @property
    def pes(self) -> int:
        return self.rows * self.cols


@dataclass(frozen=True, slots=True, kw_only=True)
class MacUnit:
    native_bits: int
    precision_mode: PrecisionMode
    min_bits: int  # fusion: narrowest supported operand (Bit Fusion's BitBrick is 2 bits)
    accumulator_bits: int  # width of partial sums
    serial_bits_per_cycle: int  # serial: bits of the weight operand consumed per cycle
    energy_pj_per_mac: tuple[tuple[int, float], ...]  # (bits, pJ) sorted by bits

    def widths(self) -> tuple[int, ...]:
        """Operand widths (bits) this MAC runs: up to two passes of its native width per operand. A fusion MAC
        runs its bricks fused in powers of two (min_bits·2^j), and a split MAC its lanes; fixed and serial MACs run
        any narrower width at the native width's cost."""
        top = 2 * self.native_bits
        if self.precision_mode in (PrecisionMode.FUSION, PrecisionMode.SPLIT):
            return tuple(self.min_bits << j for j in range(top.bit_length()) if self.min_bits << j <= top)
        return tuple(range(1, top + 1))

    def widths_text(self) -> str:
        w = self.widths()
        if w == tuple(range(1, w[-1] + 1)):
            return f"1 to {w[-1]} bits"
        return ", ".join(map(str, w[:-1])) + f" or {w[-1]} bits"

    def energy_pj_at(self, bits: int) -> float:
        """pJ per MAC at `bits`: the narrowest table entry that is at least `bits` wide."""
        for width, pj in self.energy_pj_per_mac:
            if width >= bits:
                return pj
        return self.energy_pj_per_mac[-1][1]


@dataclass(frozen=True, slots=True, kw_only=True)
class SparsitySupport:
    mode: SparsityMode
    metadata_format: MetadataFormat
    efficiency: float  # unstructured: fraction of ideal zero-skipping speed-up kept (load imbalance)
    nm_patterns: tuple[tuple[int, int], ...]  # supported (n, m) patterns, for mode nm


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorUnit:
    lanes: int
    ops_per_lane_per_cycle: float
    energy_pj_per_op: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageLevel:
    """One storage level. Capacity and bandwidth are per instance."""

    name: str
    capacity_bytes: float
    instances: int
    bandwidth_bytes_per_cycle: float
    read_energy_pj_per_byte: float
    write_energy_pj_per_byte: float
    latency_cycles: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AreaModel:
    """Area per unit of what a design has (mm^2), so that area follows the design: `edgesim.cost.area`."""

    technology_nm: float
    pe_mm2: float  # one PE (MAC at its native width, its pipeline registers and array wiring)
    register_mm2_per_kib: float  # per-PE register files
    sram_mm2_per_kib: float  # the global buffer
    vector_lane_mm2: float  # one vector-unit lane
    fixed_mm2: float  # everything that does not scale with the swept sizes (control, DMA, DRAM interface)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchSpec:
    name: str
    clock_mhz: float
    pe_array: PEArray
    mac: MacUnit
    sparsity: SparsitySupport
    vector_unit: VectorUnit
    registers: StorageLevel
    global_buffer: StorageLevel
    dram: StorageLevel
    area: AreaModel
    # a multi-axis array and per-operand memories, for the loop-nest model (edgesim.hierarchy); None: the
    # three-level model's rows x cols array, registers, global buffer and DRAM
    hierarchy: Hierarchy | None = None
    source: str = "<built-in>"

    @property
    def levels(self) -> tuple[StorageLevel, StorageLevel, StorageLevel]:
        """Innermost first: registers, global buffer, DRAM."""
        return (self.registers, self.global_buffer, self.dram)

    def fingerprint(self) -> str:
        """A stable hash of every modelled number (not the source path), for caches and result rows."""
        d = asdict(self)
        d.pop("source")
        if d["hierarchy"] is None:
            d.pop("hierarchy")  # three-level accelerators keep the fingerprints they had before hierarchies existed
        blob = json.dumps(d, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def dram_level(*, capacity_bytes: float, bandwidth_gb_per_s: float, latency_ns: float, clock_mhz: float,
               read_energy_pj_per_byte: float, write_energy_pj_per_byte: float) -> StorageLevel:
    return StorageLevel(name="dram", capacity_bytes=capacity_bytes, instances=1,
                        bandwidth_bytes_per_cycle=bytes_per_cycle(bandwidth_gb_per_s, clock_mhz),
                        read_energy_pj_per_byte=read_energy_pj_per_byte,
                        write_energy_pj_per_byte=write_energy_pj_per_byte,
                        latency_cycles=ns_to_cycles(latency_ns, clock_mhz))
