"""Sweep spec validation: every problem at once, each with file:line, field path, value and what was expected."""

from __future__ import annotations

import pytest

from edgesim.config.sweep import load_sweep_spec
from edgesim.errors import ConfigError

from .conftest import TINY_SPEC


def test_the_tiny_spec_loads(tiny_spec):
    spec = load_sweep_spec(tiny_spec)
    assert spec.parameters == (("pe_array.rows", (8, 16, 32)), ("pe_array.cols", (8, 16)),
                               ("global_buffer.capacity_kib", (64.0, 128.0, 256.0)))
    assert [w.label for w in spec.workloads] == ["tune tiny edge-llm", "tune tiny lora"]
    assert spec.sampler.kind == "grid" and spec.mapper == "heuristic"


def test_log_range_of_an_integer_field_rounds_and_dedupes(write):
    p = write("s.yaml", "name: s\nhardware: edge_npu_16x16\nparameters:\n  pe_array.rows: {log_range: [4, 8], num: 5}\n"
                        "workloads: [{kind: tune, model: tiny, method: lora}]\nobjectives: [latency_s]\n")
    # 4, 4.76, 5.66, 6.73, 8 -> 4, 5, 6, 7, 8
    assert load_sweep_spec(p).parameters == (("pe_array.rows", (4, 5, 6, 7, 8)),)


BAD = """\
name: bad
hardware: edge_npu_16x16
parameters:
  pe_array.rowz: [8, 16]
  pe_array.cols: [8, -4]
  global_buffer.capacity_kib: {log_range: [0, 64], num: 3}
  dram: [1, 2]
constraints:
  - "pe_array.rows * pe_array.colz <= 2"
  - "pe_array.rows + 1"
  - "__import__('os').system('true')"
workloads:
  - {kind: tune, model: no_such_model, method: lora}
  - {kind: train, model: tiny}
  - {kind: infer, model: tiny, method: full}
objectives: [latency_s, speed]
sampler: {kind: random, seed: 0}
"""


def test_every_problem_is_reported_at_once_with_its_line(write):
    p = write("bad.yaml", BAD)
    with pytest.raises(ConfigError) as e:
        load_sweep_spec(p)
    text = str(e.value)
    src = str(p)
    expected = [
        f"{src}:4: parameters.pe_array.rowz: no field 'rowz' in pe_array; did you mean 'rows'?",
        f"{src}:5: parameters.pe_array.cols: expected a positive integer (PEs, at most 4,096), got -4",
        f"{src}:6: parameters.global_buffer.capacity_kib: log_range: expected 0 < lo < hi for a log range",
        f"{src}:7: parameters.dram: is a section; vary one of its fields",
        f"{src}:8: constraints[0]: 'pe_array.rows * pe_array.colz <= 2': Attribute 'colz' does not exist",
        f"{src}:8: constraints[1]: 'pe_array.rows + 1': expected a comparison giving true or false, got 17",
        f"{src}:8: constraints[2]: \"__import__('os').system('true')\": Function '__import__' not defined",
        f"{src}:13: workloads[0]: no_such_model: no such file, and no built-in model of that name",
        f"{src}:14: workloads[1].kind: expected tune or infer, got 'train'",
        f"{src}:15: workloads[2].method: expected lora, edge-llm or rag, got 'full'",
        f"{src}:16: objectives: expected distinct names from latency_s, energy_j, area_mm2",
        f"{src}:17: sampler.n: missing required field (expected a positive integer)",
    ]
    for line in expected:
        assert line in text, f"missing: {line}\n--- got:\n{text}"
    assert text.startswith(f"{len(expected)} problems:"), text.splitlines()[0]


def test_cli_exits_2_with_the_message_and_no_traceback(write, tmp_path):
    from .conftest import edgesim

    p = write("bad.yaml", BAD)
    res = edgesim("sweep", "run", str(p), "-o", str(tmp_path / "r.db"), check=False)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "parameters.pe_array.rowz" in res.stderr
    assert not (tmp_path / "r.db").exists()


def test_workload_lengths_beyond_the_models_max_seq_are_refused(write):
    spec = TINY_SPEC.replace("  - {kind: tune, model: tiny, method: lora}",
                             "  - {kind: tune, model: tiny, method: lora, seq: 4096}\n"
                             "  - {kind: infer, model: tiny, method: lora}")
    with pytest.raises(ConfigError) as e:
        load_sweep_spec(write("s.yaml", spec))
    msg = str(e.value)
    assert "workloads[1].seq: seq is 4,096 but tiny's max_seq is 128" in msg
    assert "workloads[2].prompt: prompt + generate is 640 but tiny's max_seq is 128" in msg
