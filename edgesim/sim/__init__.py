"""The tile-level pipeline simulator: a GEMM's outer loop nest played as DRAM loads, compute and write-backs,
with stalls by cause and the event log (timeline data)."""
