"""Compare two replay output folders (tests/replay/run.sh): byte for byte, and JSON files also with wall-clock
fields (search time) masked, since those differ between any two runs. Exit 1 if any output differs otherwise."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

WALL_CLOCK = {"search_seconds", "wall_seconds", "scheduling_seconds"}


def masked(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: masked(v) for k, v in x.items() if k not in WALL_CLOCK}
    if isinstance(x, list):
        return [masked(v) for v in x]
    return x


def main(old: Path, new: Path) -> int:
    bad = 0
    for a in sorted(old.iterdir()):
        b = new / a.name
        if not b.exists():
            print(f"MISSING {a.name}")
            bad += 1
        elif a.read_bytes() == b.read_bytes():
            print(f"identical        {a.name}")
        elif a.suffix == ".json" and a.read_text().strip() and b.read_text().strip() and \
                masked(json.loads(a.read_text())) == masked(json.loads(b.read_text())):
            print(f"identical but wall-clock fields  {a.name}")
        else:
            print(f"DIFFERENT        {a.name}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
