"""SCALE-Sim v3's own input files: the architecture `.cfg` and the topology CSV (GEMM or conv format).

Both are read the way SCALE-Sim 3.0.0 reads them (`scalesim/scale_config.py`, `scalesim/topology_utils.py`), and
everything it would reject, or read differently from what the file says, is a `ConfigError` naming the file, the line
when known, the section/key or column, and the value. Units: one word = one byte (SCALE-Sim's word), SRAM sizes in
SCALE-Sim's kB (1024 bytes), bandwidths in words/cycle.

The config (`scale_config.read_conf_file`): configparser with its defaults (`key = value` or `key : value`, key names
case-insensitive, section names case-sensitive, whole-line `#`/`;` comments only). Every key SCALE-Sim reads is
required, [layout] and [sparsity] included: SCALE-Sim has no default for them and stops with configparser's
NoSectionError. Refused, as this engine does not model them: sparsity, custom SRAM layouts (bank conflicts) and
Ramulator traces. Bank counts and ports are accepted and unused: `read_buffer.py` models banks only with a custom
layout (`enable_layout_evaluation`), but in USER mode it asserts that the bank bandwidth is a multiple of the bank
count, so that is checked.

The topology (`topologies.load_arrays_gemm` / `load_arrays_conv`): SCALE-Sim skips the first line, skips blank lines,
and drops whatever follows each row's last comma (its files end every row with a comma, and some put a `#dw` comment
there). It picks the format from its `-i gemm|conv` flag; edgesim reads the header instead. A conv layer is SCALE-Sim's
im2col GEMM: its ifmap operand matrix is M x K and its filter matrix K x N, with
M = ofmap_h * ofmap_w, ofmap_h = ceil((H - R + stride) / stride) (so 55, not 54, for H=224, R=11, stride 4),
K = R * S * C and N = the number of filters. A GEMM row "Layer, M, N, K" is read by SCALE-Sim as a conv layer with a
M x K ifmap and a 1 x K filter of N filters, which gives that same M x K ifmap and K x N filter. A conv row whose
name contains "DP" (depthwise) becomes one layer per channel, each with 1 channel, named "<name>Channel_<i>".
"""

from __future__ import annotations

import configparser
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from edgesim.compat.scalesim_engine import BandwidthMode, ScaleSimArch
from edgesim.errors import ConfigError, Problem
from edgesim.mapping import Dataflow

# What SCALE-Sim uses in CALC mode, whatever the file says (single_layer_sim.py: "The number 10 elems per cycle is
# arbitrary"; the ofmap drains at ArrayWidth words/cycle).
CALC_READ_BW = 10
MAX_VALUE = 1 << 20  # per topology column (edgesim's bound on a GEMM dimension)
MAX_LAYERS = 1 << 16  # per topology, after depthwise rows are split into one layer per channel

GEMM_COLUMNS = ("Layer", "M", "N", "K")
CONV_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                "Num Filter", "Strides")
SPARSITY_COLUMN = "Sparsity"


