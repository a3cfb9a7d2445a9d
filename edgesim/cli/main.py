"""The `edgesim` command: build the parser from each subcommand's module, dispatch, print or write the report.

`main(argv) -> int` is the only place that sets up logging and turns a `ConfigError` (bad input) or an
`InfeasibleWork` (ops the hardware cannot run, without --allow-infeasible) into exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from edgesim.cli import infer, model, schedule, simulate, sweep, trace, tune
from edgesim.cli.args import bad
from edgesim.errors import ConfigError, InfeasibleWork

COMMANDS: dict[str, Callable[[argparse.Namespace], str]] = {
    "simulate": simulate.run, "tune": tune.run, "infer": infer.run, "schedule": schedule.run, "trace": trace.run,
    "sweep": sweep.run, "model": model.run}


# output paths of every command: (attribute, flag); their directory must exist before any work starts
OUTPUTS = (("output", "-o"), ("mappings_out", "-o"), ("html", "-o"), ("export_path", "-o"), ("timeline", "--timeline"),
           ("plots", "--plots"))


def _check_outputs(args: argparse.Namespace) -> None:
    for attr, flag in OUTPUTS:
        value = getattr(args, attr, None)
        if not value:
            continue
        p = Path(value)
        if attr != "plots" and p.is_dir():
            raise bad(f"{flag} {value}", "is a directory; expected a file name")
        parent = p if attr == "plots" and p.is_dir() else p.parent
        if not parent.is_dir():
            raise bad(f"{flag} {value}", f"the directory {parent} does not exist; create it first" if not parent.exists()
                      else f"{parent} is not a directory")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgesim", description="Dataflow simulator for edge LLM-adaptation accelerators.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command")
    for module in (simulate, tune, infer, schedule, trace, sweep, model):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        # the main job: an Edge-LLM tuning step of LLaMA-7B on the default accelerator, vanilla LoRA beside it
        argv = ["tune", "--compare", "lora,edge-llm"]
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if args.command not in COMMANDS:
        parser.print_help()
        return 2
    try:
        _check_outputs(args)
        text = COMMANDS[args.command](args)
    except (ConfigError, InfeasibleWork) as exc:
        print(f"edgesim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edgesim: interrupted" + (" (finished sweep rows are saved; rerun to resume)" if args.command == "sweep" else ""),
              file=sys.stderr)
        return 130
    if args.command in ("trace", "sweep"):  # what they made went to their own files; this is the summary
        print(text)
        return 0
    if getattr(args, "output", None):
        try:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"edgesim: error: -o {args.output}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    try:
        print(text)
    except BrokenPipeError:  # e.g. `edgesim tune | head`: the reader left, nothing is wrong
        sys.stderr.close()
    return 0
