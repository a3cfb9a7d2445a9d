"""edgesim: a cycle-approximate dataflow simulator and design-space explorer for edge accelerators.

Public API: load an accelerator (`load_arch`), describe GEMMs (`Gemm`), choose or search mappings
(`Mapping`, `heuristic_mapping`) and evaluate them (`evaluate`, `evaluate_one`, `simulate_gemms`).
"""

from edgesim.api import SimulationResult, simulate_gemms
from edgesim.arch import ArchSpec
from edgesim.config import load_arch
from edgesim.cost import CostArrays, GemmCost, evaluate, evaluate_one
from edgesim.errors import ConfigError, Infeasible
from edgesim.heuristic import heuristic_mapping
from edgesim.mapping import Dataflow, Mapping, MappingSet
from edgesim.ops import Gemm, WeightFormat

__version__ = "0.1.0"

__all__ = ["ArchSpec", "ConfigError", "CostArrays", "Dataflow", "Gemm", "GemmCost", "Infeasible", "Mapping",
           "MappingSet", "SimulationResult", "WeightFormat", "evaluate", "evaluate_one", "heuristic_mapping",
           "load_arch", "simulate_gemms"]
