"""Tasks built by hand for the scheduler tests (integer cycles, 1 B/cycle DRAM, so every figure is checkable)."""

from __future__ import annotations

from edgesim.overlap.tasks import InputRead, OpTasks


def task(name: str, engine: str = "array", *, prefetch: float = 0, latency: float = 0, compute: float = 1,
         stream: float = 0, on_chip: float | None = None, hold: float = 0, inputs: tuple[str, ...] = (),
         outputs: tuple[str, ...] = (), output_bytes: float = 0, reads: tuple[InputRead, ...] = (),
         reuse: bool = True, drain: float = 0) -> OpTasks:
    return OpTasks(name=name, inputs=inputs, outputs=outputs or (name,), engine=engine, prefetch=prefetch,
                   latency=latency, compute=compute, on_chip=compute if on_chip is None else on_chip, stream=stream,
                   hold_bytes=hold, dram_bytes=prefetch + stream + drain, output_bytes=output_bytes, reads=reads, reuse=reuse,
                   drain=drain)