def _read_text(path: Path) -> str:
    """The file's UTF-8 text, newlines as "\\n"; a missing, unreadable or non-UTF-8 file is a ConfigError.

    (As `edgesim.config.files.read_text`, which `compat` sits below in the layers contract.)"""
    try:
        return path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(Problem(source=str(path), path="", message="is a directory; expected a file")) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(source=str(path), path="", message=(
            f"is not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"))) from None
    except (OSError, ValueError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(Problem(source=str(path), path="", message=f"cannot read file: {message}")) from None


# ---------------------------------------------------------------------------------------------------- the config


def _parse_ini(text: str, source: str) -> configparser.ConfigParser:
    """The INI as SCALE-Sim's `configparser.ConfigParser()` reads it; its syntax errors as ConfigErrors with lines."""
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text, source=source)
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(Problem(source=source, path="", line=exc.lineno, message=(
            f"expected a section header such as [general] before the first key, got {exc.line.strip()!r}"))) from None
    except configparser.ParsingError as exc:
        lines = text.split("\n")
        raise ConfigError([Problem(source=source, path="", line=lineno, message=(
            f"expected 'key = value', 'key : value' or a [section] header, got {lines[lineno - 1].strip()!r}"))
            for lineno, _ in exc.errors]) from None
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(Problem(source=source, path=f"[{exc.section}]", line=exc.lineno,
                                  message="appears twice (configparser, as SCALE-Sim uses it, refuses that)")) from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(Problem(source=source, path=f"[{exc.section}] {exc.option}", line=exc.lineno, message=(
            "appears twice in the section (key names are case-insensitive; configparser refuses that)"))) from None
    return parser


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(section, lower-case key) -> 1-based line of the key, and (section, "") -> line of the section header."""
    lines: dict[tuple[str, str], int] = {}
    section = ""
    for no, raw in enumerate(text.split("\n"), start=1):
        if raw[:1].isspace():
            continue  # continues the value above (an indented key, which configparser also allows, gets no line)
        value = raw.strip()
        if (sect := configparser.ConfigParser.SECTCRE.match(value)) is not None:
            section = sect.group("header")
            lines.setdefault((section, ""), no)
        elif (opt := configparser.ConfigParser.OPTCRE.match(value)) is not None:
            lines.setdefault((section, opt.group("option").rstrip().lower()), no)
    return lines


@dataclass
class _Config:
    """One config file's values, read key by key; every problem is collected, and raised at the end."""

    parser: configparser.ConfigParser
    source: str
    lines: dict[tuple[str, str], int]
    problems: list[Problem] = field(default_factory=list)
    missing_sections: set[str] = field(default_factory=set)

    def problem(self, section: str, key: str, message: str) -> None:
        self.problems.append(Problem(source=self.source, path=f"[{section}] {key}" if key else f"[{section}]",
                                    line=self.lines.get((section, key.lower())), message=message))

    def text(self, section: str, key: str) -> str | None:
        """The value (configparser strips it), or None with a problem when the section or key is missing."""
        if not self.parser.has_section(section):
            if section not in self.missing_sections:
                self.missing_sections.add(section)
                self.problems.append(Problem(source=self.source, path=f"[{section}]", message=self._no_section(section)))
            return None
        if not self.parser.has_option(section, key):
            self.problem(section, key, "missing required key (SCALE-Sim 3.0.0 reads it and has no default)")
            return None
        try:
            return self.parser.get(section, key)
        except configparser.InterpolationError as exc:
            self.problem(section, key, f"cannot read {self.parser.get(section, key, raw=True)!r}: {exc.message} "
                                       "(configparser, as SCALE-Sim uses it, treats '%' as a reference)")
            return None

    def _no_section(self, section: str) -> str:
        like = [s for s in self.parser.sections() if s.lower() == section.lower()]
        hint = f" (found [{like[0]}]: section names are case-sensitive)" if like else ""
        return f"missing section{hint}; SCALE-Sim 3.0.0 reads keys from it and has no default for them"

    def integer(self, section: str, key: str, minimum: int) -> int:
        """An integer as SCALE-Sim's int() reads it, at least `minimum` (0 with a problem if not)."""
        value = self.text(section, key)
        if value is None:
            return 0
        what = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        try:
            number = int(value)
        except ValueError:
            self.problem(section, key, f"expected {what}, got {value!r}")
            return 0
        if number < minimum:
            self.problem(section, key, f"expected {what}, got {number}")
            return 0
        return number

    def choice(self, section: str, key: str, choices: tuple[str, ...], why: str) -> str:
        """One of `choices`, compared as SCALE-Sim compares it (exact text); "" with a problem if not."""
        value = self.text(section, key)
        if value is None:
            return ""
        if value not in choices:
            self.problem(section, key, f"expected {', '.join(choices[:-1])} or {choices[-1]}{why}, got {value!r}")
            return ""
        return value

    def truth(self, section: str, key: str, read: Callable[[str], bool | None], expected: str) -> bool | None:
        """A boolean as SCALE-Sim reads this key (`read`: None for text it would not read as the user meant)."""
        value = self.text(section, key)
        if value is None:
            return None
        if (truth := read(value)) is None:
            self.problem(section, key, f"expected {expected}, got {value!r}")
        return truth

    def refuse_on(self, section: str, key: str, truth: bool | None, what: str) -> None:
        """`what` (e.g. sparsity) is on: a problem, as --engine scalesim does not model it."""
        if truth:
            self.problem(section, key, f"{what} not modelled by --engine scalesim; set {key} to False")


def _getboolean(value: str) -> bool | None:
    """configparser's getboolean (IfmapCustomLayout, FilterCustomLayout); other text stops SCALE-Sim."""
    return configparser.ConfigParser.BOOLEAN_STATES.get(value.lower())


def _true_or_false(value: str) -> bool | None:
    """UseRamulatorTrace (on only for the exact text "True") and SparsitySupport (on for "true" in any case): SCALE-Sim
    reads any other text as False, so only true and false, in any case, say what the user means."""
    return {"true": True, "false": False}.get(value.lower())


