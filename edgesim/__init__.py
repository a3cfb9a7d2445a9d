"""edgesim: a cycle-approximate dataflow simulator and design-space explorer for edge accelerators.

Public API: load an accelerator (`load_arch`) and a model (`load_model`), describe GEMMs (`Gemm`), choose or
search mappings (`Mapping`, `heuristic_mapping`), evaluate them (`evaluate`, `evaluate_one`) and run the
entry points of `edgesim.api` (`simulate_ops`, `simulate_gemms`, `tune`, `infer`, `schedule`).
"""

from edgesim.api import infer, schedule, simulate_gemms, simulate_ops, tune
from edgesim.arch import ArchSpec
from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.cost import CostArrays, GemmCost, evaluate, evaluate_one
from edgesim.errors import ConfigError, Infeasible
from edgesim.mapping import Dataflow, Mapping, MappingSet
from edgesim.ops import Gemm, WeightFormat
from edgesim.results import SimulationResult
from edgesim.search.heuristic import heuristic_mapping

__version__ = "0.1.0"

__all__ = ["ArchSpec", "ConfigError", "CostArrays", "Dataflow", "Gemm", "GemmCost", "Infeasible", "Mapping",
           "MappingSet", "SimulationResult", "WeightFormat", "evaluate", "evaluate_one", "heuristic_mapping", "infer",
           "load_arch", "load_model", "schedule", "simulate_gemms", "simulate_ops", "tune"]
