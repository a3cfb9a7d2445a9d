"""Unit conversions. Internal units: bytes, cycles, pJ, MHz, mm^2.

Config keys carry their unit in the name (`capacity_kib`, `bandwidth_gb_per_s`, `latency_ns`);
this module is the only place those units turn into the internal ones.
"""

from __future__ import annotations

import math

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def bytes_per_cycle(bandwidth_gb_per_s: float, clock_mhz: float) -> float:
    """GB/s (10^9 bytes/s) at a clock of `clock_mhz` -> bytes per clock cycle."""
    return bandwidth_gb_per_s * 1e9 / (clock_mhz * 1e6)


def ns_to_cycles(latency_ns: float, clock_mhz: float) -> int:
    """A latency in ns -> whole cycles (rounded up: a partial cycle still costs one)."""
    return math.ceil(latency_ns * clock_mhz / 1e3 - 1e-9)


def cycles_to_seconds(cycles: float, clock_mhz: float) -> float:
    return cycles / (clock_mhz * 1e6)


def bits_to_bytes(bits: float) -> float:
    """Fractional bytes are kept: a 4-bit operand costs 0.5 byte per element."""
    return bits / 8.0
