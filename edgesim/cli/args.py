"""Argument types and groups every subcommand shares: hardware selection, checked numbers, report format and output.

A bad value is a `ConfigError` naming the flag, the value and what was expected (exit status 2 from `main`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from edgesim.arch import ArchSpec
from edgesim.config.hardware import width_problem
from edgesim.config.models import load_model
from edgesim.errors import ConfigError, InfeasibleWork, Problem
from edgesim.llm.model import ModelShape
from edgesim.llm.step import compression_problem, default_seq
from edgesim.results import Engine


def bad(flag: str, message: str) -> ConfigError:
    return ConfigError(Problem(source=flag, path="", message=message))


def require_positive(flag: str, value: int | float) -> None:
    if value < 1:
        raise bad(flag, f"expected a positive integer, got {value}")


def require_range(flag: str, value: int | float, lo: int | float, hi: int | float, why: str = "") -> None:
    """`value` must lie in [lo, hi]; `why` says where the bound comes from (e.g. the model's max_seq)."""
    if not lo <= value <= hi:
        raise bad(flag, f"expected {lo:,} to {hi:,}{f' ({why})' if why else ''}, got {value:,}")


def layer_model(args: argparse.Namespace) -> ModelShape:
    """The model of `--layer MODEL`; sets `args.seq` to its default (512, or the model's max_seq if smaller) when not
    given, and checks it against the model's max_seq."""
    model = load_model(args.layer)
    if args.seq is None:
        args.seq = default_seq(model, None)
    require_range("--seq", args.seq, 1, model.max_seq, f"{model.name}'s max_seq")
    return model


def add_infeasible_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-infeasible", action="store_true",
                   help="report even if some ops cannot run on the hardware: their totals are marked INCOMPLETE and "
                        "no ratio between methods is printed (default: such work is an error naming the ops)")


def refuse_infeasible(args: argparse.Namespace, hardware: str,
                      groups: list[tuple[str, int, Sequence[tuple[str, str]]]]) -> None:
    """Raise `InfeasibleWork` if any group has ops that cannot run, unless --allow-infeasible was given."""
    bad_groups = [(label, total, list(ops)) for label, total, ops in groups if ops]
    if bad_groups and not args.allow_infeasible:
        raise InfeasibleWork(hardware, bad_groups)


def add_hw_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hw", metavar="FILE", help="hardware YAML, or a name in hw_configs/ (default: edge_npu_16x16)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a hardware field, e.g. --set pe_array.rows=8 (repeatable)")


def add_engine_arg(p: argparse.ArgumentParser, default: str | None = "analytic", help_: str | None = None) -> None:
    p.add_argument("--engine", choices=[e.value for e in Engine], default=default,
                   help=help_ or "analytic cost model (default) or the tile-level simulator (stalls by cause)")


def add_output_args(p: argparse.ArgumentParser, formats: tuple[str, ...] = ("table", "csv", "json")) -> None:
    p.add_argument("--format", choices=list(formats), default="table")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")


def split_list(flag: str, text: str) -> list[str]:
    """A comma-separated list; empty items are dropped."""
    return [x.strip() for x in text.split(",") if x.strip()]


def add_compression_args(p: argparse.ArgumentParser, methods: str) -> None:
    """--weight-bits and --weight-sparsity: uniform compression of the frozen base weights of `methods`."""
    p.add_argument("--weight-bits", type=int, metavar="N",
                   help=f"{methods}: the frozen base weights at N bits (activations stay at --base-bits; default: "
                        "--base-bits)")
    p.add_argument("--weight-sparsity", type=float, default=0.0, metavar="FRACTION",
                   help=f"{methods}: unstructured sparsity of the frozen base weights, in [0, 1) (default 0)")


def compression(args: argparse.Namespace, arch: ArchSpec, methods: Sequence[str]) -> tuple[int | None, float]:
    """The checked --weight-bits and --weight-sparsity: a width the MAC runs, a fraction in [0, 1), and only with
    methods that keep a frozen base (not full, qlora or edge-llm)."""
    bits, sparsity = args.weight_bits, args.weight_sparsity
    if bits is None and sparsity == 0:
        return None, 0.0
    if not 0 <= sparsity < 1:
        raise bad("--weight-sparsity", f"expected a fraction in [0, 1), got {sparsity}")
    if bits is not None and (p := width_problem(arch, bits, source="--weight-bits")) is not None:
        raise ConfigError(p)
    flag = "--weight-bits" if bits is not None else "--weight-sparsity"
    for m in methods:
        if (why := compression_problem(m, bits, sparsity)) is not None:
            raise bad(flag, f"cannot apply to {m}: {why}; compare it separately")
    return bits, sparsity
