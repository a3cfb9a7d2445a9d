"""LLM work: model shapes, decoder-layer expansion, tuning methods and the step graph, memory by liveness,
inference, and the trace types."""
