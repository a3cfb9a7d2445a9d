#!/usr/bin/env bash
# Idempotently create the isolated SCALE-Sim reference venv and print its python path.
#
#   PY="$(bash benchmarks/scalesim_env.sh)"      # venv at $SCALESIM_VENV or /work/scalesim-venv
#
# Pins: scalesim==3.0.0 and numpy>=2.3,<2.4 (scalesim 3.0.0 crashes under numpy>=2.4
# when a DRAM bandwidth is set). All installer output goes to stderr; stdout is only the path.
set -euo pipefail

VENV="${SCALESIM_VENV:-/work/scalesim-venv}"
PY="$VENV/bin/python"

ready() {
    "$PY" - <<'PYEOF' 2>/dev/null
import importlib.metadata as md
import numpy
assert md.version("scalesim") == "3.0.0"
assert numpy.__version__.startswith("2.3.")
import scalesim.scale_sim  # noqa: F401  (import check)
PYEOF
}

if ! ready; then
    echo "scalesim_env: setting up $VENV" >&2
    [ -x "$PY" ] || python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        'scalesim==3.0.0' 'numpy>=2.3,<2.4' >&2
    ready || { echo "scalesim_env: venv at $VENV is not usable" >&2; exit 1; }
fi
echo "$PY"
