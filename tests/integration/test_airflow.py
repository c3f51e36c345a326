"""traffic_lstm's Airflow DAG (kedro-airflow) passes ``airflow dags test`` and leaves the MLflow runs a ``kedro run`` leaves.

Airflow lives in its own virtualenv (``.venv-airflow``, installed here when missing: its pins
conflict with the project's); every task runs ``kedro run`` with the project's interpreter
in a throw-away copy of the project, on the test environment (scripts/airflow_dag.j2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from tests.conftest import PROJECT_ROOT, TempProject, make_temp_project

pytestmark = pytest.mark.integration

AIRFLOW_VERSION = "3.3.2"
AIRFLOW_VENV = PROJECT_ROOT / ".venv-airflow"
DAG_ID = "neural_pipelines_traffic_lstm_test"
VARIANTS = {"dense", "simple_rnn", "lstm", "lstm_calendar", "gradient_boosting", "persistence", "seasonal_naive_24h", "seasonal_naive_168h"}


def airflow() -> Path:
    """``.venv-airflow/bin/airflow``, installing apache-airflow there first if it is not (about a minute)."""
    executable, python = AIRFLOW_VENV / "bin" / "airflow", AIRFLOW_VENV / "bin" / "python"
    shown = (
        subprocess.run([python, "-m", "pip", "show", "apache-airflow"], check=False, capture_output=True, text=True)
        if python.exists()
        else None
    )
    if not executable.exists() or shown is None or f"Version: {AIRFLOW_VERSION}\n" not in shown.stdout:  # a fresh clone has no venv
        subprocess.run([sys.executable, "-m", "venv", "--clear", AIRFLOW_VENV], check=True)
        subprocess.run([AIRFLOW_VENV / "bin" / "python", "-m", "pip", "install", "-q", f"apache-airflow=={AIRFLOW_VERSION}"], check=True)
    return executable


def json_output(stdout: str) -> list[dict]:
    """The JSON list an ``airflow … -o json`` command prints after its log lines."""
    return json.loads(next(line for line in reversed(stdout.splitlines()) if line.startswith("[")))


def variant_runs(project: TempProject) -> dict[str, mlflow.entities.Run]:
    client = mlflow.MlflowClient(project.tracking_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    return {run.data.tags["model"]: run for run in client.search_runs(experiments, "tags.pipeline = 'traffic_lstm'")}


def test_airflow_dags_test_of_traffic_lstm_succeeds_with_the_mlflow_runs_of_kedro_run(tmp_path: Path) -> None:
    executable = airflow()
    folders = {name: tmp_path / name for name in ("dag_project", "kedro_project", "airflow_home")}
    for folder in folders.values():
        folder.mkdir()
    project = make_temp_project(folders["dag_project"])
    project.add_sources()
    environment = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MLFLOW_TRACKING_URI": project.tracking_uri,
        "NEURAL_PIPELINES_PROJECT": str(project.path),
        "NEURAL_PIPELINES_PYTHON": sys.executable,
        "AIRFLOW_HOME": str(folders["airflow_home"]),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project.path / "airflow_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    generate = [sys.executable, "-m", "kedro", "airflow", "create", "-p", "traffic_lstm", "-e", "test", "-g", "memory"]
    generate += ["-j", str(PROJECT_ROOT / "scripts" / "airflow_dag.j2"), "-t", "airflow_dags"]
    subprocess.run(generate, cwd=project.path, env=environment, check=True, capture_output=True)
    subprocess.run([executable, "db", "migrate"], env=environment, check=True, capture_output=True)

    started = time.perf_counter()
    result = subprocess.run(
        [executable, "dags", "test", DAG_ID], env=environment, capture_output=True, text=True, timeout=1200, check=False
    )
    seconds = time.perf_counter() - started
    print(f"airflow dags test {DAG_ID}: exit {result.returncode} in {seconds:.0f}s")
    print("\n".join(line for line in (result.stdout + result.stderr).splitlines() if "DagRun Finished" in line))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

    runs = subprocess.run(
        [executable, "dags", "list-runs", DAG_ID, "-o", "json"], env=environment, check=True, capture_output=True, text=True
    )
    (dag_run,) = json_output(runs.stdout)
    assert dag_run["state"] == "success"
    states = subprocess.run(
        [executable, "tasks", "states-for-dag-run", DAG_ID, dag_run["run_id"], "-o", "json"],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    tasks = {task["task_id"]: task["state"] for task in json_output(states.stdout)}
    print(json.dumps(tasks, indent=1))
    assert {f"traffic_lstm__{variant}" for variant in VARIANTS} <= set(tasks)
    assert set(tasks.values()) == {"success"}

    # the same pipeline as one kedro run, in another copy: the variant runs must be the same
    reference = make_temp_project(folders["kedro_project"])
    reference.run("traffic_lstm")
    from_dag, from_kedro = variant_runs(project), variant_runs(reference)
    assert set(from_dag) == set(from_kedro) == VARIANTS  # exactly one run per variant: a variant is one task
    for variant in VARIANTS:
        dag, kedro = from_dag[variant], from_kedro[variant]
        assert dag.info.status == kedro.info.status == "FINISHED"
        assert dag.info.run_name == kedro.info.run_name == f"traffic_lstm.{variant}"
        assert dag.data.params == kedro.data.params
        for metric in ("test_mse", "test_mae", "test_rmse"):
            assert dag.data.metrics[metric] == pytest.approx(kedro.data.metrics[metric], rel=1e-6), f"{variant} {metric}"
    client = mlflow.MlflowClient(project.tracking_uri)
    assert {client.get_run(run.data.tags["mlflow.parentRunId"]).info.status for run in from_dag.values()} == {"FINISHED"}
    report_run = client.search_runs(
        [from_dag["lstm"].info.experiment_id], "attributes.run_name LIKE 'traffic_lstm [nodes%build_report%'", max_results=1
    )
    assert report_run and "report/report.html" in {artifact.path for artifact in client.list_artifacts(report_run[0].info.run_id, "report")}
