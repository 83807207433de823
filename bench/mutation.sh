#!/usr/bin/env bash
# Mutation testing of sim/model/ and sim/strategies/ with mutmut 3 (configuration:
# [tool.mutmut] in pyproject.toml). A job of its own, not part of CI: about an hour on
# 2 cores. Results stay in mutants/ (git-ignored); the score and the surviving mutants
# are printed at the end (bench/mutation_report.py).
#
#   bench/mutation.sh            # from scratch
#   bench/mutation.sh --resume   # keep mutants/ and test only what has no result yet
#
# JOBS (default 2) sets the number of mutants tested side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" -m pip install -q -e '.[mutation]'
if [ "${1:-}" != "--resume" ]; then
    rm -rf mutants
fi
# mutmut must be started as its own command (not python -m mutmut)
mkdir -p mutants
"$(dirname "$PYTHON")/mutmut" run --max-children "${JOBS:-2}" > mutants/run.log 2>&1 || {
    tail -c 4000 mutants/run.log; exit 1; }
"$PYTHON" bench/mutation_report.py
