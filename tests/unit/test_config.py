"""Hardware YAML: every shipped config loads; bad files give one error listing every problem."""

from __future__ import annotations

import pytest
import yaml

from edgesim.arch import PrecisionMode, SparsityMode
from edgesim.config.hardware import HW_CONFIG_DIR, load_arch
from edgesim.errors import ConfigError
from tests.conftest import REPO

GOOD = (REPO / "hw_configs" / "edge_npu_16x16.yaml").read_text()


@pytest.mark.parametrize("path", sorted(HW_CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_load(path):
    arch = load_arch(str(path))
    raw = yaml.safe_load(path.read_text())
    # DRAM bytes per cycle from the file's GB/s and MHz, and its GiB, converted by hand
    assert arch.dram.bandwidth_bytes_per_cycle == pytest.approx(raw["dram"]["bandwidth_gb_per_s"] * 1e9
                                                                / (raw["clock_mhz"] * 1e6))
    assert arch.dram.capacity_bytes == raw["dram"]["capacity_gib"] * 2**30


def test_default_units_are_converted():
    a = load_arch()
    assert a.name == "edge-npu-16x16"
    assert a.global_buffer.capacity_bytes == 256 * 1024
    assert a.dram.bandwidth_bytes_per_cycle == pytest.approx(12.8e9 / 800e6)  # 16 B/cycle
    assert a.dram.latency_cycles == 80  # 100 ns at 800 MHz
    assert a.registers.instances == 256
    assert a.mac.precision_mode == PrecisionMode.FUSION
    assert a.sparsity.mode == SparsityMode.UNSTRUCTURED


def test_precision_and_sparsity_variants_exist():
    modes = {load_arch(str(p)).mac.precision_mode for p in HW_CONFIG_DIR.glob("*.yaml")}
    sparsity = {load_arch(str(p)).sparsity.mode for p in HW_CONFIG_DIR.glob("*.yaml")}
    assert {PrecisionMode.FIXED, PrecisionMode.FUSION} <= modes
    assert {SparsityMode.NONE, SparsityMode.UNSTRUCTURED, SparsityMode.NM} <= sparsity


def _errors(write, text):
    path = write("hw.yaml", text)
    with pytest.raises(ConfigError) as exc:
        load_arch(str(path))
    return path, str(exc.value), exc.value.problems


def test_unknown_key_gets_did_you_mean_with_line(write):
    text = GOOD.replace("  capacity_kib: 256", "  capcity_kib: 256")
    line = text.splitlines().index("  capcity_kib: 256") + 1
    path, msg, problems = _errors(write, text)
    assert f"{path}:{line}: global_buffer.capcity_kib: unknown key 'capcity_kib'; did you mean 'capacity_kib'?" in msg
    # the required field it replaced is reported too, in the same error
    assert "global_buffer.capacity_kib: missing required field (expected a positive number (KiB, at most 1,048,576))" in msg
    assert len(problems) == 2


def test_duplicate_key_rejected(write):
    text = GOOD.replace("  rows: 16\n", "  rows: 16\n  rows: 32\n", 1)
    lines = text.splitlines()
    second = [i for i, ln in enumerate(lines) if ln == "  rows: 32"][0] + 1
    path, msg, _ = _errors(write, text)
    assert f"{path}:{second}: rows: duplicate key 'rows' (first defined on line {second - 1})" in msg


def test_all_bad_values_listed_at_once(write):
    text = GOOD.replace("clock_mhz: 800", "clock_mhz: fast").replace("  cols: 16", "  cols: 0") \
               .replace("efficiency: 0.75", "efficiency: 1.5")
    _, msg, problems = _errors(write, text)
    assert len(problems) == 3
    assert "clock_mhz: expected a positive number (MHz, at most 10,000), got 'fast'" in msg
    assert "pe_array.cols: expected a positive integer (PEs, at most 4,096), got 0" in msg
    assert "sparsity.efficiency: expected a number in (0, 1], got 1.5" in msg


def test_enum_error_lists_choices(write):
    _, msg, _ = _errors(write, GOOD.replace("precision_mode: fusion", "precision_mode: fused"))
    assert "mac.precision_mode: expected one of fixed, fusion, serial, split, got 'fused'" in msg


def test_cross_check_native_energy(write):
    text = GOOD.replace("    8: 0.3\n", "")
    _, msg, _ = _errors(write, text)
    assert "mac.energy_pj_per_mac: needs an entry for every width the MAC runs (4, 8 bits); missing 8, has 4" in msg


def test_nm_mode_needs_patterns(write):
    text = GOOD.replace("mode: unstructured", "mode: nm")
    _, msg, _ = _errors(write, text)
    assert "sparsity.nm_patterns: mode 'nm' needs at least one pattern" in msg


def test_yaml_syntax_error_names_file_and_line(write):
    path, msg, _ = _errors(write, "name: x\npe_array: [1, 2\n")
    assert str(path) in msg and "invalid YAML" in msg


def test_missing_file_is_config_error():
    with pytest.raises(ConfigError, match="no such file, and no built-in hardware config of that name; did you mean 'edge_npu_16x16'"):
        load_arch("edge_npu_16x61")


def test_set_overrides_apply():
    a = load_arch(None, ["pe_array.rows=8", "pe_array.cols=64", "global_buffer.capacity_kib=512"])
    assert (a.pe_array.rows, a.pe_array.cols) == (8, 64)
    assert a.global_buffer.capacity_bytes == 512 * 1024
    assert a.registers.instances == 8 * 64


def test_set_errors_name_the_override():
    with pytest.raises(ConfigError) as exc:
        load_arch(None, ["pe_array.rows=abc", "pe_arry.cols=3", "mac", "pe_array=3"])
    msg = str(exc.value)
    assert "--set pe_array.rows=abc: pe_array.rows: expected a positive integer (PEs, at most 4,096), got 'abc'" in msg
    assert "--set pe_arry.cols=3: pe_arry.cols: no field 'pe_arry' in the top level; did you mean 'pe_array'?" in msg
    assert "--set mac: expected PATH=VALUE" in msg
    assert "--set pe_array=3: pe_array: is a section; set one of its fields" in msg
    assert len(exc.value.problems) == 4


def test_a_repeated_set_blames_the_one_that_took_effect():
    with pytest.raises(ConfigError) as exc:
        load_arch(None, ["pe_array.rows=8", "pe_array.rows=0"])
    assert str(exc.value).count("--set pe_array.rows=0: pe_array.rows: expected a positive integer") == 1
    assert "--set pe_array.rows=8" not in str(exc.value)


def test_fingerprint_tracks_numbers_not_path():
    a, b = load_arch(), load_arch(None, ["pe_array.rows=8"])
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == load_arch(str(HW_CONFIG_DIR / "edge_npu_16x16.yaml")).fingerprint()


def test_set_inside_a_table_field_blames_the_override():
    with pytest.raises(ConfigError) as exc:
        load_arch(None, ["mac.energy_pj_per_mac.4=x"])
    assert str(exc.value).splitlines()[1].strip().startswith("--set mac.energy_pj_per_mac.4=x: mac.energy_pj_per_mac: expected")
    assert load_arch(None, ["mac.energy_pj_per_mac.4=0.05"]).mac.energy_pj_at(4) == 0.05
