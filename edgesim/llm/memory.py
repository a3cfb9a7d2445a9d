"""Peak memory of a tuning step by tensor liveness over its op graph.

The step's nodes run in order. A tensor lives from the first node that writes it (tensors that exist
before the step, such as the embeddings, from the start) to the last node that reads it; a tensor
nobody reads lives only while its writer runs. Memory at node i = persistent buffers (weights with
their sparsity metadata, trainable parameters, their gradients, optimizer state) + every live tensor.
The op graph (networkx) is checked to be acyclic and the node order to be one of its topological orders.

Breakdown at the peak: weights, trainable_params, gradients, optimizer_state, saved_activations
(forward activations still alive because a backward op reads them later), attention (score and
probability tensors), workspace (everything else alive: the current op's operands, activation gradients).
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np

from edgesim.llm.step import TuningStep
from edgesim.methods import Phase
from edgesim.overlap.graph import op_graph as tensor_graph
from edgesim.results import MemoryReport


def op_graph(step: TuningStep) -> nx.DiGraph[int]:
    """Nodes are op indices; an edge u -> v when v reads a tensor u writes."""
    return tensor_graph(step.nodes)


def check_order(step: TuningStep) -> None:
    g = op_graph(step)
    if not nx.is_directed_acyclic_graph(g):
        raise ValueError(f"{step.label}: the op graph has a cycle")
    for u, v in g.edges:
        if u >= v:
            raise ValueError(f"{step.label}: {step.nodes[v].op.name} reads a tensor written later, by {step.nodes[u].op.name}")


def peak_memory(step: TuningStep, times: tuple[Sequence[float], Sequence[float]] | None = None) -> MemoryReport:
    """Memory at each node and its peak. With `times` (each node's start and end under an overlapped schedule) a
    tensor is alive at node i when its lifetime, from its writer's start to its last reader's end, overlaps the
    node's run (or the node writes or reads it), so ops running together count each other's tensors; without, the
    nodes run one after another in step order."""
    n = len(step.nodes)
    first: dict[str, int] = dict.fromkeys(step.inputs, 0)
    size: dict[str, float] = dict(step.inputs)
    last: dict[str, int] = {}
    kind: dict[str, str] = dict.fromkeys(step.inputs, "activation")
    for i, node in enumerate(step.nodes):
        for x in node.inputs:
            last[x] = i
        for out in node.outputs:
            if out not in first:
                first[out], size[out], kind[out] = i, node.output_bytes, node.category
    if times is None:
        delta = [0.0] * (n + 1)
        for t, start in first.items():
            end = max(last.get(t, start), start)
            delta[start] += size[t]
            delta[end + 1] -= size[t]
        live_bytes, live = [], 0.0
        for i in range(n):
            live += delta[i]
            live_bytes.append(live)
    else:
        live_bytes = _timed_live(first, last, size, times, step.inputs)
    persistent = sum(step.persistent_bytes.values())
    timeline = [persistent + b for b in live_bytes]
    peak_i = max(range(n), key=timeline.__getitem__)
    first_backward = next((i for i, nd in enumerate(step.nodes) if nd.phase != Phase.FORWARD), n)
    breakdown = dict(step.persistent_bytes)
    for cat in ("saved_activations", "attention", "workspace"):
        breakdown[cat] = 0.0
    for t, start in first.items():
        end = max(last.get(t, start), start)
        if _alive(start, end, peak_i, times, t in step.inputs):
            if kind[t] == "attention":
                breakdown["attention"] += size[t]
            elif kind[t] == "activation" and end >= first_backward and start < first_backward and end > peak_i:
                breakdown["saved_activations"] += size[t]
            else:
                breakdown["workspace"] += size[t]
    return MemoryReport(peak_bytes=timeline[peak_i], peak_node=step.nodes[peak_i].op.name, breakdown=breakdown,
                        timeline=tuple(timeline))


def _alive(first: int, last: int, i: int, times: tuple[Sequence[float], Sequence[float]] | None, given: bool) -> bool:
    """Whether a tensor written by node `first` (or given before the step) and last read by node `last` is alive at
    node i."""
    if times is None or i in (first, last):
        return first <= i <= last
    start, end = times
    born = -1.0 if given else start[first]
    return born < end[i] and end[last] > start[i]


def _timed_live(first: dict[str, int], last: dict[str, int], size: dict[str, float],
                times: tuple[Sequence[float], Sequence[float]], given: dict[str, float]) -> list[float]:
    start, end = np.asarray(times[0], dtype=float), np.asarray(times[1], dtype=float)
    names = list(first)
    w = np.array([first[t] for t in names])
    r = np.array([max(last.get(t, first[t]), first[t]) for t in names])
    born = np.where([t in given for t in names], -1.0, start[w])
    dies = end[r]
    b = np.array([size[t] for t in names])
    out = []
    for i in range(len(start)):
        alive = ((born < end[i]) & (dies > start[i])) | (w == i) | (r == i)
        out.append(float(b[alive].sum()))
    return out
