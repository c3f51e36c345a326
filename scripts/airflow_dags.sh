#!/usr/bin/env bash
# Regenerates airflow_dags/ (git-ignored): one Airflow DAG per experiment, by kedro-airflow with the
# template scripts/airflow_dag.j2 (one task per model variant; see docs/team.md).
# Usage: bash scripts/airflow_dags.sh [ENV]   (default: local, i.e. conf/base + conf/local; e.g. test)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
export DO_NOT_TRACK=1  # kedro-telemetry comes with kedro-airflow
env=${1:-local}
experiments=(fundamentals traffic_lstm house_prices image_cnn sample_images horse_or_human vgg16_finetune)
rm -rf airflow_dags
mkdir airflow_dags
kedro airflow create --pipelines="$(IFS=,; echo "${experiments[*]}")" --env="$env" --group-by=memory \
  --jinja-file=scripts/airflow_dag.j2 --target-dir=airflow_dags
ls airflow_dags
