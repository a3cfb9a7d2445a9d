"""The built-in files, and how a user's file argument resolves: a path, or the name of a built-in file.

The built-in accelerators (`hw_configs/`) and workloads (`workloads/`: GEMM lists, model shapes, traces) sit at
the top of the repository and ship inside the package as `edgesim.hw_configs` and `edgesim.workloads`
(pyproject.toml maps them), so an installed wheel finds them from any directory, as an editable install does.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from edgesim.config import schema as s
from edgesim.errors import ConfigError, Problem

HW_CONFIG_DIR = Path(str(files("edgesim.hw_configs")))
WORKLOAD_DIR = Path(str(files("edgesim.workloads")))
MODEL_DIR = WORKLOAD_DIR / "models"
TRACE_DIR = WORKLOAD_DIR / "traces"
DEFAULT_WORKLOAD = WORKLOAD_DIR / "gemms" / "llama7b_layer0_luc_fwd.yaml"


def resolve(name_or_path: str, directory: Path, what: str) -> Path:
    """A path to a YAML file, or the stem of a YAML file in `directory`; else an error with a did-you-mean. A folder
    of the same name in the working directory does not hide a built-in name."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.is_file():
        return p
    candidate = directory / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    if p.exists():
        return p  # not a file: the loader reports what it is
    known = sorted(f.stem for f in directory.glob("*.yaml"))
    raise ConfigError(Problem(source=name_or_path, path="",
                              message=f"no such file, and no built-in {what} of that name{s.suggest(name_or_path, known)}"))


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is inside it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
