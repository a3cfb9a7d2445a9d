"""Hardware YAML `array:` and `memories:` -> `ArchSpec.hierarchy`: a valid file builds the Hierarchy (DRAM from the
dram section, last); every bad entry is a Problem naming the file, line, path and value, all listed at once."""

from __future__ import annotations

import pytest

from edgesim.config import hardware
from edgesim.config.hardware import load_arch
from edgesim.errors import ConfigError
from edgesim.hierarchy import Interconnect, MemoryKind, PortModel
from tests.conftest import REPO

BASE = (REPO / "hw_configs" / "edge_npu_16x16.yaml").read_text()  # 16 x 16 PEs, 800 MHz, 12.8 GB/s DRAM

# 8 x 8 x 4 = 256 PEs, as the base's 16 x 16; B in a register per (D1, D2) shared over D3; C in one per (D1, D3)
# reducing over D2; A straight from the buffer
SECTIONS = """\
array:
  interconnect: broadcast
  axes: {D1: 8, D2: 8, D3: 4}
memories:
  rf_w:
    kind: register
    operands: [B]
    capacity_bytes: 1
    served_axes: [D3]
    read_bytes_per_cycle: 1
    write_bytes_per_cycle: 2
    read_energy_pj_per_byte: 0.01
    write_energy_pj_per_byte: 0.02
  rf_o:
    kind: register
    operands: [C]
    capacity_bytes: 2
    served_axes: [D2]
    read_bytes_per_cycle: 4
    shared_port: true
    read_energy_pj_per_byte: 0.03
    write_energy_pj_per_byte: 0.04
  sram:
    kind: buffer
    operands: [A, B, C]
    capacity_bytes: 65536
    served_axes: [D1, D2, D3]
    read_bytes_per_cycle: 64
    write_bytes_per_cycle: 32
    read_energy_pj_per_byte: 1.5
    write_energy_pj_per_byte: 1.6
    latency_cycles: 2
"""


