"""Sweep workloads with a compressed frozen base (weight_bits, weight_sparsity): validated per method, labelled,
keyed only when set, and evaluated as the tuning and inference settings they name."""

from __future__ import annotations

import pytest

from edgesim import api
from edgesim.config.hardware import load_arch, resolve_hw_path
from edgesim.config.models import load_model
from edgesim.config.sweep import WorkloadSpec, load_sweep_spec
from edgesim.errors import ConfigError
from edgesim.llm.inference import InferenceSettings
from edgesim.llm.step import TuningSettings
from edgesim.methods import Method
from edgesim.sweep.task import Task, evaluate_task

HEAD = """\
name: compression
hardware: edge_npu_16x16
parameters:
  pe_array.rows: [16]
objectives: [latency_s, energy_j]
mapper: heuristic
workloads:
"""


def _task(w: WorkloadSpec) -> Task:
    return Task(point_id="p", point_key="k", hardware=str(resolve_hw_path(None)), overrides=(), workload=w,
                mapper="heuristic", latency_tolerance=0.0, cache_dir=None)


def test_labels_name_the_compression(write):
    spec = load_sweep_spec(write("s.yaml", HEAD + """\
  - {kind: tune, model: tiny, method: lora, seq: 16, weight_bits: 4, weight_sparsity: 0.5}
  - {kind: tune, model: tiny, method: lora, seq: 16}
  - {kind: infer, model: tiny, method: rag, prompt: 16, generate: 4, encoder: tiny, chunks: 10, weight_bits: 4}
"""))
    assert [w.label for w in spec.workloads] == ["tune tiny lora w4 s50% seq16", "tune tiny lora seq16",
                                                 "infer tiny rag w4 p16+g4 c10"]
    assert "weight_bits" not in spec.workloads[1].key() and spec.workloads[0].key()["weight_sparsity"] == 0.5


@pytest.mark.parametrize(("line", "path", "words"), [
    ("{kind: tune, model: tiny, method: full, weight_bits: 4}", "workloads[0].weight_bits", "trains every weight"),
    ("{kind: tune, model: tiny, method: qlora, weight_sparsity: 0.5}", "workloads[0].weight_sparsity", "NF4"),
    ("{kind: tune, model: tiny, method: rag, weight_bits: 4}", "workloads[0].weight_bits", "uncompressed encoder"),
    ("{kind: tune, model: tiny, method: lora, weight_sparsity: 1.5}", "workloads[0].weight_sparsity", "[0, 0.99]"),
])
def test_bad_compression_is_refused_with_the_field(write, line, path, words):
    with pytest.raises(ConfigError) as err:
        load_sweep_spec(write("s.yaml", HEAD + f"  - {line}\n"))
    assert path in str(err.value) and words in str(err.value)


def test_a_width_the_mac_cannot_run_is_a_failed_row_naming_it():
    # edge_npu_16x16's fusion MAC runs 4, 8 or 16 bits: 3-bit weights are not runnable there
    w = WorkloadSpec(kind="tune", model="tiny", method="lora", seq=16, weight_bits=3)
    row = evaluate_task(_task(w))
    assert row["status"] == "failed" and "cannot run 3-bit operands" in row["error"]


def test_the_rows_are_the_compressed_settings():
    arch, tiny = load_arch(), load_model("tiny")
    w = WorkloadSpec(kind="tune", model="tiny", method="lora", seq=16, weight_bits=4, weight_sparsity=0.5)
    row = evaluate_task(_task(w))
    st = TuningSettings(seq=16, base_bits=8, weight_bits=4, weight_sparsity=0.5)
    r = api.tune(arch, tiny, [Method.LORA], st, None)[0]
    plain = api.tune(arch, tiny, [Method.LORA], TuningSettings(seq=16, base_bits=8), None)[0]
    assert row["peak_memory_bytes"] == r.peak_bytes < plain.peak_bytes
    w = WorkloadSpec(kind="infer", model="tiny", method="lora", prompt=16, generate=4, weight_bits=4)
    row = evaluate_task(_task(w))
    inf = api.infer(arch, tiny, InferenceSettings(prompt=16, generate=4, base_bits=8, weight_bits=4), [None])[0]
    assert row["memory"]["weights"] == inf.weight_bytes


def test_a_spec_without_parameters_runs_the_workloads_on_the_base_alone(write):
    spec = load_sweep_spec(write("s.yaml", HEAD.replace("parameters:\n  pe_array.rows: [16]\n", "") +
                                 "  - {kind: tune, model: tiny, method: lora, seq: 16}\n"))
    assert spec.parameters == ()
    with pytest.raises(ConfigError, match="at least one hardware field to vary with the random sampler"):
        load_sweep_spec(write("r.yaml", HEAD.replace("parameters:\n  pe_array.rows: [16]\n", "")
                              + "  - {kind: tune, model: tiny, method: lora, seq: 16}\nsampler: {kind: random, n: 2}\n"))
