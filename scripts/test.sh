#!/usr/bin/env bash
# One command: set up (or reuse) .venv, lint (ruff check + ruff format --check), run the test suite
# without the integration tests (servers, Airflow, several devices: `python -m pytest -m integration`).
# Extra arguments go to pytest, e.g. scripts/test.sh -k traffic
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
echo "== ruff check and ruff format --check"
ruff check .
ruff format --check .
# One process by default. `scripts/test.sh -n 2 --dist loadscope` spreads whole modules over pytest-xdist
# workers (tests/conftest.py shares one project between them), but two tests of tests/datasets/test_datasets.py
# still depend on the MLflow experiment an earlier test left active and fail there.
python -m pytest -m "not integration" "$@"
