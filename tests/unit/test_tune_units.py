"""The tune report scales its units so a small model's figures are not columns of zeros, and a large one's stay in
s, J and GiB (the README's figures)."""

from __future__ import annotations

import re

from edgesim.cli import main


def table(capsys, *args: str) -> list[str]:
    assert main(["tune", *args]) == 0
    out = capsys.readouterr().out.splitlines()
    start = out.index("One tuning step per method:") + 1
    return out[start:out.index("", start)]


def test_tiny_model_figures_are_not_zeros(capsys):
    rows = table(capsys, "--model", "tiny", "--compare", "lora,edge-llm")
    header = rows[0].split()
    assert {"µs", "µJ", "KiB"} <= set(header)
    for line in rows[1:]:
        numbers = [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*\.\d+", line)]
        assert numbers and all(v > 0 for v in numbers[:4]), line  # step, energy, peak, DRAM
    assert "0.0M" not in "\n".join(rows)


def test_llama_keeps_seconds_joules_and_gib(capsys):
    header = table(capsys, "--method", "edge-llm", "--mapper", "heuristic")[0]
    assert "step s" in header and "energy J" in header and "peak GiB" in header and "DRAM GiB" in header
