"""The op graph of a step from the tensors its ops read and write, and the tensors that may stay on chip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import networkx as nx

from edgesim.overlap.tasks import OpTasks


class Tensors(Protocol):
    """An op as the tensors it reads and writes (`OpTasks`, `edgesim.llm.step.StepNode`)."""

    @property
    def inputs(self) -> tuple[str, ...]: ...
    @property
    def outputs(self) -> tuple[str, ...]: ...


def op_graph(tasks: Sequence[Tensors]) -> nx.DiGraph[int]:
    """Nodes are op indices; an edge u -> v when v reads a tensor u writes (every writer of it: the gradient of a
    tensor read by several ops accumulates from several writers)."""
    g: nx.DiGraph[int] = nx.DiGraph()
    writers: dict[str, list[int]] = {}
    for i, t in enumerate(tasks):
        g.add_node(i)
        for x in t.inputs:
            for w in writers.get(x, []):
                g.add_edge(w, i)
        for out in t.outputs:
            writers.setdefault(out, []).append(i)
    return g


@dataclass(frozen=True, slots=True)
class Candidate:
    """A tensor that may stay on chip between its one writer and its readers, saving its DRAM round trip."""

    tensor: str
    producer: int
    readers: tuple[int, ...]
    bytes: float


def reuse_candidates(tasks: Sequence[OpTasks]) -> tuple[Candidate, ...]:
    """Tensors with exactly one writer and at least one reader, all of them ops whose DRAM traffic overlaps their
    compute (a single-buffered GEMM's does not, so reading from chip would not shorten it)."""
    writers: dict[str, list[int]] = {}
    readers: dict[str, list[int]] = {}
    for i, t in enumerate(tasks):
        for x in t.inputs:
            readers.setdefault(x, []).append(i)
        for y in t.outputs:
            writers.setdefault(y, []).append(i)
    out: list[Candidate] = []
    for name, ws in writers.items():
        rs = sorted(set(readers.get(name, [])))
        if len(ws) != 1 or not rs or tasks[ws[0]].output_bytes <= 0 or ws[0] in rs:
            continue
        if all(tasks[i].reuse for i in (ws[0], *rs)):
            out.append(Candidate(name, ws[0], tuple(rs), tasks[ws[0]].output_bytes))
    return tuple(out)
