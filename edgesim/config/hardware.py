"""Hardware YAML -> validated `ArchSpec`. The only module that touches raw hardware dicts.

Every key carries its unit (`capacity_kib`, `bandwidth_gb_per_s`, `latency_ns`, `clock_mhz`,
`*_pj_per_byte`). `--set PATH=VALUE` overrides are applied to the raw tree before validation,
so an override is checked exactly like a line in the file.

Two optional sections describe the accelerator for the loop-nest model (`ArchSpec.hierarchy`, `edgesim.hierarchy`):
`array` (interconnect and named axes: the same PEs as `pe_array`, as several axes) and `memories` (the on-chip
memories, innermost first, each holding some operands and serving some axes; DRAM is built from `dram`). Both or
neither: without them `hierarchy` is None and nothing else changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from edgesim.arch import (
    ArchSpec,
    AreaModel,
    MacUnit,
    MetadataFormat,
    PEArray,
    PrecisionMode,
    SparsityMode,
    SparsitySupport,
    StorageLevel,
    VectorUnit,
    dram_level,
)
from edgesim.config import schema as s
from edgesim.config.builtin import HW_CONFIG_DIR, display_path, resolve
from edgesim.config.yaml_source import LineDict, load_yaml
from edgesim.errors import ConfigError, Problem
from edgesim.hierarchy import OPERANDS, ArrayAxis, Hierarchy, Interconnect, Memory, MemoryKind, PortModel
from edgesim.units import GIB, KIB

DEFAULT_HW = "edge_npu_16x16"

# Upper bounds: far beyond any edge accelerator, yet small enough that every count the cost model forms stays exact.
MAX_CLOCK_MHZ = 10_000
MAX_ARRAY_SIDE = 4096
MAX_BITS = 64
MAX_ACC_BITS = 256
MAX_PJ = 1e6  # per byte, per MAC or per op
MAX_LANES = 65_536
MAX_REGISTER_BYTES = 1 << 20  # per PE
MAX_BYTES_PER_CYCLE = 1e6
MAX_BUFFER_KIB = 1 << 20  # 1 GiB
MAX_DRAM_GIB = 4096
MAX_DRAM_GB_PER_S = 100_000
MAX_LATENCY_NS = 1e6
MAX_MM2 = 10_000
MAX_MEMORY_BYTES = MAX_BUFFER_KIB * KIB  # one on-chip memory instance
MAX_LATENCY_CYCLES = 1_000_000


_ENERGY = (MAX_PJ, "pJ per byte")
_ON_CHIP_KINDS = tuple(k for k in MemoryKind if k != MemoryKind.DRAM)


def _mapping(v: Any) -> tuple[bool, Any]:
    return isinstance(v, dict), v


def _nonempty_mapping(v: Any) -> tuple[bool, Any]:
    return isinstance(v, dict) and bool(v), v


def _boolean(v: Any) -> tuple[bool, Any]:
    return isinstance(v, bool), v


def _count(maximum: int) -> s.Checker:
    """An integer in [0, maximum]."""
    return lambda v: (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= maximum, v)


def _names(choices: tuple[str, ...] | None = None, *, nonempty: bool = False) -> s.Checker:
    """A list of distinct non-empty strings (from `choices`, if given; at least one, if `nonempty`), as a tuple."""

    def check(v: Any) -> tuple[bool, Any]:
        ok = (isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v) and len(set(v)) == len(v)
              and (choices is None or all(x in choices for x in v)) and (bool(v) or not nonempty))
        return ok, tuple(v) if ok else v

    return check


# `array` and `memories` (module docstring) are fields whose checkers accept any mapping, so that `--set
# array.axes.D1=4` or `--set memories.rf.capacity_bytes=2` set a key in the raw tree (`s.lookup` stops at a field);
# `_check_hierarchy` then validates their contents against ARRAY_SCHEMA and MEMORY_SCHEMA like the rest of the file.
ARRAY_SCHEMA: s.Schema = {
    "interconnect": s.Field(s.one_of(*Interconnect), f"one of {', '.join(Interconnect)}"),
    "axes": s.Field(_nonempty_mapping, "a mapping {axis name: size} of at least one axis, innermost first, "
                                       "e.g. {D1: 8, D2: 8, D3: 4, D4: 4}"),
}

_WRITE_PORT = s.positive(MAX_BYTES_PER_CYCLE, "bytes/cycle per instance", required=False)  # shared_port: = read
MEMORY_SCHEMA: s.Schema = {
    "kind": s.Field(s.one_of(*_ON_CHIP_KINDS), f"one of {', '.join(_ON_CHIP_KINDS)} (DRAM comes from the dram section)"),
    "operands": s.Field(_names(OPERANDS, nonempty=True),
                        f"a non-empty list of distinct operands from {', '.join(OPERANDS)}, e.g. [B]"),
    "capacity_bytes": s.positive(MAX_MEMORY_BYTES, "bytes per instance"),
    "served_axes": s.Field(_names(), "a list of distinct array axis names that one instance spans (empty: one per PE), "
                                     "e.g. [D3, D4]"),
    "read_bytes_per_cycle": s.positive(MAX_BYTES_PER_CYCLE, "bytes/cycle per instance"),
    "write_bytes_per_cycle": _WRITE_PORT,
    "shared_port": s.Field(_boolean, "true or false", required=False, default=False),
    "read_energy_pj_per_byte": s.nonnegative(*_ENERGY),
    "write_energy_pj_per_byte": s.nonnegative(*_ENERGY),
    "latency_cycles": s.Field(_count(MAX_LATENCY_CYCLES), f"a non-negative integer (cycles, at most {MAX_LATENCY_CYCLES:,})",
                              required=False, default=0),
    "port_model": s.Field(s.one_of(*PortModel), f"one of {', '.join(PortModel)} (edgesim.hierarchy.PortModel)",
                          required=False, default="bytes"),
}

HW_SCHEMA: s.Schema = {
    "name": s.Field(s.string(), "a non-empty string"),
    "description": s.Field(s.string(), "a string", required=False, default=""),
    "clock_mhz": s.positive(MAX_CLOCK_MHZ, "MHz"),
    "pe_array": s.Section({
        "rows": s.positive(MAX_ARRAY_SIDE, "PEs", integer=True),
        "cols": s.positive(MAX_ARRAY_SIDE, "PEs", integer=True),
    }),
    "mac": s.Section({
        "native_bits": s.positive(MAX_BITS, "bits", integer=True),
        "precision_mode": s.Field(s.one_of(*PrecisionMode), f"one of {', '.join(PrecisionMode)}"),
        "min_bits": s.positive(MAX_BITS, "bits", integer=True, required=False),
        "accumulator_bits": s.positive(MAX_ACC_BITS, "bits", integer=True, required=False, default=32),
        "serial_bits_per_cycle": s.positive(MAX_BITS, "bits", integer=True, required=False, default=1),
        "energy_pj_per_mac": s.Field(s.bits_table(MAX_BITS, MAX_PJ),
                                     f"a mapping {{bits (1 to {MAX_BITS}): pJ per MAC (0 to {MAX_PJ:,.0f})}}, "
                                     "e.g. {8: 0.2, 4: 0.06}"),
    }),
    "sparsity": s.Section({
        "mode": s.Field(s.one_of(*SparsityMode), f"one of {', '.join(SparsityMode)}", required=False, default="none"),
        "metadata_format": s.Field(s.one_of(*MetadataFormat), f"one of {', '.join(MetadataFormat)}",
                                   required=False, default="bitmap"),
        "efficiency": s.Field(s.fraction(), "a number in (0, 1]", required=False, default=1.0),
        "nm_patterns": s.Field(s.nm_patterns(), "a list of 'N:M' strings with 0 < N < M, e.g. ['2:4']",
                               required=False, default=()),
    }, required=False),
    "vector_unit": s.Section({
        "lanes": s.positive(MAX_LANES, "lanes", integer=True),
        "ops_per_lane_per_cycle": s.positive(1024, "ops per lane per cycle"),
        "energy_pj_per_op": s.nonnegative(MAX_PJ, "pJ"),
    }),
    "registers": s.Section({
        "capacity_bytes_per_pe": s.positive(MAX_REGISTER_BYTES, "bytes", integer=True),
        "bandwidth_bytes_per_cycle_per_pe": s.positive(MAX_BYTES_PER_CYCLE, "bytes/cycle"),
        "read_energy_pj_per_byte": s.nonnegative(*_ENERGY),
        "write_energy_pj_per_byte": s.nonnegative(*_ENERGY),
    }),
    "global_buffer": s.Section({
        "capacity_kib": s.positive(MAX_BUFFER_KIB, "KiB"),
        "bandwidth_bytes_per_cycle": s.positive(MAX_BYTES_PER_CYCLE, "bytes/cycle"),
        "read_energy_pj_per_byte": s.nonnegative(*_ENERGY),
        "write_energy_pj_per_byte": s.nonnegative(*_ENERGY),
    }),
    "dram": s.Section({
        "capacity_gib": s.positive(MAX_DRAM_GIB, "GiB"),
        "bandwidth_gb_per_s": s.positive(MAX_DRAM_GB_PER_S, "GB/s"),
        "latency_ns": s.nonnegative(MAX_LATENCY_NS, "ns"),
        "read_energy_pj_per_byte": s.nonnegative(*_ENERGY),
        "write_energy_pj_per_byte": s.nonnegative(*_ENERGY),
    }),
    "area": s.Section({
        "technology_nm": s.positive(1000, "nm"),
        "pe_mm2": s.positive(MAX_MM2, "mm^2 per PE"),
        "register_mm2_per_kib": s.nonnegative(MAX_MM2, "mm^2 per KiB of register file"),
        "sram_mm2_per_kib": s.positive(MAX_MM2, "mm^2 per KiB of global buffer"),
        "vector_lane_mm2": s.nonnegative(MAX_MM2, "mm^2 per vector lane"),
        "fixed_mm2": s.nonnegative(MAX_MM2, "mm^2"),
    }),
    "array": s.Field(_mapping, "a mapping {interconnect: systolic or broadcast, axes: {name: size, ...}}",
                     required=False),
    "memories": s.Field(_mapping, "a mapping {memory name: {kind, operands, capacity_bytes, served_axes, ...}}, "
                                  "innermost first", required=False),
}


def width_problem(arch: ArchSpec, bits: int, *, source: str, path: str = "") -> Problem | None:
    """Why `arch` cannot run `bits`-bit operands (naming the widths it can), or None if it can."""
    if bits in arch.mac.widths():
        return None
    mac = arch.mac
    return Problem(source=source, path=path, message=f"{arch.name} cannot run {bits}-bit operands; its {mac.native_bits}-bit "
                                                     f"{mac.precision_mode} MAC runs {mac.widths_text()}")


def base_bits(arch: ArchSpec, bits: int | None, *, used: bool, source: str, path: str = "") -> int:
    """The vanilla methods' operand width: `bits`, else the MAC's native width (e.g. int8 LoRA on an int8 NPU).
    When `used` (a vanilla method runs), a width the MAC cannot run is a ConfigError naming `source`."""
    resolved = arch.mac.native_bits if bits is None else bits
    if used and (p := width_problem(arch, resolved, source=source, path=path)) is not None:
        raise ConfigError(p)
    return resolved


def resolve_hw_path(name_or_path: str | None) -> Path:
    """A path to a YAML file, or the name of a file in hw_configs/ (with or without .yaml)."""
    return resolve(name_or_path or DEFAULT_HW, HW_CONFIG_DIR, "hardware config")


def load_arch(name_or_path: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> ArchSpec:
    """Load, override (`path=value` strings) and validate an accelerator; raise ConfigError listing all problems."""
    return load_hardware(name_or_path, overrides)[0]


def load_hardware(name_or_path: str | None = None,
                  overrides: list[str] | tuple[str, ...] = ()) -> tuple[ArchSpec, dict[str, Any]]:
    """As `load_arch`, and also the validated field tree (YAML keys and units, e.g. v["global_buffer"]["capacity_kib"])."""
    path = resolve_hw_path(name_or_path)
    source = display_path(path)
    raw = load_yaml(path)
    raw, problems = apply_overrides(raw, overrides)
    try:
        v = validated_fields(raw, source=source)
    except ConfigError as exc:
        problems += [_blame_override(p, overrides) for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    return _build(v, source), v


def _blame_override(problem: Problem, overrides: list[str] | tuple[str, ...]) -> Problem:
    """A problem in a field set with --set points at the override, not at the file's line: the last --set of exactly
    that path (the one that took effect), else the last one of a path around it."""
    dotted = [(item, item.split("=", 1)[0].strip()) for item in reversed(overrides)]
    exact = [item for item, d in dotted if d == problem.path]
    near = [item for item, d in dotted if problem.path.startswith(d + ".") or d.startswith(problem.path + ".")]
    blamed = exact + near
    return Problem(source=f"--set {blamed[0]}", path=problem.path, message=problem.message) if blamed else problem


def apply_overrides(raw: Any, overrides: list[str] | tuple[str, ...],
                    schema: s.Schema = HW_SCHEMA) -> tuple[Any, list[Problem]]:
    """Set dotted `path=value` pairs in the raw tree; return it with the problems of unknown paths."""
    if not overrides:
        return raw, []
    problems: list[Problem] = []
    tree = raw if isinstance(raw, dict) else LineDict()
    for item in overrides:
        if "=" not in item:
            problems.append(Problem(source=f"--set {item}", path="", message="expected PATH=VALUE, e.g. pe_array.rows=8"))
            continue
        dotted, text = item.split("=", 1)
        dotted = dotted.strip()
        spec, why = s.lookup(schema, dotted)
        if spec is None:
            problems.append(Problem(source=f"--set {item}", path=dotted, message=why))
            continue
        if isinstance(spec, s.Section):
            problems.append(Problem(source=f"--set {item}", path=dotted, message="is a section; set one of its fields"))
            continue
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        node = tree
        parts = dotted.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = LineDict()
            node = node[part]
        node[parts[-1]] = value
    return tree, problems


def arch_from_dict(raw: Any, *, source: str = "<dict>") -> ArchSpec:
    return _build(validated_fields(raw, source=source), source)


def validated_fields(raw: Any, *, source: str) -> dict[str, Any]:
    """The hardware tree checked against HW_SCHEMA and the cross-field rules; raise ConfigError listing all problems."""
    problems: list[Problem] = []
    v = s.validate(raw, HW_SCHEMA, source=source, problems=problems)
    if not problems:
        _cross_check(v, raw, source, problems)
    _check_hierarchy(v, raw, source, problems)
    if problems:
        raise ConfigError(problems)
    return v


def _line_of(raw: Any, *keys: str) -> int | None:
    """The line of the key at `keys` in the raw tree, if it came from the file."""
    node = raw
    for k in keys[:-1]:
        node = node.get(k, {}) if isinstance(node, dict) else {}
    return node.lines.get(keys[-1]) if isinstance(node, LineDict) else None


def _cross_check(v: dict[str, Any], raw: Any, source: str, problems: list[Problem]) -> None:
    def line(*keys: str) -> int | None:
        return _line_of(raw, *keys)

    mac = v["mac"]
    nat, mode = mac["native_bits"], PrecisionMode(mac["precision_mode"])
    min_bits = mac["min_bits"] if mac["min_bits"] is not None else nat

    def bad(field: str, message: str) -> None:
        problems.append(Problem(source=source, path=f"mac.{field}", line=line("mac", field), message=message))

    if mac["min_bits"] is not None and mac["min_bits"] > nat:
        bad("min_bits", f"expected at most native_bits ({nat}), got {mac['min_bits']}")
    elif mode in (PrecisionMode.FUSION, PrecisionMode.SPLIT):  # bricks (lanes) of min_bits, powers of two up to native
        if not _power_of_two(nat) or nat < 2:
            bad("native_bits", f"a {mode} MAC combines min_bits units in powers of two: expected a power of two >= 2, "
                               f"got {nat}")
        elif not _power_of_two(min_bits):
            bad("min_bits", f"a {mode} MAC's bricks are a power-of-two width that divides native_bits ({nat}), "
                            f"got {min_bits}")
    if mac["accumulator_bits"] < 2 * nat:
        bad("accumulator_bits", f"a partial sum of products of two {nat}-bit operands needs at least {2 * nat} bits, "
                                f"got {mac['accumulator_bits']}")
    if mode == PrecisionMode.SERIAL and mac["serial_bits_per_cycle"] > nat:
        bad("serial_bits_per_cycle", f"expected at most native_bits ({nat}), got {mac['serial_bits_per_cycle']}")
    widths = [b for b, _ in mac["energy_pj_per_mac"]]
    runnable = ([min_bits << j for j in range(8) if min_bits << j <= nat]
                if mode in (PrecisionMode.FUSION, PrecisionMode.SPLIT) else [nat])
    missing = [b for b in runnable if b not in widths]
    if missing and not problems:
        bad("energy_pj_per_mac", f"needs an entry for every width the MAC runs ({', '.join(map(str, runnable))} bits); "
                                 f"missing {', '.join(map(str, missing))}, has {', '.join(map(str, widths))}")
    sp = v["sparsity"]
    if sp["mode"] == SparsityMode.NM and not sp["nm_patterns"]:
        problems.append(Problem(source=source, path="sparsity.nm_patterns", line=line("sparsity", "mode"),
                                message="mode 'nm' needs at least one pattern, e.g. nm_patterns: ['2:4']"))


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _check_hierarchy(v: dict[str, Any], raw: Any, source: str, problems: list[Problem]) -> None:
    """Validate `array` and `memories` (module docstring) and replace them in `v` by their checked values:
    v["array"] = {"interconnect", "axes": {name: size}}, v["memories"] = {name: MEMORY_SCHEMA's fields}, with
    write_bytes_per_cycle filled in for a shared port; both None when the file has neither."""
    given = {k: isinstance(raw, dict) and k in raw for k in ("array", "memories")}
    if not any(given.values()):
        return
    start = len(problems)

    def bad(path: str, message: str, *keys: str) -> None:
        problems.append(Problem(source=source, path=path, line=_line_of(raw, *keys) if keys else None, message=message))

    # each reported at the section that is there (a --set that created it is blamed)
    if not given["memories"]:
        bad("array", "is given without `memories`: list the on-chip memories, innermost first (DRAM comes from the "
                     "dram section; `memories: {}` for none)", "array")
    if not given["array"]:
        bad("memories", "is given without `array`: add the array whose axes the memories serve, e.g. "
                        "array: {interconnect: broadcast, axes: {D1: 16, D2: 16}}", "memories")
    if not (given["array"] and given["memories"]):
        return
    # either may not be a mapping (already reported): then the other is still checked, alone

    # the array: interconnect and axes, each a positive int
    a = s.validate(v["array"], ARRAY_SCHEMA, source=source, path="array", problems=problems,
                   parent_line=_line_of(raw, "array")) if "array" in v else {}
    axes: dict[str, int] = {}
    axes_ok = "axes" in a
    for name, size in (a["axes"] if axes_ok else {}).items():
        if not s.positive_int(MAX_ARRAY_SIDE)(size)[0]:
            bad(f"array.axes.{name}", f"expected a positive integer (PEs along the axis, at most {MAX_ARRAY_SIDE:,}), "
                                      f"got {size!r}", "array", "axes", str(name))
            axes_ok = False
        axes[str(name)] = size
    names = list(axes)
    pe = v.get("pe_array", {})
    if axes_ok and "rows" in pe and "cols" in pe and _product(axes.values()) != pe["rows"] * pe["cols"]:
        sizes = " x ".join(map(str, axes.values()))
        bad("array.axes", f"the axes' sizes multiply to {_product(axes.values()):,} PEs ({sizes}) but pe_array is "
                          f"{pe['rows']} x {pe['cols']} = {pe['rows'] * pe['cols']:,} PEs; both describe the same "
                          "array (the same peak MACs per cycle)", "array", "axes")
    interconnect = a.get("interconnect")
    # the systolic rules are the interconnect's: a --set of it is blamed for them
    if interconnect == Interconnect.SYSTOLIC and axes_ok and len(axes) != 2:
        bad("array.interconnect", f"a systolic array has exactly two axes (rows, cols); array.axes has {len(axes)}: "
                                  f"{', '.join(names)}", "array", "interconnect")

    # the memories, innermost first
    mems: dict[str, dict[str, Any]] = {}
    strays: set[str] = set()  # memories that name unknown axes (reported once, not again below)
    for name, entry in v.get("memories", {}).items():
        path = f"memories.{name}"
        m = s.validate(entry, MEMORY_SCHEMA, source=source, path=path, problems=problems,
                       parent_line=_line_of(raw, "memories", name))
        if name == MemoryKind.DRAM:
            bad(path, "DRAM is not listed: it is built from the dram section (it holds A, B and C and serves every "
                      "axis); rename this memory if it is on chip", "memories", name)
        if "write_bytes_per_cycle" in m and "shared_port" in m and "read_bytes_per_cycle" in m:
            write, read = m["write_bytes_per_cycle"], m["read_bytes_per_cycle"]
            if m["shared_port"] is True:
                if write is not None and write != read:
                    bad(f"{path}.write_bytes_per_cycle", f"with shared_port true, reads and writes share the read port "
                        f"({read:g} bytes/cycle): omit write_bytes_per_cycle or set it to {read:g}, got {write!r}",
                        "memories", name, "write_bytes_per_cycle")
                m["write_bytes_per_cycle"] = read
            elif write is None:
                bad(f"{path}.write_bytes_per_cycle", "missing required field (expected "
                    f"{_WRITE_PORT.expected}) unless shared_port is true",
                    "memories", name)
        if "served_axes" in m and axes_ok:
            unknown = [x for x in m["served_axes"] if x not in axes]
            if unknown:
                strays.add(name)
                bad(f"{path}.served_axes", f"names unknown array axis {', '.join(map(repr, unknown))}; the axes "
                    f"(array.axes) are {', '.join(names)}", "memories", name, "served_axes")
        mems[name] = m
    listed = list(mems)
    first = mems[listed[0]] if listed else {}
    checkable = "memories" in v and (not listed or {"kind", "operands", "served_axes"} <= set(first))
    abc_register = (first.get("kind") == MemoryKind.REGISTER and set(first.get("operands", ())) == set(OPERANDS)
                    and first.get("served_axes") == ())
    if interconnect == Interconnect.SYSTOLIC and checkable and not abc_register:
        got = (f"memories.{listed[0]} is a {first.get('kind')} holding {list(first.get('operands', ()))} and "
               f"serving {list(first.get('served_axes', ()))}" if listed else "memories lists none")
        bad("array.interconnect", "a systolic array's first (innermost) memory must be a register in each PE "
            f"holding A, B and C (kind: register, operands: [A, B, C], served_axes: []); {got}",
            "array", "interconnect")
    # along each operand's memories, an outer memory serves every axis its inner one serves (DRAM serves all)
    outside: dict[tuple[str, str], list[str]] = {}
    for t in OPERANDS:
        chain = [n for n in listed if t in mems[n].get("operands", ()) and "served_axes" in mems[n] and n not in strays]
        for inner, outer in zip(chain, chain[1:], strict=False):
            if not set(mems[inner]["served_axes"]) <= set(mems[outer]["served_axes"]):
                outside.setdefault((inner, outer), []).append(t)
    for (inner, outer), ops in outside.items():
        missing = [x for x in mems[inner]["served_axes"] if x not in mems[outer]["served_axes"]]
        bad(f"memories.{outer}.served_axes",
            f"holds {', '.join(ops)} outside {inner!r} (memories are listed innermost first), so it must serve every "
            f"axis {inner!r} serves ({', '.join(mems[inner]['served_axes'])}); missing {', '.join(missing)}, got "
            f"{list(mems[outer]['served_axes'])}", "memories", outer, "served_axes")

    if len(problems) > start:
        return
    v["array"] = {"interconnect": interconnect, "axes": axes}
    v["memories"] = mems
    if not problems:  # the rest of the file is valid too: build it, so that Hierarchy's own checks are problems
        try:
            _hierarchy(v, _dram(v))
        except ValueError as exc:
            bad("memories", str(exc), "memories")


def _product(values: Any) -> int:
    out = 1
    for x in values:
        out *= x
    return out


def _dram(v: dict[str, Any]) -> StorageLevel:
    dram = v["dram"]
    return dram_level(capacity_bytes=dram["capacity_gib"] * GIB, bandwidth_gb_per_s=dram["bandwidth_gb_per_s"],
                      latency_ns=dram["latency_ns"], clock_mhz=v["clock_mhz"],
                      read_energy_pj_per_byte=dram["read_energy_pj_per_byte"],
                      write_energy_pj_per_byte=dram["write_energy_pj_per_byte"])


def _hierarchy(v: dict[str, Any], dram: StorageLevel) -> Hierarchy | None:
    """The validated `array` and `memories` as a Hierarchy (DRAM last, from `dram`); None when the file has neither."""
    if v["array"] is None:
        return None
    axes = tuple(ArrayAxis(name=name, size=size) for name, size in v["array"]["axes"].items())
    memories = [Memory(name=name, kind=MemoryKind(m["kind"]), operands=m["operands"], capacity_bytes=m["capacity_bytes"],
                       served_axes=m["served_axes"], read_bytes_per_cycle=m["read_bytes_per_cycle"],
                       write_bytes_per_cycle=m["write_bytes_per_cycle"], shared_port=m["shared_port"],
                       read_pj_per_byte=m["read_energy_pj_per_byte"], write_pj_per_byte=m["write_energy_pj_per_byte"],
                       latency_cycles=m["latency_cycles"], port_model=PortModel(m["port_model"]))
                for name, m in v["memories"].items()]
    memories.append(Memory(name=dram.name, kind=MemoryKind.DRAM, operands=OPERANDS, capacity_bytes=dram.capacity_bytes,
                           served_axes=tuple(a.name for a in axes), read_bytes_per_cycle=dram.bandwidth_bytes_per_cycle,
                           write_bytes_per_cycle=dram.bandwidth_bytes_per_cycle, shared_port=True,
                           read_pj_per_byte=dram.read_energy_pj_per_byte, write_pj_per_byte=dram.write_energy_pj_per_byte,
                           latency_cycles=dram.latency_cycles))
    return Hierarchy(axes=axes, interconnect=Interconnect(v["array"]["interconnect"]), memories=tuple(memories))


def _build(v: dict[str, Any], source: str) -> ArchSpec:
    clock = v["clock_mhz"]
    mac, sp, vu, rf, glb = (v[k] for k in ("mac", "sparsity", "vector_unit", "registers", "global_buffer"))
    dram = _dram(v)
    pe = PEArray(rows=v["pe_array"]["rows"], cols=v["pe_array"]["cols"])
    min_bits = mac["min_bits"] if mac["min_bits"] is not None else mac["native_bits"]
    return ArchSpec(
        name=v["name"], clock_mhz=clock, pe_array=pe, source=source,
        mac=MacUnit(native_bits=mac["native_bits"], precision_mode=PrecisionMode(mac["precision_mode"]),
                    min_bits=min_bits, accumulator_bits=mac["accumulator_bits"],
                    serial_bits_per_cycle=mac["serial_bits_per_cycle"], energy_pj_per_mac=mac["energy_pj_per_mac"]),
        sparsity=SparsitySupport(mode=SparsityMode(sp["mode"]), metadata_format=MetadataFormat(sp["metadata_format"]),
                                 efficiency=sp["efficiency"], nm_patterns=sp["nm_patterns"]),
        vector_unit=VectorUnit(lanes=vu["lanes"], ops_per_lane_per_cycle=vu["ops_per_lane_per_cycle"],
                               energy_pj_per_op=vu["energy_pj_per_op"]),
        registers=StorageLevel(name="registers", capacity_bytes=rf["capacity_bytes_per_pe"], instances=pe.pes,
                               bandwidth_bytes_per_cycle=rf["bandwidth_bytes_per_cycle_per_pe"],
                               read_energy_pj_per_byte=rf["read_energy_pj_per_byte"],
                               write_energy_pj_per_byte=rf["write_energy_pj_per_byte"]),
        global_buffer=StorageLevel(name="global_buffer", capacity_bytes=glb["capacity_kib"] * KIB, instances=1,
                                   bandwidth_bytes_per_cycle=glb["bandwidth_bytes_per_cycle"],
                                   read_energy_pj_per_byte=glb["read_energy_pj_per_byte"],
                                   write_energy_pj_per_byte=glb["write_energy_pj_per_byte"]),
        dram=dram,
        area=AreaModel(**v["area"]),
        hierarchy=_hierarchy(v, dram),
    )
