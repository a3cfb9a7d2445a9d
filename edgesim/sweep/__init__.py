"""Design-space exploration: a sweep spec (`edgesim.config.sweep`) expands into hardware points (`space`), each
(point, workload) runs as one task on dask.distributed (`task`, `run`), every finished row is committed to an
embedded SQLite database (`store`), and the non-dominated points form Pareto fronts (`pareto`)."""
