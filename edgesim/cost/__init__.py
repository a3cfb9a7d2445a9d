"""The analytic cost model: pure functions from (arch, op, mappings) to counts, then cycles and energy."""

from edgesim.cost.model import CostArrays, GemmCost, evaluate, evaluate_one

__all__ = ["CostArrays", "GemmCost", "evaluate", "evaluate_one"]
