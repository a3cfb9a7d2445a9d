"""Searchers over the loop-nest mapspace (`edgesim.nestspace`): exact CP-SAT, random search and a genetic algorithm,
each scoring its answers with the loop-nest cost model (`edgesim.cost.nest`)."""
