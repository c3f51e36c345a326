"""run_study: every trial a nested MLflow run, pruning that MLflow reports truthfully, resume after a kill, same seed same trials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from neural_pipelines.hooks import mark_dead_runs_killed
from neural_pipelines.tuning import TrialReporter, TuningSettings, run_study


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One throw-away MLflow store for this module (creating a store costs seconds; each test reads its own runs)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(autouse=True)
def _tracking(tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(EXPERIMENT)  # not the experiment an earlier test's kedro run left active in another store


EXPERIMENT = "tuning_tests"


def settings(tmp_path: Path, **changes) -> TuningSettings:
    values = {
        "study_name": "toy",
        "n_trials": 4,
        "seed": 7,
        "storage": str(tmp_path / "optuna.db"),
        "sampler_startup_trials": 2,
        "pruner": {"enabled": False},
        "search_space": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "n": {"type": "int", "low": 1, "high": 3}},
    }
    return TuningSettings.model_validate({**values, **changes})


def curve(values: dict, reporter: TrialReporter) -> float:
    """A toy training: 3 'epochs' whose val_loss falls from x + n towards it."""
    for epoch in (1, 2, 3):
        reporter.report(epoch, {"val_loss": values["x"] + values["n"] / epoch, "loss": values["x"]})
    return values["x"] + values["n"] / 3


def trial_runs(parent_id: str) -> list[mlflow.entities.Run]:
    runs = mlflow.MlflowClient().search_runs(
        [mlflow.get_experiment_by_name(EXPERIMENT).experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    return sorted(runs, key=lambda run: int(run.data.tags["trial_number"]))


def test_each_trial_is_a_nested_run_with_its_values_epoch_curve_objective_and_state(tmp_path: Path) -> None:
    with mlflow.start_run(run_name="tuning", tags={"pipeline": "toy_tune", "data_source": "generated"}) as parent:
        study = run_study(curve, settings(tmp_path, n_trials=3), tags={"extra": "yes"})
    runs = trial_runs(parent.info.run_id)
    assert [run.info.run_name for run in runs] == [f"toy.trial_{n}" for n in range(3)]
    client = mlflow.MlflowClient()
    for run, trial in zip(runs, study.trials, strict=True):
        assert run.info.status == "FINISHED"
        assert run.data.params == {"x": str(trial.params["x"]), "n": str(trial.params["n"])}
        assert run.data.tags["trial_state"] == "COMPLETE" and run.data.tags["pruned"] == "false"
        assert run.data.tags["pipeline"] == "toy_tune" and run.data.tags["data_source"] == "generated" and run.data.tags["extra"] == "yes"
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert [(point.step, point.value) for point in history] == [
            (epoch, trial.params["x"] + trial.params["n"] / epoch) for epoch in (1, 2, 3)
        ]
        assert run.data.metrics["objective"] == trial.value
        assert trial.user_attrs["mlflow_run_id"] == run.info.run_id


def test_a_pruned_trial_is_a_finished_run_tagged_pruned_and_a_failed_one_failed(tmp_path: Path) -> None:
    tuning = settings(tmp_path, n_trials=2, pruner={"n_startup_trials": 1, "n_warmup_steps": 0})
    study = optuna.create_study(study_name="toy", storage=tuning.storage_url())
    study.enqueue_trial({"x": 0.1, "n": 1})
    study.enqueue_trial({"x": 0.9, "n": 3})  # worse than the first at every epoch: pruned at epoch 1
    with mlflow.start_run() as parent:
        study = run_study(curve, tuning)
    assert [trial.state for trial in study.trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    pruned = trial_runs(parent.info.run_id)[1]
    assert pruned.info.status == "FINISHED" and pruned.data.tags["trial_state"] == "PRUNED" and pruned.data.tags["pruned"] == "true"
    assert len(mlflow.MlflowClient().get_metric_history(pruned.info.run_id, "val_loss")) == 1
    assert "objective" not in pruned.data.metrics

    def broken(values: dict, reporter: TrialReporter) -> float:
        raise RuntimeError("diverged")

    with mlflow.start_run() as parent, pytest.raises(RuntimeError, match="diverged"):
        run_study(broken, settings(tmp_path, study_name="broken", n_trials=1))
    failed = trial_runs(parent.info.run_id)[0]
    assert failed.info.status == "FAILED" and failed.data.tags["trial_state"] == "FAIL"


KILLED_STUDY = """
import os, time
import mlflow
from neural_pipelines.tuning import TuningSettings, run_study
tuning = TuningSettings.model_validate({settings!r})
def objective(values, reporter):
    reporter.report(1, {{"val_loss": values["x"]}})
    if len(os.listdir({marks!r})) == 2:  # the third trial: tell the test, then hang until killed
        open(os.path.join({marks!r}, "killed_trial"), "w").write(repr(values))
        time.sleep(600)
    open(os.path.join({marks!r}, f"trial_{{len(os.listdir({marks!r}))}}"), "w").close()
    return values["x"]
