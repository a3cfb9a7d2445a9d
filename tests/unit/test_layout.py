"""The package's house rules: the layering contract holds, and the wheel's package list names every package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_layers_hold():
    """import-linter checks pyproject.toml's contracts: no import runs against the stages' order, and none cycles."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "lint-imports (the import-linter package, a dev extra) is not installed"
    res = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_wheel_lists_every_package_directory():
    """pyproject.toml lists the packages explicitly (two are mapped from hw_configs/ and workloads/): a new
    package directory missing from the list would be left out of the wheel."""
    setup = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "edgesim").rglob("__init__.py")}
    mapped = set(setup["package-dir"])
    assert set(setup["packages"]) == on_disk | mapped
    for package, folder in setup["package-dir"].items():
        assert (REPO / folder / "__init__.py").exists(), f"{package} maps to {folder}/, which is not a package"
