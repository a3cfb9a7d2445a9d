"""Uniform compression of the frozen base weights (TuningSettings/InferenceSettings weight_bits, weight_sparsity),
against hand calculations on the tiny model (hidden 64, intermediate 172, 4 layers, kv dim 32, vocab 256)."""

from __future__ import annotations

import json

import pytest

from edgesim.config.hardware import load_arch
from edgesim.config.models import load_model
from edgesim.llm.inference import InferenceSettings, run_inference
from edgesim.llm.step import TuningSettings, compression_problem, expand_step
from edgesim.methods import Method
from edgesim.ops import Gemm, WeightFormat

ARCH = load_arch()  # edge_npu_16x16: int8, 4-bit fusion, unstructured skipping with a bitmap
TINY = load_model("tiny")
LINEAR_PER_LAYER = 64 * 64 + 64 * 32 + 64 * 32 + 64 * 64 + 3 * 64 * 172  # q, k, v, o, gate, up, down: 45,312
TABLES = 2 * 256 * 64  # embedding and head, kept at the base width


def _weights(method: Method, **kw: object) -> float:
    st = TuningSettings(seq=16, base_bits=8, **kw)  # type: ignore[arg-type]
    return expand_step(ARCH, TINY, method, st).persistent_bytes["weights"]


def test_int4_lora_base_by_hand():
    # every linear at 4 bits (0.5 B), the embedding and head tables at 8 bits (1 B)
    assert _weights(Method.LORA, weight_bits=4) == 4 * LINEAR_PER_LAYER * 0.5 + TABLES * 1


def test_half_sparse_int8_base_stores_values_and_a_bitmap():
    # 50% of the values at 1 B plus one bitmap bit per element: 0.625 B per weight
    assert _weights(Method.LORA, weight_sparsity=0.5) == 4 * LINEAR_PER_LAYER * 0.625 + TABLES


def test_partial_compresses_only_its_frozen_layers():
    # partial_layers=1: layers 0-2 frozen at 4 bits, layer 3 trained at 8 bits
    assert _weights(Method.PARTIAL, partial_layers=1, weight_bits=4) == (
        3 * LINEAR_PER_LAYER * 0.5 + LINEAR_PER_LAYER * 1 + TABLES)
    step = expand_step(ARCH, TINY, Method.PARTIAL, TuningSettings(seq=16, base_bits=8, partial_layers=1, weight_bits=4))
    widths = {n.op.name.split(".")[0]: n.op.b_bits for n in step.nodes
              if isinstance(n.op, Gemm) and n.op.name.endswith("q_proj")}
    assert widths == {"L0": 4, "L1": 4, "L2": 4, "L3": 8}


def test_compressed_gemms_keep_8_bit_activations():
    step = expand_step(ARCH, TINY, Method.LORA, TuningSettings(seq=16, base_bits=8, weight_bits=4, weight_sparsity=0.5))
    q = next(n.op for n in step.nodes if isinstance(n.op, Gemm) and n.op.name == "L0.q_proj")
    assert (q.a_bits, q.b_bits, q.weight_density, q.weight_format) == (8, 4, 0.5, WeightFormat.UNSTRUCTURED)


@pytest.mark.parametrize("method", [Method.FULL, Method.QLORA, Method.EDGE_LLM])
def test_methods_without_a_frozen_uniform_base_refuse(method):
    why = compression_problem(method, 4, 0.0)
    assert why is not None
    with pytest.raises(ValueError, match=why.split(" ")[0]):
        expand_step(ARCH, TINY, method, TuningSettings(seq=16, base_bits=8, weight_bits=4))


def test_compression_problem_accepts_the_frozen_methods_and_checks_the_fraction():
    assert compression_problem(Method.LORA, 4, 0.5) is None
    assert compression_problem("rag", 4, 0.0) is None
    assert compression_problem(Method.FULL, None, 0.0) is None  # nothing asked, nothing refused
    assert "[0, 1)" in str(compression_problem(Method.LORA, None, 1.0))


def test_inference_weights_by_hand():
    r = run_inference(ARCH, TINY, InferenceSettings(prompt=16, generate=4, base_bits=8, weight_bits=4), None)
    assert r.weight_bytes == 4 * LINEAR_PER_LAYER * 0.5 + TABLES
    dense = run_inference(ARCH, TINY, InferenceSettings(prompt=16, generate=4, base_bits=8), None)
    assert dense.weight_bytes == 4 * LINEAR_PER_LAYER + TABLES


def test_cli_compresses_the_frozen_base(capsys):
    from edgesim.cli import main

    args = ["tune", "--model", "tiny", "--seq", "16", "--method", "lora", "--no-cache", "--format", "json"]
    assert main([*args, "--weight-bits", "4"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weight_bits"] == 4
    assert data["methods"][0]["peak_weights_bytes"] == 4 * LINEAR_PER_LAYER * 0.5 + TABLES


@pytest.mark.parametrize(("extra", "message"), [
    (["--compare", "lora,full", "--weight-bits", "4"], "--weight-bits: cannot apply to full"),
    (["--method", "lora", "--weight-bits", "3"], "--weight-bits: edge-npu-16x16 cannot run 3-bit operands"),
    (["--method", "lora", "--weight-sparsity", "1"], "--weight-sparsity: expected a fraction in [0, 1), got 1.0"),
])
def test_cli_refuses_bad_compression(extra, message, capsys):
    from edgesim.cli import main

    assert main(["tune", "--model", "tiny", "--seq", "16", "--no-cache", *extra]) == 2
    assert message in capsys.readouterr().err
