"""Fuzzing every loader with random bytes, random YAML and random JSON: the only exception that may escape is
`ConfigError` (which the CLI prints as a message with exit status 2)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesim.config.hardware import load_arch
from edgesim.config.mappings import load_mappings
from edgesim.config.models import load_model
from edgesim.config.sweep import load_sweep_spec
from edgesim.config.traces import load_trace
from edgesim.config.workloads import load_gemm_workload
from edgesim.errors import ConfigError
from edgesim.frontend.luc import load_sensitivity
from tests.conftest import REPO

TINY = load_model("tiny")
LOADERS: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "hardware": (".yaml", lambda p: load_arch(str(p))),
    "model": (".yaml", lambda p: load_model(str(p))),
    "workload_yaml": (".yaml", load_gemm_workload),
    "workload_csv": (".csv", load_gemm_workload),
    "trace": (".json", lambda p: load_trace(p, TINY)),
    "mappings": (".json", load_mappings),
    "sweep": (".yaml", load_sweep_spec),
    "sensitivity": (".csv", load_sensitivity),
}

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | \
    st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
trees = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids,
                                                                                       max_size=5), max_leaves=20)


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The shipped file with one top-level field replaced by a random tree (deeper than random noise gets)."""
    return st.sampled_from(sorted(base)).flatmap(lambda k: trees.map(lambda v: {**base, k: v}))


HW = yaml.safe_load((REPO / "hw_configs" / "edge_npu_16x16.yaml").read_text(encoding="utf-8"))
TRACE = json.loads((REPO / "workloads" / "traces" / "tiny_edge_llm.json").read_text(encoding="utf-8"))


def only_config_errors(kind: str, data: bytes) -> None:
    suffix, load = LOADERS[kind]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"input{suffix}"
        p.write_bytes(data)
        with contextlib.suppress(ConfigError):
            load(p)


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(kind=st.sampled_from(sorted(LOADERS)), data=st.binary(max_size=300))
def test_random_bytes(kind, data):
    only_config_errors(kind, data)


@FUZZ
@given(kind=st.sampled_from(sorted(LOADERS)), tree=trees)
def test_random_yaml(kind, tree):
    only_config_errors(kind, yaml.safe_dump(tree, allow_unicode=True).encode("utf-8"))


@FUZZ
@given(kind=st.sampled_from(sorted(LOADERS)), tree=trees)
def test_random_json(kind, tree):
    only_config_errors(kind, json.dumps(tree).encode("utf-8"))


@FUZZ
@given(tree=mutated(HW))
def test_hardware_with_one_field_randomised(tree):
    only_config_errors("hardware", yaml.safe_dump(tree, allow_unicode=True).encode("utf-8"))


@FUZZ
@given(tree=mutated(TRACE))
def test_trace_with_one_field_randomised(tree):
    only_config_errors("trace", json.dumps(tree).encode("utf-8"))


LAYER_FIELDS = sorted(TRACE["layers"][0])


@FUZZ
@given(layer=st.integers(0, len(TRACE["layers"]) - 1), field=st.sampled_from(LAYER_FIELDS), value=scalars)
def test_trace_with_one_layer_field_randomised(layer, field, value):
    """Deeper than a top-level field: one field of one layer, any scalar (NaN and infinities included). The trace
    is then costed too, so a value the loader lets through must also be one the model can price."""
    tree = json.loads(json.dumps(TRACE))
    tree["layers"][layer][field] = value
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.json"
        p.write_text(json.dumps(tree), encoding="utf-8")
        with contextlib.suppress(ConfigError):
            from edgesim import api
            from edgesim.config.hardware import load_arch
            from edgesim.llm.step import TuningSettings
            from edgesim.methods import Method

            t = load_trace(p, TINY)
            api.tune(load_arch(), TINY, [Method.EDGE_LLM], TuningSettings(seq=32), t)


HW_LEAVES = sorted(f"{sec}.{k}" for sec, body in HW.items() if isinstance(body, dict) for k in body)


@FUZZ
@given(leaf=st.sampled_from(HW_LEAVES), value=scalars)
def test_hardware_with_one_nested_field_randomised(leaf, value):
    """One field of one section, any scalar; what the loader accepts must then cost a GEMM and a layer."""
    sec, key = leaf.split(".")
    tree = json.loads(json.dumps(HW))
    tree[sec][key] = value
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "hw.yaml"
        p.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
        with contextlib.suppress(ConfigError):
            from edgesim import api
            from edgesim.llm.layers import LayerSettings, decoder_layer_forward
            from edgesim.ops import Gemm

            arch = load_arch(str(p))
            api.simulate_ops(arch, [Gemm(name="g", m=64, n=48, k=96), *decoder_layer_forward(TINY, LayerSettings(seq=16))])
