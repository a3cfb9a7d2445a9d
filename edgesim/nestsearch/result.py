"""What a loop-nest searcher returns: the best nest, its cost, and when each improvement was found."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgesim.cost.nest import NestCosts, evaluate_nests
from edgesim.loopnest import LoopNest, NestSet
from edgesim.nestspace import NestSpace


@dataclass(slots=True)
class NestResult:
    searcher: str
    nest: LoopNest | None = None
    cycles: float = float("inf")
    energy_pj: float = float("inf")
    wall_seconds: float = 0.0
    evaluated: int = 0  # nests scored by the cost model (CP-SAT: solutions decoded)
    trace: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, best cycles so far)

    @property
    def seconds_to_best(self) -> float:
        return self.trace[-1][0] if self.trace else float("nan")

    def offer(self, space: NestSpace, ns: NestSet, costs: NestCosts, seconds: float) -> None:
        """Keep the fastest feasible candidate (least energy among equal cycles) if it beats the incumbent."""
        cyc = np.where(costs.feasible, costs.total_cycles, np.inf)
        if not np.isfinite(cyc).any():
            return
        best = float(cyc.min())
        tied = np.flatnonzero(cyc == best)
        i = int(tied[np.argmin(costs.energy_pj[tied])])
        e = float(costs.energy_pj[i])
        if best < self.cycles or (best == self.cycles and e < self.energy_pj):
            self.nest = ns.nest(i, axes=len(space.hierarchy.axes))
            if best < self.cycles:
                self.trace.append((seconds, best))
            self.cycles, self.energy_pj = best, e


def score(space: NestSpace, ns: NestSet) -> NestCosts:
    return evaluate_nests(space.hierarchy, space.op, space.om, ns)
