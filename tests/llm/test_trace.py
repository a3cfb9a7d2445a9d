"""The trace format: the shipped default loads; every kind of bad trace gets a clear message."""

from __future__ import annotations

import copy
import json

import pytest

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.config.traces import TRACE_DIR, load_trace, parse_trace
from edgesim.errors import ConfigError
from edgesim.frontend.export import edge_llm_trace
from edgesim.llm.trace import check_against
from edgesim.ops import WeightFormat

TINY = load_model("tiny")
GOOD = edge_llm_trace(TINY, [0.5, 0.4, 0.3, 0.0], low_bit_layers=(3,), stride=2)


def test_default_trace_loads_with_its_provenance():
    t = load_trace(TRACE_DIR / "llama7b_edge_llm.json", load_model("llama7b"))
    assert len(t.policies) == 32 and [p.exit_layer for p in t.phases] == [7, 15, 23, 31]
    assert t.provenance["unmeasured_layers"] == "31" and t.provenance["unmeasured_choice"] == "exclude"
    assert [i for i, p in enumerate(t.policies) if p.w_bits == 4] == [2, 29, 30, 31]
    assert t.policies[30].weight_format == WeightFormat.DENSE  # the most sensitive layer is not pruned


def test_good_trace_parses():
    t = parse_trace(GOOD, "good", TINY)
    assert [(p.first, p.last, p.exit_layer) for p in t.phases] == [(0, 1, 1), (2, 3, 3)]
    assert t.policies[0].weight_density == 0.5 and t.policies[3].w_bits == 4
    assert t.exit_layers == (1, 3)


def _bad(edit, model=TINY):
    data = copy.deepcopy(GOOD)
    edit(data)
    with pytest.raises(ConfigError) as exc:
        parse_trace(data, "t.json", model)
    return str(exc.value)


def test_wrong_schema_version():
    msg = _bad(lambda d: d.update(schema_version=2))
    assert "t.json: schema_version: unsupported trace version 2; this edgesim reads version 1" in msg


def test_layer_count_disagrees_with_model():
    msg = _bad(lambda d: d.update(num_layers=5))
    assert "num_layers: the trace has 5 layers but model tiny has 4" in msg
    msg = _bad(lambda d: d["layers"].pop())
    assert "layers: expected 4 entries (num_layers), got 3" in msg


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5])
def test_sparsity_outside_range(value):
    msg = _bad(lambda d: d["layers"][1].update(weight_sparsity=value))
    assert "t.json: layers[1].weight_sparsity:" in msg


def test_unknown_key_did_you_mean():
    msg = _bad(lambda d: d["layers"][0].update(weight_bitz=8))
    assert "layers[0]: unknown key 'weight_bitz'; did you mean 'weight_bits'?" in msg


def test_missing_field_and_wrong_type_together():
    def edit(d):
        del d["layers"][0]["kv_bits"]
        d["batch"] = "one"
    msg = _bad(edit)
    assert "layers[0]: 'kv_bits' is a required property" in msg and "batch: 'one' is not of type 'integer'" in msg


def test_nm_pattern_must_match_sparsity():
    msg = _bad(lambda d: d["layers"][0].update(sparsity_format="2:4", weight_sparsity=0.3))
    assert "layers[0].weight_sparsity: a 2:4 layer has sparsity 0.5, got 0.3" in msg


def test_window_and_exit_inside_model():
    msg = _bad(lambda d: d["tuning"]["phases"][1].update(trainable_window=[2, 9]))
    assert "tuning.phases[1].trainable_window: expected 0 <= first <= last < 4, got [2, 9]" in msg
    msg = _bad(lambda d: d["tuning"]["phases"][0].update(exit_layer=0))
    assert "tuning.phases[0].exit_layer: expected between the window's last layer (1) and 3, got 0" in msg
    msg = _bad(lambda d: d["inference"].update(exit_layers=[3, 1]))
    assert "inference.exit_layers: expected increasing layer indices below 4, got [3, 1]" in msg