def load_scalesim_config(path: str | Path) -> ScaleSimArch:
    """SCALE-Sim's architecture config -> the `ScaleSimArch` its memory and compute model use.

    USER mode (scale_config.py and single_layer_sim.py): the DRAM -> SRAM read bandwidths are [layout]
    IfmapSRAMBankBandwidth and FilterSRAMBankBandwidth, the ofmap drain bandwidth is the first value of
    [architecture_presets] Bandwidth (words/cycle). CALC mode: SCALE-Sim does not read Bandwidth and uses 10 words/cycle
    for both reads and ArrayWidth words/cycle for the drain, whatever the file says; the result carries those values.
    """
    p = Path(path)
    text = _read_text(p)
    return _arch(_Config(_parse_ini(text, str(p)), str(p), _key_lines(text)))


def _arch(cfg: _Config) -> ScaleSimArch:
    """Every value of the config, checked; all the problems found in one ConfigError."""
    a = "architecture_presets"
    name = cfg.text("general", "run_name")
    if name == "":
        cfg.problem("general", "run_name", "expected a run name, got ''")
    mode = cfg.choice("run_presets", "InterfaceBandwidth", ("USER", "CALC"), " (in capitals: SCALE-Sim compares the text)")
    cfg.refuse_on("run_presets", "UseRamulatorTrace",
                  cfg.truth("run_presets", "UseRamulatorTrace", _true_or_false, "True or False"), "Ramulator DRAM traces are")
    rows, cols = cfg.integer(a, "ArrayHeight", 1), cfg.integer(a, "ArrayWidth", 1)
    ifmap_kb, filter_kb, ofmap_kb = (cfg.integer(a, f"{op}SramSzkB", 1) for op in ("Ifmap", "Filter", "Ofmap"))
    for key in ("IfmapOffset", "FilterOffset", "OfmapOffset"):
        cfg.integer(a, key, 0)  # addresses only; negative ones would meet SCALE-Sim's -1 "no request" marker
    dataflow = cfg.choice(a, "Dataflow", tuple(d.value for d in Dataflow), " (SCALE-Sim would warn and run os)")
    for key in ("ReadRequestBuffer", "WriteRequestBuffer"):
        cfg.integer(a, key, 1)  # Ramulator's request queues: read by SCALE-Sim, unused without Ramulator
    ifmap_bw, filter_bw = (_layout_port(cfg, op, mode) for op in ("Ifmap", "Filter"))
    ofmap_bw = _drain_bandwidth(cfg) if mode == "USER" else cols
    cfg.refuse_on("sparsity", "SparsitySupport",
                  cfg.truth("sparsity", "SparsitySupport", _true_or_false, "true or false"), "sparsity is")
    _network_presets(cfg)
    if cfg.problems:
        raise ConfigError(cfg.problems)
    calc = mode == "CALC"
    return ScaleSimArch(name=name or "", rows=rows, cols=cols, ifmap_sram_kb=ifmap_kb, filter_sram_kb=filter_kb,
                        ofmap_sram_kb=ofmap_kb, dataflow=Dataflow(dataflow), bandwidth_mode=BandwidthMode(mode),
                        ifmap_bw=CALC_READ_BW if calc else ifmap_bw, filter_bw=CALC_READ_BW if calc else filter_bw,
                        ofmap_bw=ofmap_bw)


def _layout_port(cfg: _Config, op: str, mode: str) -> int:
    """[layout] for the ifmap or filter SRAM: its DRAM read bandwidth (words/cycle), checked as SCALE-Sim checks it."""
    layout = cfg.truth("layout", f"{op}CustomLayout", _getboolean, "True or False (or yes/no, on/off, 1/0)")
    cfg.refuse_on("layout", f"{op}CustomLayout", layout, "custom SRAM layouts (bank conflicts) are")
    bandwidth = cfg.integer("layout", f"{op}SRAMBankBandwidth", 1)
    banks = cfg.integer("layout", f"{op}SRAMBankNum", 1)
    cfg.integer("layout", f"{op}SRAMBankPort", 1)
    if mode == "USER" and bandwidth and banks and bandwidth % banks:
        cfg.problem("layout", f"{op}SRAMBankNum", f"{op}SRAMBankBandwidth ({bandwidth}) must be a multiple of "
                                                  f"{op}SRAMBankNum ({banks}): SCALE-Sim 3.0.0 asserts it "
                                                  "(read_buffer.py)")
    return bandwidth


