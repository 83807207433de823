#!/usr/bin/env bash
# Mutation testing of sim/model/ and sim/strategies/ with mutmut 3 (configuration:
# [tool.mutmut] in pyproject.toml). A job of its own, not part of CI. Results stay in
# mutants/ (git-ignored); the score and the surviving mutants are printed at the end
# (bench/mutation_report.py).
#
#   bench/mutation.sh                # every mutant (several hours on 2 busy cores)
#   bench/mutation.sh --sample 300   # a random sample of 300 mutants (seed 8)
#   bench/mutation.sh --resume       # keep mutants/, test what has no result yet
#   bench/mutation.sh --resume --sample 300  # go on with the sample drawn before
#
# JOBS (default 2) sets the number of mutants tested side by side; CHUNK (default 40)
# the number of sampled mutants per mutmut run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
MUTMUT="$(dirname "$PYTHON")/mutmut"  # started as its own command, not python -m mutmut
SAMPLE="" RESUME=""
while [ $# -gt 0 ]; do
    case "$1" in
        --resume) RESUME=1 ;;
        --sample) SAMPLE="$2"; shift ;;
        *) echo "usage: bench/mutation.sh [--sample N] [--resume]" >&2; exit 2 ;;
    esac
    shift
done
"$PYTHON" -m pip install -q -e '.[mutation]'
if [ -z "$RESUME" ]; then
    rm -rf mutants
fi
mkdir -p mutants
run() { "$MUTMUT" run --max-children "${JOBS:-2}" "$@" >> mutants/run.log 2>&1 || {
    tail -c 4000 mutants/run.log; exit 1; }; }
if [ -n "$SAMPLE" ]; then
    if [ ! -f mutants/sample.txt ]; then
        # generates the mutants and maps them to tests; mutmut then refuses the empty filter
        "$MUTMUT" run --max-children "${JOBS:-2}" "no-mutant-is-called-this*" \
            >> mutants/run.log 2>&1 || grep -q "nothing matches" mutants/run.log || {
            tail -c 4000 mutants/run.log; exit 1; }
        "$PYTHON" bench/mutation_report.py --pick "$SAMPLE"
    fi
    # in the order drawn, CHUNK at a time: a run stopped early (or resumed) leaves a
    # checked prefix of the sample, itself a random sample
    while names=$("$PYTHON" bench/mutation_report.py --next "${CHUNK:-40}") && [ -n "$names" ]; do
        # shellcheck disable=SC2086
        run $names
    done
else
    rm -f mutants/sample.txt
    run
fi
"$PYTHON" bench/mutation_report.py
