"""The LUC formula against the published LLaMA-7B measurements (../shared/data) and DESIGN.md section 2(a)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgesim.errors import ConfigError
from edgesim.frontend.luc import load_sensitivity, luc_sparsity
from tests.conftest import REPO

DATA = REPO.parent / "shared" / "data" / "llama7b_layerwise_pruning_mse.csv"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not beside the repository")


@needs_data
def test_formula_reproduces_design_values_as_the_authors_applied_it():
    # DESIGN.md 2(a): about 0.553 -> 0.529 for layers 0-15, 0.520 -> 0.441 for 16-28, 0.394 for 29,
    # 0.0 for 30 and 0.554 for 31 (layer 31's zeros taken at face value).
    r = luc_sparsity(load_sensitivity(DATA), target=0.5, unmeasured="as-measured")
    s = np.round(r.sparsity, 3)
    assert (s[0], s[15], s[16], s[28], s[29], s[30], s[31]) == (0.553, 0.529, 0.520, 0.441, 0.394, 0.0, 0.554)
    assert all(s[i] >= s[i + 1] for i in range(30))  # decreasing through the measured layers
    assert np.mean(r.sparsity) == pytest.approx(0.5)
    assert r.unmeasured == (31,) and r.choice == "as-measured"


@needs_data
def test_unmeasured_layer_is_refused_by_default():
    with pytest.raises(ConfigError) as exc:
        luc_sparsity(load_sensitivity(DATA), source=str(DATA))
    msg = str(exc.value)
    assert "layer 31: every output_mse is 0: the layer was not measured, not insensitive" in msg
    assert "--unmeasured as-measured" in msg and "--unmeasured exclude" in msg


@needs_data
def test_excluding_layer_31_shifts_the_others_up_by_about_0002():
    df = load_sensitivity(DATA)
    a = np.array(luc_sparsity(df, unmeasured="as-measured").sparsity)
    e = np.array(luc_sparsity(df, unmeasured="exclude").sparsity)
    shift = e[:30] - a[:30]
    assert np.all((shift > 0.001) & (shift < 0.0025))
    assert e[30] == 0.0 and e[31] == 0.5 and np.mean(e) == pytest.approx(0.5)


def test_formula_by_hand():
    # s = [1, 2, 3] -> s_hat = [0, .5, 1] -> keep = [1, .5, 0] -> x (0.5 * 3) / 1.5 = [1.0, 0.5, 0.0]
    df = pd.DataFrame({"layer": [0, 1, 2], "pruning_ratio": [0.1] * 3, "sample": [0] * 3, "output_mse": [1.0, 2.0, 3.0]})
    assert luc_sparsity(df, target=0.5).sparsity == (1.0, 0.5, 0.0)


def test_bad_inputs(write):
    path = write("m.csv", "layer,ratio\n0,0.1\n")
    with pytest.raises(ConfigError, match="pruning_ratio,output_mse: missing column"):
        load_sensitivity(path)
    df = pd.DataFrame({"layer": [0, 1], "pruning_ratio": [0.1] * 2, "sample": [0] * 2, "output_mse": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="target: expected a mean sparsity in \\(0, 1\\), got 1.5"):
        luc_sparsity(df, target=1.5)
