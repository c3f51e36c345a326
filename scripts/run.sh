#!/usr/bin/env bash
# One command: set up .venv and run every offline pipeline on the bundled data (`kedro run`).
# Extra arguments go to `kedro run`, e.g. scripts/run.sh --pipeline=traffic_lstm
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
kedro run "$@"