def _drain_bandwidth(cfg: _Config) -> int:
    """USER mode's ofmap SRAM -> DRAM bandwidth: the first of [architecture_presets] Bandwidth's comma-separated
    integers (SCALE-Sim reads them all with int() and uses the first)."""
    key = "Bandwidth"
    value = cfg.text("architecture_presets", key)
    if value is None:
        return 0
    try:
        values = [int(x) for x in value.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        cfg.problem("architecture_presets", key, f"expected positive integers separated by commas, got {value!r}")
        return 0
    return values[0]


def _network_presets(cfg: _Config) -> None:
    """With a [network_presets] section SCALE-Sim reads TopologyCsvLoc, as a quoted path, from [architecture_presets]
    (its `section` variable still names that section) and stops if it is not there."""
    if not cfg.parser.has_section("network_presets"):
        return
    value = cfg.parser.get("architecture_presets", "TopologyCsvLoc", raw=True, fallback="")
    if value.count('"') < 2:
        cfg.problems.append(Problem(source=cfg.source, path="[network_presets]",
                                    line=cfg.lines.get(("network_presets", "")), message=(
            "SCALE-Sim 3.0.0 then reads a quoted TopologyCsvLoc from [architecture_presets] and stops without it; "
            "remove the section and give the topology with --topology")))


# -------------------------------------------------------------------------------------------------- the topology


class TopologyFormat(StrEnum):
    GEMM = "gemm"  # SCALE-Sim's `-i gemm`
    CONV = "conv"  # `-i conv`, its default


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvShape:
    """A conv row's columns (elements; stride in both directions, as SCALE-Sim repeats the one Strides column)."""

    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    num_filters: int
    stride: int

    @property
    def ofmap_h(self) -> int:
        """SCALE-Sim's ceil((H - R + stride) / stride) (topology_utils.topo_calc_hyperparams)."""
        return -(-(self.ifmap_h - self.filter_h + self.stride) // self.stride)

    @property
    def ofmap_w(self) -> int:
        return -(-(self.ifmap_w - self.filter_w + self.stride) // self.stride)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleSimLayer:
    """One SCALE-Sim layer as its GEMM: an M x K ifmap matrix times a K x N filter matrix (elements)."""

    name: str
    m: int
    n: int
    k: int
    conv: ConvShape | None = None  # the conv row the GEMM came from (SCALE-Sim runs its im2col addresses)


def load_scalesim_topology(path: str | Path) -> list[ScaleSimLayer]:
    """A SCALE-Sim topology CSV, GEMM or conv format (told by its header), -> its layers in file order."""
    p = Path(path)
    text = _read_text(p)
    lines = text.split("\n")
    fmt = _topology_format(lines[0], str(p), empty=not text.strip())
    layers: list[ScaleSimLayer] = []
    problems: list[Problem] = []
    for no, raw in enumerate(lines[1:], start=2):
        row = raw.strip()
        if row:
            got, bad = _row(fmt, row, str(p), no)
            layers += got
            problems += bad
            if len(layers) > MAX_LAYERS:
                problems.append(Problem(source=str(p), path="", line=no, message=(
                    f"more than {MAX_LAYERS:,} layers (a DP row counts one layer per channel)")))
                break
    if not layers and not problems:
        problems.append(Problem(source=str(p), path="", message="no layers: expected rows after the header line"))
    if problems:
        raise ConfigError(problems)
    return layers


def _header(columns: tuple[str, ...]) -> str:
    return ", ".join(columns) + ","


def _topology_format(header: str, source: str, *, empty: bool) -> TopologyFormat:
    """The format the header names: GEMM when its columns 2-4 are M, N, K; conv when its second is IFMAP Height."""
    cells = [c.strip().lower() for c in header.split(",")]
    if cells[1:4] == ["m", "n", "k"]:
        return TopologyFormat.GEMM
    if cells[1:2] == ["ifmap height"]:
        return TopologyFormat.CONV
    got = "the file is empty" if empty else f"got {header.strip()!r}" if header.strip() else "got an empty line"
    raise ConfigError(Problem(source=source, path="", line=1, message=(
        f"expected SCALE-Sim's GEMM header '{_header(GEMM_COLUMNS)}' or its conv header '{_header(CONV_COLUMNS)}' "
        f"(optionally followed by '{SPARSITY_COLUMN},'), {got}")))


def _row(fmt: TopologyFormat, row: str, source: str, line: int) -> tuple[list[ScaleSimLayer], list[Problem]]:
    """One non-blank row -> its layers (several for a depthwise conv row), or the problems found in it."""
    columns = GEMM_COLUMNS if fmt == TopologyFormat.GEMM else CONV_COLUMNS
    *cells, tail = (c.strip() for c in row.split(","))

    def problem(path: str, message: str) -> tuple[list[ScaleSimLayer], list[Problem]]:
        return [], [Problem(source=source, path=path, line=line, message=message)]

    if tail and not tail.startswith("#"):
        return problem("", f"SCALE-Sim drops the text after a row's last comma ({tail!r}); end the row with a comma")
    if len(cells) not in (len(columns), len(columns) + 1):
        return problem("", f"expected {len(columns)} columns ({', '.join(columns)}), optionally a {SPARSITY_COLUMN} "
                           f"ratio N:M, each followed by a comma; got {len(cells)}: {row!r}")
    problems = [Problem(source=source, path=f"{columns[0]} (column 1)", line=line, message="expected a layer name, got ''")
                ] if not cells[0] else []
    values = [_count(columns[i], i + 1, cells[i], source, line, problems) for i in range(1, len(columns))]
    if len(cells) > len(columns):
        _dense_ratio(cells[-1], len(cells), source, line, problems)
    if problems:
        return [], problems
    numbers = [v for v in values if v is not None]
    if fmt == TopologyFormat.GEMM:
        m, n, k = numbers
        return [ScaleSimLayer(name=cells[0], m=m, n=n, k=k)], []
    return _conv_layers(cells[0], numbers, source, line)


def _count(column: str, index: int, cell: str, source: str, line: int, problems: list[Problem]) -> int | None:
    """A column's value as SCALE-Sim's int() reads it: a positive integer of at most MAX_VALUE."""
    try:
        value = int(cell)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_VALUE:
        problems.append(Problem(source=source, path=f"{column} (column {index})", line=line, message=(
            f"expected a positive integer of at most {MAX_VALUE:,}, got {cell!r}")))
        return None
    return value


def _dense_ratio(cell: str, index: int, source: str, line: int, problems: list[Problem]) -> None:
    """The optional Sparsity column: SCALE-Sim uses its N:M only with [sparsity] SparsitySupport, which edgesim
    refuses, so only a dense ratio (N = M) means what it says."""
    parts = cell.split(":")
    try:
        n, m = (int(x) for x in parts)
    except ValueError:
        n = m = 0
    if not 1 <= n == m:
        problems.append(Problem(source=source, path=f"{SPARSITY_COLUMN} (column {index})", line=line, message=(
            f"expected a dense ratio N:N such as 1:1 (sparsity is not modelled by --engine scalesim), got {cell!r}")))


def _conv_layers(name: str, numbers: list[int], source: str, line: int) -> tuple[list[ScaleSimLayer], list[Problem]]:
    """A conv row's layers: SCALE-Sim's im2col GEMM; a depthwise row ("DP" in the name) is one single-channel layer
    per channel (topology_utils.load_arrays_conv)."""
    h, w, r, s, c, filters, stride = numbers

    def problem(path: str, message: str) -> Problem:
        return Problem(source=source, path=path, line=line, message=message)

    problems = [problem(f"{CONV_COLUMNS[i]} (column {i + 1})",
                        f"{CONV_COLUMNS[i]} {numbers[i - 1]} is larger than {CONV_COLUMNS[i - 2]} {numbers[i - 3]}")
                for i in (3, 4) if numbers[i - 1] > numbers[i - 3]]
    depthwise = "DP" in name
    if depthwise and c > MAX_LAYERS:
        problems.append(problem(f"{CONV_COLUMNS[5]} (column 6)", f"a depthwise (DP) row becomes one layer per channel: "
                                                                 f"expected at most {MAX_LAYERS:,} channels, got {c:,}"))
    if problems:
        return [], problems
    conv = ConvShape(ifmap_h=h, ifmap_w=w, filter_h=r, filter_w=s, channels=1 if depthwise else c, num_filters=filters,
                     stride=stride)
    m, k = conv.ofmap_h * conv.ofmap_w, r * s * conv.channels
    too_big = [(dim, v) for dim, v in (("M (ofmap pixels)", m), ("K (filter height x width x channels)", k))
               if v > MAX_VALUE]
    if too_big:
        return [], [problem("", f"its GEMM's {dim} = {v:,} is above edgesim's bound of {MAX_VALUE:,} per dimension")
                    for dim, v in too_big]
    names = [f"{name}Channel_{i}" for i in range(c)] if depthwise else [name]
    return [ScaleSimLayer(name=layer, m=m, n=filters, k=k, conv=conv) for layer in names], []
