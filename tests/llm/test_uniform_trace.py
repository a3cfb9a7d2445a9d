"""`edgesim trace --uniform`: a trace for a model nobody measured, which says so."""

from __future__ import annotations

import json

from edgesim.cli import main
from edgesim.config.models import load_model
from edgesim.config.traces import load_trace


def test_uniform_trace_is_uniform_and_says_it_was_not_measured(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["trace", "--uniform", "--model", "tiny", "--target", "0.3", "--low-bit-layers", "1", "--stride", "2",
                 "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["provenance"]["measured"] == "nothing: a uniform policy"
    assert "not measured" in data["provenance"]["policy"]
    assert [x["weight_sparsity"] for x in data["layers"]] == [0.3] * 4
    assert [x["weight_bits"] for x in data["layers"]] == [8, 4, 8, 8]
    trace = load_trace(str(out), load_model("tiny"))
    assert [(p.first, p.last, p.exit_layer) for p in trace.phases] == [(0, 1, 1), (2, 3, 3)]
    capsys.readouterr()
    assert main(["tune", "--model", "tiny", "--trace", str(out), "--compare", "lora,edge-llm", "--no-cache"]) == 0
    assert "measured: nothing: a uniform policy" in capsys.readouterr().out


def test_one_source_of_sparsities(tmp_path, capsys):
    assert main(["trace", "--uniform", "--from-mse", "x.csv", "--model", "tiny", "-o", str(tmp_path / "t.json")]) == 2
    assert "give one of --from-mse CSV, --measure and --uniform" in capsys.readouterr().err