with mlflow.start_run(run_name="tuning"):
    run_study(objective, tuning)
"""


def test_a_study_killed_mid_trial_resumes_rerunning_that_trial_and_stays_within_budget(tmp_path: Path) -> None:
    tuning = settings(tmp_path, n_trials=4, search_space={"x": {"type": "float", "low": 0.0, "high": 1.0}})
    marks = tmp_path / "marks"
    marks.mkdir()
    script = KILLED_STUDY.format(settings=tuning.model_dump(), marks=str(marks))
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], env={**os.environ, "MLFLOW_EXPERIMENT_NAME": EXPERIMENT})
    deadline = time.monotonic() + 60
    while not (marks / "killed_trial").exists():
        assert process.poll() is None and time.monotonic() < deadline, "the study should reach its third trial"
        time.sleep(0.2)
    time.sleep(0.5)  # the trial's metric is written before the marker: let it land
    process.send_signal(signal.SIGKILL)
    process.wait()
    storage = tuning.storage_url()
    stored = optuna.load_study(study_name="toy", storage=storage)
    assert [trial.state for trial in stored.trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.RUNNING]
    interrupted = stored.trials[2].params

    with mlflow.start_run(run_name="resumed") as resumed:
        study = run_study(lambda values, reporter: values["x"], tuning)
    states = [trial.state for trial in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert study.trials[3].params == interrupted and study.trials[3].user_attrs["retry_of"] == 2
    assert study.trials[4].params != interrupted  # a fresh draw, not a repeat of the first trials
    assert study.trials[4].params not in [trial.params for trial in study.trials[:2]]
    assert len(trial_runs(resumed.info.run_id)) == 2  # 4 finished in all: the budget, not 4 more

    # the killed process's MLflow runs (tuning and trial) are marked KILLED at the next start, as the hook does for kedro runs
    experiment = mlflow.get_experiment_by_name(EXPERIMENT).experiment_id
    killed = mark_dead_runs_killed(experiment, resumed.info.run_id)
    assert len(killed) == 1  # the trial's run (the test's own "tuning" run has no process tags)
    assert mlflow.MlflowClient().get_run(killed[0]).data.tags["trial_number"] == "2"

    # rerun again: the budget is spent, nothing runs
    assert len(run_study(curve, tuning).trials) == 5


def test_the_same_seed_draws_the_same_trials_and_a_changed_setup_is_not_resumed(tmp_path: Path) -> None:
    first = run_study(curve, settings(tmp_path, n_trials=3, storage=str(tmp_path / "a.db")), fingerprint="setup-1")
    second = run_study(curve, settings(tmp_path, n_trials=3, storage=str(tmp_path / "b.db")), fingerprint="setup-1")
    assert [trial.params for trial in first.trials] == [trial.params for trial in second.trials]
    assert [trial.value for trial in first.trials] == [trial.value for trial in second.trials]
    assert first.best_params == second.best_params and len({trial.params["x"] for trial in first.trials}) == 3

    with pytest.raises(ValueError, match=r"was run with another search space, base parameters or data.*new tuning\.study_name"):
        run_study(curve, settings(tmp_path, n_trials=4, storage=str(tmp_path / "a.db")), fingerprint="setup-2")
    assert len(optuna.load_study(study_name="toy", storage=f"sqlite:///{tmp_path / 'a.db'}").trials) == 3  # refused before any trial


def test_a_trial_stopped_by_ctrl_c_is_killed_in_mlflow_and_trained_again_first_on_the_next_run(tmp_path: Path) -> None:
    tuning = settings(tmp_path, study_name="interrupted", n_trials=2)

    def interrupted(values: dict, reporter: TrialReporter) -> float:
        raise KeyboardInterrupt

    with mlflow.start_run() as parent, pytest.raises(KeyboardInterrupt):
        run_study(interrupted, tuning)
    assert trial_runs(parent.info.run_id)[0].info.status == "KILLED"
    study = run_study(curve, tuning)
    assert [trial.state for trial in study.trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert study.trials[1].params == study.trials[0].params and study.trials[1].user_attrs["retry_of"] == 0
