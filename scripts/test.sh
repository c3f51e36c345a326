#!/usr/bin/env bash
# One command: set up (or reuse) .venv and run the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k traffic
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
python -m pytest "$@"