def test_model_name_must_match():
    msg = _bad(lambda d: d.update(model="llama-7b"))
    assert "model: the trace is for 'llama-7b' but the model is 'tiny'" in msg


@pytest.mark.parametrize(("field", "bits"), [("weight_bits", 32), ("weight_bits", 3), ("activation_bits", 1),
                                            ("kv_bits", 12)])
def test_bits_the_hardware_cannot_run(field, bits):
    """The default NPU's 8-bit fusion MAC has 4-bit bricks: it runs 4 and 8 bits, and 16 in passes; 1-, 3- and 12-bit
    operands would otherwise be priced as if stored that narrow."""
    data = copy.deepcopy(GOOD)
    data["layers"][2][field] = bits
    t = parse_trace(data, "t.json", TINY)
    with pytest.raises(ConfigError, match=rf"t.json: layers\[2\].{field}: edge-npu-16x16 cannot run {bits}-bit operands; "
                                          r"its 8-bit fusion MAC runs 4, 8 or 16 bits"):
        check_against(t, load_arch())


def test_invalid_json_names_line(write):
    path = write("t.json", '{"schema_version": 1,\n "model": }\n')
    with pytest.raises(ConfigError, match="t.json:2: invalid JSON"):
        load_trace(path)


def test_roundtrip_through_file(write):
    path = write("t.json", json.dumps(GOOD))
    assert load_trace(path, TINY).num_layers == 4


def test_layer_indices_each_once():
    msg = _bad(lambda d: d["layers"][1].update(index=0))
    assert "layers: indices must be 0..3, each once; got [0, 0, 2, 3]" in msg


def test_nm_pattern_must_be_valid():
    msg = _bad(lambda d: d["layers"][0].update(sparsity_format="4:2", weight_sparsity=0.5))
    assert "layers[0].sparsity_format: expected N:M with 0 < N < M, got '4:2'" in msg
    msg = _bad(lambda d: d["layers"][0].update(sparsity_format="half"))
    assert "layers[0].sparsity_format: 'half' does not match" in msg


def test_missing_file():
    with pytest.raises(ConfigError, match="nope.json: cannot read file"):
        load_trace("nope.json")


def test_each_layers_lora_rank_is_used():
    """tiny: hidden 64, kv_dim 2 x 16 = 32. A rank-r adapter on q (64x64) has 64r + 64r parameters, on v (64x32)
    64r + 32r: 224r per layer. Phase 0 trains layers 0 and 1: 224 x (8 + 8) = 3,584 at rank 8, and 224 x (16 + 8)
    = 5,376 when layer 0's rank is 16 (hand calculation)."""
    from edgesim.llm.step import TuningSettings, expand_step
    from edgesim.methods import Method

    counts = []
    for rank in (8, 16):
        data = copy.deepcopy(GOOD)
        data["layers"][0]["lora_rank"] = rank
        t = parse_trace(data, "t.json", TINY)
        step = expand_step(load_arch(), TINY, Method.EDGE_LLM, TuningSettings(seq=32), list(t.policies), t.phases[0])
        counts.append(step.trainable_params)
    assert counts == [3584, 5376]


def test_trainable_must_match_the_windows():
    data = copy.deepcopy(GOOD)
    data["layers"][1]["trainable"] = False
    with pytest.raises(ConfigError, match=r"t.json: layers\[1\].trainable: layer 1 is in phase's trainable_window, "
                                          r"so expected true, got false"):
        parse_trace(data, "t.json", TINY)
    data = copy.deepcopy(GOOD)
    data["tuning"]["phases"] = data["tuning"]["phases"][:1]  # layers 2 and 3 are trained by no phase
    data["inference"]["exit_layers"] = [1]
    with pytest.raises(ConfigError, match=r"layers\[2\].trainable: layer 2 is in no phase's trainable_window"):
        parse_trace(data, "t.json", TINY)
    data = copy.deepcopy(GOOD)
    data["layers"][0]["lora_rank"] = 0
    with pytest.raises(ConfigError, match=r"layers\[0\].lora_rank: layer 0 is trained by a phase"):
        parse_trace(data, "t.json", TINY)
