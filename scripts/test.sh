#!/usr/bin/env bash
# One command: set up (or reuse) .venv, lint (ruff check + ruff format --check), run the test suite
# without the integration tests (servers, Airflow, several devices: `python -m pytest -m integration`).
# Extra arguments go to pytest, e.g. scripts/test.sh -k traffic
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
echo "== ruff check and ruff format --check"
ruff check .
ruff format --check .
# One pytest-xdist worker per core (at most 4), whole test modules per worker (their module fixtures run once).
workers=$(python -c 'import os; print(max(1, min(4, len(os.sched_getaffinity(0)))))')
python -m pytest -m "not integration" -n "$workers" --dist loadscope "$@"
