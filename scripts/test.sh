#!/usr/bin/env bash
# One command: set up (or reuse) .venv, lint (ruff check + ruff format --check), run the test suite
# without the integration tests (servers, Airflow, several devices: `python -m pytest -m integration`).
# Extra arguments go to pytest, e.g. scripts/test.sh -k traffic
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
echo "== ruff check and ruff format --check"
ruff check .
ruff format --check .
# pytest-xdist spreads whole test modules (--dist loadscope: a module's fixtures stay on one worker) over one
# worker per core, at most 4; tests/conftest.py shares one project between the workers. `scripts/test.sh -p no:xdist`
# runs everything in one process (e.g. to use a debugger).
workers=$(python -c "import os; print(min(len(os.sched_getaffinity(0)), 4))")
if [[ " $* " == *" -p no:xdist "* ]]; then
  python -m pytest -m "not integration" "$@"
else
  python -m pytest -m "not integration" -n "$workers" --dist loadscope "$@"
fi
