#!/usr/bin/env bash
# Apache Airflow in its own virtualenv (.venv-airflow: its pins conflict with the project's), then
# `airflow dags test` of traffic_lstm's generated DAG on the test environment, in a throw-away copy of
# the project: every task must succeed and the MLflow runs must equal a plain `kedro run`'s
# (tests/integration/test_airflow.py, which installs Airflow when .venv-airflow lacks it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
python -m pytest tests/integration/test_airflow.py -m integration -s "$@"
