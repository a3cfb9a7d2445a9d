"""`edgesim model import CONFIG.json`: a Hugging Face config.json as an edgesim model YAML (stdout, or -o FILE).

The mapping rules and the defaults each family's transformers config class supplies are in
`edgesim.config.hf_import`; the YAML's comment header records the source file, the model_type and every default used.
"""

from __future__ import annotations

import argparse
from typing import Any

from edgesim.cli.args import bad
from edgesim.config.hf_import import FAMILIES, import_hf_config, to_yaml


def add_parser(sub: Any) -> None:
    model = sub.add_parser("model", help="model shapes: import a Hugging Face config.json as an edgesim model YAML")
    msub = model.add_subparsers(dest="model_command")
    imp = msub.add_parser("import", help="write the edgesim model YAML of a Hugging Face config.json "
                                         f"(model_type {', '.join(FAMILIES)})")
    imp.add_argument("config", metavar="CONFIG.json", help="a Hugging Face config.json")
    imp.add_argument("-o", "--output", metavar="FILE", help="write the YAML here instead of stdout")
    imp.add_argument("--name", help="the model's name (default: the last component of the config's _name_or_path, "
                                    "else the file's stem)")


def run(args: argparse.Namespace) -> str:
    if args.model_command != "import":
        raise bad("edgesim model", "give a subcommand: import CONFIG.json [-o FILE] [--name NAME]")
    return to_yaml(import_hf_config(args.config, name=args.name))
