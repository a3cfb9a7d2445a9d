"""One entry point: schedule a step's tasks with a named scheduler, with the serial figure and the lower bound."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import networkx as nx

from edgesim.arch import ArchSpec
from edgesim.overlap.cpsat import CpSatSettings, cpsat, default_quantum
from edgesim.overlap.graph import reuse_candidates
from edgesim.overlap.greedy import greedy, serial
from edgesim.overlap.schedule import Schedule, lower_bound
from edgesim.overlap.tasks import OpTasks

OVERLAPS = ("none", "greedy", "cpsat")


@dataclass(frozen=True, slots=True, kw_only=True)
class OverlapSettings:
    scheduler: str = "none"  # one of OVERLAPS
    window_ops: int = 64
    deterministic_seconds: float = 0.2  # CP-SAT's budget per window
    reuse: bool = True  # CP-SAT may keep tensors on chip between ops
    seed: int = 0


SERIAL = OverlapSettings()  # one op after another, today's behaviour


def schedule(arch: ArchSpec, tasks: Sequence[OpTasks], graph: nx.DiGraph[int], keys: Sequence[Hashable],
             settings: OverlapSettings) -> Schedule:
    """The schedule of `settings.scheduler` (none: serial); CP-SAT's time quantum is `default_quantum`."""
    cap, bw = arch.global_buffer.capacity_bytes, arch.dram.bandwidth_bytes_per_cycle
    if settings.scheduler == "none":
        return serial(tasks)
    if settings.scheduler == "greedy":
        return greedy(tasks, graph, cap)
    if settings.scheduler == "cpsat":
        st = CpSatSettings(window_ops=settings.window_ops, deterministic_seconds=settings.deterministic_seconds,
                           quantum_cycles=default_quantum(tasks), reuse=settings.reuse)
        return cpsat(tasks, graph, keys, cap, bw, st, settings.seed)
    raise ValueError(f"overlap must be one of {', '.join(OVERLAPS)}, got {settings.scheduler!r}")


def bound(arch: ArchSpec, tasks: Sequence[OpTasks], graph: nx.DiGraph[int], reuse: bool) -> dict[str, float]:
    cands = reuse_candidates(tasks) if reuse else ()
    return lower_bound(tasks, graph, cands, arch.dram.bandwidth_bytes_per_cycle)
