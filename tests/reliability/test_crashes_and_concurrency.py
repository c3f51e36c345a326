"""Two runs at once never mix, and a crash never leaves MLflow saying something false.

Before: two ``kedro run``s in one checkout loaded each other's newest versions (one run's
``linear`` logged ``alpha=10`` with the other's ``test_mae``), and ``kill -9`` left the parent
and the training variant RUNNING forever while variants that had only built a model said
FINISHED. Now a second run is refused while one runs (``data/.kedro_run.lock``), a variant
run is FINISHED only after its last node, and the next run marks a dead process's runs KILLED.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import mlflow
import pytest

from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def finished_run(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("traffic_lstm")


def kedro_run(*arguments: str) -> list[str]:
    """The command line of ``kedro run --env=test <arguments>``, as a user types it."""
    return [sys.executable, "-m", "kedro", "run", "--env=test", *arguments]


def environment(project: TempProject) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": project.tracking_uri, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_a_second_run_is_refused_while_one_trains_and_a_killed_run_is_marked_killed_at_the_next_start(own_run: TempProject) -> None:
    """Two real processes: A trains (for ever), B starts and is refused; A is killed -9; the next run cleans up after it."""
    versioned = "0[678]_*/**/*"  # models, model outputs, reports: every file there is a version of its own
    before_files, before_runs = own_run.outputs(versioned), own_run.runs("traffic_lstm")
    first = subprocess.Popen(
        kedro_run("--pipelines=traffic_lstm", "--params=traffic_lstm.training.max_epochs=100000"),
        cwd=own_run.path,
        env=environment(own_run),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        training = next((line for line in first.stdout if "epoch 3/100000" in line), None)  # mid-training
        assert training is not None, "the pipeline ended before training"
        mlflow.set_tracking_uri(own_run.tracking_uri)
        runs_while_training = set(mlflow.search_runs(search_all_experiments=True)["run_id"])

        second = subprocess.run(
            kedro_run("--pipelines=traffic_lstm"),
            cwd=own_run.path,
            env=environment(own_run),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert second.returncode == 1
        assert f"Another kedro run is running in this project: process {first.pid} on {socket.gethostname()}, started " in (
            second.stdout + second.stderr
        )
        assert set(mlflow.search_runs(search_all_experiments=True)["run_id"]) == runs_while_training  # B opened no MLflow run
    finally:
        first.kill()
        first.wait(timeout=60)

    runs = own_run.runs("traffic_lstm")
    dead = runs[~runs["run_id"].isin(before_runs["run_id"])]
    client = mlflow.MlflowClient()
    dead_ids = [*dead["run_id"], dead["tags.mlflow.parentRunId"].iloc[0]]
    assert {client.get_run(run_id).info.status for run_id in dead_ids} == {"RUNNING"}  # what the crash left: nothing FINISHED

    own_run.run(None, namespaces=["traffic_lstm.persistence"])  # the next run (one quick variant) takes over the dead lock

    for run_id in dead_ids:
        run = client.get_run(run_id)
        assert run.info.status == "KILLED"
        assert f"process {first.pid} on" in run.data.tags["killed_reason"]
    runs = own_run.runs("traffic_lstm")
    new = runs[~runs["run_id"].isin([*before_runs["run_id"], *dead["run_id"]])]
    assert list(new["tags.model"]) == ["persistence"] and set(new["status"]) == {"FINISHED"}
    assert client.get_run(new["tags.mlflow.parentRunId"].iloc[0]).info.status == "FINISHED"
    after_files = own_run.outputs(versioned)
    assert {path: after_files[path] for path in before_files} == before_files  # earlier versions intact
    assert not (own_run.path / "data" / ".kedro_run.lock").exists()


def test_a_second_run_in_the_same_project_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken_over(own_run: TempProject) -> None:
    lock = own_run.path / "data" / ".kedro_run.lock"
    lock.write_text(f"{socket.gethostname()} {os.getpid()} 2026-11-25 10:00:00")  # a live process holds it: this test
    mlflow.set_tracking_uri(own_run.tracking_uri)
    runs_before = mlflow.search_runs(search_all_experiments=True)["run_id"].tolist()
    with pytest.raises(RuntimeError, match=rf"process {os.getpid()} on .*, started 2026-11-25 10:00:00 .*separate copy"):
        own_run.run("traffic_lstm")
    assert mlflow.search_runs(search_all_experiments=True)["run_id"].tolist() == runs_before  # no MLflow run was opened
    assert lock.exists()  # still the other run's

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    lock.write_text(f"{socket.gethostname()} {finished.pid} 2026-11-25 10:00:00")  # left by a process that died
    own_run.run(None, namespaces=["traffic_lstm.persistence"])
    assert not lock.exists()  # taken over, and released when the run ended
    runs = own_run.runs("traffic_lstm")
    assert set(runs.loc[~runs["run_id"].isin(runs_before), "status"]) == {"FINISHED"}
