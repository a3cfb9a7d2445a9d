"""The built-in workloads (GEMM lists, model shapes, Edge-LLM traces); shipped inside the package as `edgesim.workloads`."""
