#!/usr/bin/env bash
# Creates (or reuses) .venv with Python 3.11 and installs the pinned stack and the project.
# Sourced by scripts/run.sh and scripts/test.sh; leaves the venv activated.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$candidate
      break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "neural-pipelines needs Python 3.11 (found: $(python3 --version 2>&1 || echo none)). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate

# Reinstall only when the lock file or the project's metadata changed.
stamp=.venv/.neural-pipelines-installed
wanted=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "== installing the pinned stack (requirements.lock) and the project"
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -r requirements.lock
  python -m pip install --quiet --no-deps -e .
  echo "$wanted" > "$stamp"
fi

# Offline-friendly, quiet defaults (Kedro asks for telemetry consent; TF prints C++ notices).
export KEDRO_DISABLE_TELEMETRY=1
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
export PYTHONWARNINGS=${PYTHONWARNINGS:-"ignore::DeprecationWarning,ignore::FutureWarning,ignore:register_new_resolver() is deprecated:UserWarning"}
