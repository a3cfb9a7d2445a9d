"""Shared by the peer runners (scalesim_runner.py, zigzag_runner.py), which run in the peers' own venvs:
read a JSON case list (or one case) from stdin and run each, recording failures instead of stopping."""

import json
import sys


def run_cases_from_stdin(run_case):
    cases = json.load(sys.stdin)
    if isinstance(cases, dict):
        cases = [cases]
    out = []
    for case in cases:
        try:
            out.append(run_case(case))
        except Exception as e:  # report and keep going
            out.append({**case, "error": f"{type(e).__name__}: {e}"})
    return out
