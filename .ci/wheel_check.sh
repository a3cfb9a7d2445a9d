#!/usr/bin/env bash
# A normal (non-editable) install works without the repository: build the wheel, install it into a fresh venv, and
# run the default job and `simulate --layer llama7b` from a directory outside the repository. Their numbers must
# equal the editable install's (.venv, made by the test command): the JSON reports are compared field by field,
# all but the trace's path, which names where the built-in trace lives.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# build from a copy of the tracked files: the wheel must not depend on anything untracked, and build/ stays out of the tree
mkdir "$tmp/src" && git ls-files -z | xargs -0 cp --parents -t "$tmp/src"
.venv/bin/pip wheel -q --no-deps -w "$tmp/dist" "$tmp/src" >/dev/null
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "$tmp"/dist/edgesim-*.whl
mkdir "$tmp/elsewhere" "$tmp/home" && cd "$tmp/elsewhere"
export HOME="$tmp/home"  # the default job's schedule cache goes to ~/.cache: keep it in the temporary directory
for e in wheel editable; do
  if [ $e = wheel ]; then bin="$tmp/venv/bin"; else bin="$repo/.venv/bin"; fi
  "$bin/edgesim" > "$tmp/$e-default.txt"
  "$bin/edgesim" tune --compare lora,edge-llm --format json --cache-dir "$tmp/cache-$e" > "$tmp/$e-tune.json"
  "$bin/edgesim" simulate --layer llama7b --format json > "$tmp/$e-layer.json"
done
"$tmp/venv/bin/python" - "$tmp" <<'PY'
import json, sys
from pathlib import Path
tmp = Path(sys.argv[1])
for name in ("tune", "layer"):
    wheel, editable = (json.loads((tmp / f"{e}-{name}.json").read_text()) for e in ("wheel", "editable"))
    for d in (wheel, editable):
        d.pop("trace", None)
    assert wheel == editable, f"{name}: the wheel's numbers differ from the editable install's"
strip = lambda e: [l for l in (tmp / f"{e}-default.txt").read_text().splitlines() if not l.startswith("trace:")]
assert strip("wheel") == strip("editable"), "the default job's report differs between the wheel and the editable install"
print("wheel check: the installed wheel, run outside the repository, gives the editable install's numbers "
      "(default job, tune --format json, simulate --layer llama7b --format json)")
PY