def _text(sections: str = SECTIONS, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert old in sections, old  # a replacement that matches nothing would test the valid file
        sections = sections.replace(old, new, 1)
    return BASE + sections


def _line(text: str, needle: str) -> int:
    """1-based line of the first line of `text` containing `needle` (searched in the appended sections)."""
    lines = text.splitlines()
    start = len(BASE.splitlines())
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def _errors(write, text: str, overrides: tuple[str, ...] = ()) -> tuple[str, str, list]:
    path = write("hw.yaml", text)
    with pytest.raises(ConfigError) as exc:
        load_arch(str(path), list(overrides))
    return str(path), str(exc.value), exc.value.problems


def test_valid_file_builds_the_hierarchy(write):
    arch = load_arch(str(write("hw.yaml", _text())))
    h = arch.hierarchy
    assert h is not None
    assert h.interconnect == Interconnect.BROADCAST
    assert [(a.name, a.size) for a in h.axes] == [("D1", 8), ("D2", 8), ("D3", 4)]
    assert h.pes == arch.pe_array.pes == 256
    assert [m.name for m in h.memories] == ["rf_w", "rf_o", "sram", "dram"]
    assert [m.kind for m in h.memories] == [MemoryKind.REGISTER, MemoryKind.REGISTER, MemoryKind.BUFFER,
                                            MemoryKind.DRAM]
    assert [m.served_axes for m in h.memories] == [("D3",), ("D2",), ("D1", "D2", "D3"), ("D1", "D2", "D3")]
    assert [m.operands for m in h.memories] == [("B",), ("C",), ("A", "B", "C"), ("A", "B", "C")]
    rf_w, rf_o, sram, dram = h.memories
    assert (rf_w.read_bytes_per_cycle, rf_w.write_bytes_per_cycle, rf_w.shared_port) == (1, 2, False)
    assert (rf_w.read_pj_per_byte, rf_w.write_pj_per_byte, rf_w.latency_cycles) == (0.01, 0.02, 0)
    assert (rf_o.write_bytes_per_cycle, rf_o.shared_port) == (4, True)  # a shared port writes at the read rate
    assert (sram.capacity_bytes, sram.write_bytes_per_cycle, sram.latency_cycles) == (65536, 32, 2)
    # DRAM, last, from the dram section: 12.8 GB/s at 800 MHz = 16 B/cycle, 100 ns = 80 cycles, 8 GiB, 36 pJ/B
    assert (dram.read_bytes_per_cycle, dram.write_bytes_per_cycle, dram.shared_port) == (16, 16, True)
    assert dram.read_bytes_per_cycle == arch.dram.bandwidth_bytes_per_cycle
    assert (dram.latency_cycles, dram.capacity_bytes) == (80, 8 * 1024**3)
    assert (dram.read_pj_per_byte, dram.write_pj_per_byte) == (36.0, 36.0)
    assert h.chain("A") == (2, 3) and h.chain("B") == (0, 2, 3) and h.chain("C") == (1, 2, 3)


def test_without_the_sections_nothing_changes(write):
    plain = load_arch(str(write("plain.yaml", BASE)))
    assert plain.hierarchy is None
    assert plain.fingerprint() == load_arch().fingerprint()
    with_h = load_arch(str(write("hw.yaml", _text())))
    assert with_h.fingerprint() != plain.fingerprint()  # the hierarchy's numbers are modelled numbers
    other = load_arch(str(write("hw2.yaml", _text(SECTIONS, ("capacity_bytes: 65536", "capacity_bytes: 32768")))))
    assert other.fingerprint() != with_h.fingerprint()


def test_an_operand_in_no_on_chip_memory_comes_from_dram(write):
    text = _text(SECTIONS, ("operands: [A, B, C]", "operands: [B, C]"))
    h = load_arch(str(write("hw.yaml", text))).hierarchy
    assert h is not None and h.chain("A") == (3,)


def test_empty_memories_is_an_array_fed_by_dram(write):
    text = BASE + "array:\n  interconnect: broadcast\n  axes: {X: 256}\nmemories: {}\n"
    h = load_arch(str(write("hw.yaml", text))).hierarchy
    assert h is not None and [m.name for m in h.memories] == ["dram"] and h.memories[0].served_axes == ("X",)


def test_memories_without_array(write):
    text = BASE + SECTIONS.split("memories:\n", 1)[1].join(["memories:\n", ""])
    path, msg, problems = _errors(write, text)
    assert f"{path}:{_line(text, 'memories:')}: memories: is given without `array`: add the array" in msg
    assert len(problems) == 1


def test_array_without_memories(write):
    text = BASE + SECTIONS.split("memories:\n", 1)[0]
    path, msg, problems = _errors(write, text)
    assert f"{path}:{_line(text, 'array:')}: array: is given without `memories`: list the on-chip memories" in msg
    assert len(problems) == 1


@pytest.mark.parametrize("size, got", [("0", "0"), ("-2", "-2"), ("4097", "4097"), ("2.5", "2.5"), ("x", "'x'"),
                                       ("true", "True")])
def test_axis_size_must_be_a_bounded_positive_int(write, size, got):
    text = _text(SECTIONS, ("axes: {D1: 8, D2: 8, D3: 4}", f"axes: {{D1: 8, D2: {size}, D3: 4}}"))
    path, msg, problems = _errors(write, text)
    assert (f"{path}:{_line(text, 'axes:')}: array.axes.D2: expected a positive integer (PEs along the axis, "
            f"at most 4,096), got {got}") in msg
    assert len(problems) == 1  # no product error on top of a bad size


def test_axes_must_not_be_empty(write):
    _, msg, _ = _errors(write, _text(SECTIONS, ("axes: {D1: 8, D2: 8, D3: 4}", "axes: {}")))
    assert "array.axes: expected a mapping {axis name: size} of at least one axis" in msg and "got {}" in msg


def test_axes_product_must_equal_the_pe_array(write):
    text = _text(SECTIONS, ("axes: {D1: 8, D2: 8, D3: 4}", "axes: {D1: 8, D2: 8, D3: 8}"))
    path, msg, _ = _errors(write, text)
    assert (f"{path}:{_line(text, 'axes:')}: array.axes: the axes' sizes multiply to 512 PEs (8 x 8 x 8) but pe_array "
            "is 16 x 16 = 256 PEs") in msg


def test_interconnect_must_be_known(write):
    _, msg, _ = _errors(write, _text(SECTIONS, ("interconnect: broadcast", "interconnect: mesh")))
    assert "array.interconnect: expected one of systolic, broadcast, got 'mesh'" in msg


def test_systolic_needs_two_axes_and_an_abc_register_first(write):
    text = _text(SECTIONS, ("interconnect: broadcast", "interconnect: systolic"))
    path, msg, problems = _errors(write, text)
    line = _line(text, "interconnect:")
    assert f"{path}:{line}: array.interconnect: a systolic array has exactly two axes (rows, cols); array.axes has 3: " \
           "D1, D2, D3" in msg
    assert (f"{path}:{line}: array.interconnect: a systolic array's first (innermost) memory must be a register in each "
            "PE holding A, B and C") in msg
    assert "memories.rf_w is a register holding ['B'] and serving ['D3']" in msg
    assert len(problems) == 2


def test_a_valid_systolic_hierarchy(write):
    text = BASE + """\
array:
  interconnect: systolic
  axes: {rows: 16, cols: 16}
memories:
  rf:
    kind: register
    operands: [A, B, C]
    capacity_bytes: 4
    served_axes: []
    read_bytes_per_cycle: 8
    shared_port: true
    read_energy_pj_per_byte: 0.1
    write_energy_pj_per_byte: 0.1
"""
    h = load_arch(str(write("hw.yaml", text))).hierarchy
    assert h is not None and h.interconnect == Interconnect.SYSTOLIC and [m.name for m in h.memories] == ["rf", "dram"]


def test_served_axes_must_name_array_axes(write):
    text = _text(SECTIONS, ("served_axes: [D3]", "served_axes: [D3, D7]"))
    path, msg, problems = _errors(write, text)
    assert (f"{path}:{_line(text, 'served_axes: [D3, D7]')}: memories.rf_w.served_axes: names unknown array axis "
            "'D7'; the axes (array.axes) are D1, D2, D3") in msg
    assert len(problems) == 1


def test_an_outer_memory_serves_every_axis_its_inner_one_serves(write):
    text = _text(SECTIONS, ("served_axes: [D1, D2, D3]", "served_axes: [D1, D3]"))
    path, msg, problems = _errors(write, text)
    assert (f"{path}:{_line(text, 'served_axes: [D1, D3]')}: memories.sram.served_axes: holds C outside 'rf_o' "
            "(memories are listed innermost first), so it must serve every axis 'rf_o' serves (D2); missing D2, got "
            "['D1', 'D3']") in msg
    assert len(problems) == 1  # B's chain rf_w -> sram is fine (D3 is served)


def test_a_hierarchy_value_error_is_a_problem(write, monkeypatch):
    def refuse(**_: object) -> None:
        raise ValueError("operand A must be held by DRAM")

    monkeypatch.setattr(hardware, "Hierarchy", refuse)
    text = _text()
    path, msg, problems = _errors(write, text)
    assert f"{path}:{_line(text, 'memories:')}: memories: operand A must be held by DRAM" in msg
    assert len(problems) == 1


def test_memory_entry_is_checked_against_its_schema(write):
    text = _text(SECTIONS, ("    capacity_bytes: 1\n", "    capacity: 1\n"), ("operands: [C]", "operands: [C, C]"),
                 ("kind: buffer", "kind: dram"), ("    write_bytes_per_cycle: 2\n", ""),
                 ("latency_cycles: 2", "latency_cycles: 1.5"))
    path, msg, problems = _errors(write, text)
    assert (f"{path}:{_line(text, 'capacity: 1')}: memories.rf_w.capacity: unknown key 'capacity'; did you mean "
            "'capacity_bytes'?") in msg
    assert "memories.rf_w.capacity_bytes: missing required field (expected a positive number (bytes per instance" in msg
    assert ("memories.rf_w.write_bytes_per_cycle: missing required field (expected a positive number (bytes/cycle per "
            "instance, at most 1,000,000)) unless shared_port is true") in msg
    assert (f"{path}:{_line(text, 'operands: [C, C]')}: memories.rf_o.operands: expected a non-empty list of distinct "
            "operands from A, B, C, e.g. [B], got ['C', 'C']") in msg
    assert "memories.sram.kind: expected one of register, buffer (DRAM comes from the dram section), got 'dram'" in msg
    assert "memories.sram.latency_cycles: expected a non-negative integer (cycles, at most 1,000,000), got 1.5" in msg
    assert len(problems) == 6


@pytest.mark.parametrize("operands", ["[]", "[D]", "B"])
def test_operands_must_be_a_nonempty_list_of_a_b_c(write, operands):
    _, msg, _ = _errors(write, _text(SECTIONS, ("operands: [B]", f"operands: {operands}")))
    assert "memories.rf_w.operands: expected a non-empty list of distinct operands from A, B, C" in msg


def test_a_shared_port_writes_at_the_read_rate(write):
    text = _text(SECTIONS, ("    shared_port: true\n", "    shared_port: true\n    write_bytes_per_cycle: 8\n"))
    _, msg, _ = _errors(write, text)
    assert ("memories.rf_o.write_bytes_per_cycle: with shared_port true, reads and writes share the read port (4 "
            "bytes/cycle): omit write_bytes_per_cycle or set it to 4, got 8") in msg


def test_dram_is_not_listed(write):
    _, msg, _ = _errors(write, _text(SECTIONS, ("  sram:\n", "  dram:\n")))
    assert "memories.dram: DRAM is not listed: it is built from the dram section" in msg


def test_every_problem_is_listed_at_once(write):
    text = _text(SECTIONS, ("D3: 4}", "D3: 0}"), ("served_axes: [D2]", "served_axes: D2"),
                 ("read_energy_pj_per_byte: 1.5", "read_energy_pj_per_byte: -1"))
    text = text.replace("clock_mhz: 800", "clock_mhz: fast")
    _, msg, problems = _errors(write, text)
    assert [p.path for p in problems] == ["clock_mhz", "array.axes.D3", "memories.rf_o.served_axes",
                                          "memories.sram.read_energy_pj_per_byte"]
    assert "got 'D2'" in msg and "got -1" in msg


def test_set_overrides_a_memory_field(write):
    path = write("hw.yaml", _text())
    arch = load_arch(str(path), ["memories.rf_w.capacity_bytes=2", "array.axes.D1=4", "array.axes.D3=8"])
    assert arch.hierarchy is not None
    assert arch.hierarchy.memories[0].capacity_bytes == 2
    assert [a.size for a in arch.hierarchy.axes] == [4, 8, 8]


@pytest.mark.parametrize("override, message", [
    ("memories.rf_w.capacity_bytes=-1",
     "--set memories.rf_w.capacity_bytes=-1: memories.rf_w.capacity_bytes: expected a positive number (bytes per "
     "instance, at most 1,073,741,824), got -1"),
    ("memories.rf_w.capcity_bytes=1", "--set memories.rf_w.capcity_bytes=1: memories.rf_w.capcity_bytes: unknown key "
                                      "'capcity_bytes'; did you mean 'capacity_bytes'?"),
    ("array.axes.D1=4", "--set array.axes.D1=4: array.axes: the axes' sizes multiply to 128 PEs (4 x 8 x 4) but "
                        "pe_array is 16 x 16 = 256 PEs"),
    ("array.interconnect=systolic", "--set array.interconnect=systolic: array.interconnect: a systolic array has "
                                    "exactly two axes"),
    ("memories=3", "--set memories=3: memories: expected a mapping {memory name:"),
])
def test_set_errors_name_the_override(write, override, message):
    _, msg, _ = _errors(write, _text(), (override,))
    assert message in msg


def test_set_a_memory_on_a_file_without_array(write):
    _, msg, _ = _errors(write, BASE, ("memories.rf.capacity_bytes=2",))
    assert "--set memories.rf.capacity_bytes=2: memories: is given without `array`" in msg


def test_cli_reports_a_bad_memory_without_traceback(write, capsys):
    from edgesim.cli import main

    text = _text(SECTIONS, ("served_axes: [D3]", "served_axes: [D9]"))
    path = write("hw.yaml", text)
    assert main(["simulate", "--gemm", "8,8,8", "--hw", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgesim: error:")
    assert f"{path}:{_line(text, 'served_axes: [D9]')}: memories.rf_w.served_axes: names unknown array axis 'D9'" in err
    assert "Traceback" not in err


def test_a_bad_memories_value_does_not_hide_array_problems(write):
    text = BASE + "array:\n  interconect: broadcast\n  axes: {D1: 256}\nmemories: 3\n"
    path, msg, problems = _errors(write, text)
    assert f"{path}:{_line(text, 'memories:')}: memories: expected a mapping {{memory name:" in msg and "got 3" in msg
    assert (f"{path}:{_line(text, 'interconect:')}: array.interconect: unknown key 'interconect'; did you mean "
            "'interconnect'?") in msg
    assert "array.interconnect: missing required field (expected one of systolic, broadcast)" in msg
    assert len(problems) == 3


def test_port_model_defaults_to_bytes_and_is_checked(write):
    arch = load_arch(str(write("hw.yaml", _text(SECTIONS, ("    kind: register\n", "    kind: register\n    port_model: access\n")))))
    assert arch.hierarchy is not None
    models = [m.port_model for m in arch.hierarchy.memories]
    assert models[0] == PortModel.ACCESS and all(x == PortModel.BYTES for x in models[1:])
    _, msg, problems = _errors(write, _text(SECTIONS, ("    kind: register\n", "    kind: register\n    port_model: word\n")))
    assert "memories.rf_w.port_model: expected one of bytes, access (edgesim.hierarchy.PortModel), got 'word'" in msg
    assert len(problems) == 1
