"""Area of an accelerator (mm^2), from the per-unit areas of its hardware YAML, so that it follows the design:

    area = PEs x pe_mm2 + PEs x register bytes / 1024 x register_mm2_per_kib + global-buffer KiB x sram_mm2_per_kib
           + vector lanes x vector_lane_mm2 + fixed_mm2

Each term is one entry of the breakdown; their sum is the total. Where the per-unit numbers come from is cited in
each hw_configs/*.yaml.
"""

from __future__ import annotations

from edgesim.arch import ArchSpec
from edgesim.units import KIB

AREA_PARTS = ("pe_array", "registers", "global_buffer", "vector_unit", "other")


def area_breakdown_mm2(arch: ArchSpec) -> dict[str, float]:
    a, pes = arch.area, arch.pe_array.pes
    return {
        "pe_array": pes * a.pe_mm2,
        "registers": pes * arch.registers.capacity_bytes / KIB * a.register_mm2_per_kib,
        "global_buffer": arch.global_buffer.capacity_bytes / KIB * a.sram_mm2_per_kib,
        "vector_unit": arch.vector_unit.lanes * a.vector_lane_mm2,
        "other": a.fixed_mm2,
    }


def area_mm2(arch: ArchSpec) -> float:
    return sum(area_breakdown_mm2(arch).values())
