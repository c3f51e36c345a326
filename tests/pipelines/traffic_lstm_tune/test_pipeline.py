"""``traffic_lstm_tune`` end to end in the test environment: three trials of the test series' ``lstm_calendar``, each a nested run."""

from __future__ import annotations

import mlflow
import optuna
import pytest
import yaml

from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

N_TRIALS = 3  # conf/test/parameters_traffic_lstm_tune.yml
SEARCHED = {"model.units", "model.hidden_units", "optimizer.learning_rate", "training.batch_size", "features.history_hours"}


@pytest.fixture(scope="module")
def finished_run(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("traffic_lstm_tune")


def test_parent_run_then_tuning_run_then_one_nested_run_per_trial(finished_run: TempProject) -> None:
    runs = finished_run.runs("traffic_lstm_tune")
    tuning = runs[runs["tags.mlflow.runName"] == "traffic_lstm_tune.lstm_calendar"]
    assert len(tuning) == 1 and tuning["status"].iloc[0] == "FINISHED"
    assert tuning["tags.data_source"].iloc[0] == "bundled" and tuning["tags.model"].iloc[0] == "lstm_calendar"
    parent = mlflow.MlflowClient().get_run(tuning["tags.mlflow.parentRunId"].iloc[0])
    assert parent.info.run_name == "traffic_lstm_tune" and parent.info.status == "FINISHED"

    trials = runs[runs["tags.mlflow.parentRunId"] == tuning["run_id"].iloc[0]].sort_values("tags.trial_number")
    assert list(trials["tags.mlflow.runName"]) == [f"traffic_lstm_tune.lstm_calendar.trial_{n}" for n in range(N_TRIALS)]
    assert set(trials["status"]) == {"FINISHED"}
    assert set(trials["tags.trial_state"]) == {"COMPLETE"}  # the test sizes do not prune
    assert set(trials["tags.data_source"]) == {"bundled"} and set(trials["tags.model"]) == {"lstm_calendar"}
    client = mlflow.MlflowClient()
    for _, trial in trials.iterrows():
        params = client.get_run(trial["run_id"]).data.params
        assert set(params) >= SEARCHED and params["training.max_epochs"] == "3"
        history = client.get_metric_history(trial["run_id"], "val_loss")
        assert all(point.value > 0 for point in history)
        assert [point.step for point in history] == [1, 2, 3]
        assert trial["metrics.objective"] == history[-1].value  # no early stopping in the test sizes: the last epoch is kept


def test_stored_study_matches_the_runs_and_the_best_parameters_file(finished_run: TempProject) -> None:
    storage = f"sqlite:///{finished_run.path / 'data/07_model_output/traffic_lstm_tune/optuna_test.db'}"
    study = optuna.load_study(study_name="traffic_lstm_tune.lstm_calendar", storage=storage)
    assert len(study.trials) == N_TRIALS
    outputs = finished_run.outputs("08_reporting/traffic_lstm_tune/**/*")
    best_file = next(content for path, content in outputs.items() if path.endswith("best_parameters.yml")).decode()
    assert "conf/local/parameters_traffic_lstm_tuned.yml" in best_file
    best = yaml.safe_load(best_file)["traffic_lstm"]["lstm_calendar"]
    values = study.best_params
    assert best == {
        "model": {"units": values["model.units"], "hidden_units": values["model.hidden_units"]},
        "optimizer": {"learning_rate": values["optimizer.learning_rate"]},
        "training": {"batch_size": values["training.batch_size"]},
        "features": {"history_hours": values["features.history_hours"]},
    }
    runs = finished_run.runs("traffic_lstm_tune").set_index("tags.mlflow.runName")
    assert runs.loc[f"traffic_lstm_tune.lstm_calendar.trial_{study.best_trial.number}", "metrics.objective"] == study.best_value

    names = {path.split("/")[-1] for path in outputs}
    assert {"report.html", "optimization_history.png", "param_importances.png", "trials.csv", "best_parameters.yml"} <= names
    report = next(content for path, content in outputs.items() if path.endswith("report.html")).decode()
    assert report.count("data:image/png;base64,") == 2
    assert f"trial {study.best_trial.number}" in report and "conf/local/parameters_traffic_lstm_tuned.yml" in report


def test_copied_best_parameters_reach_the_variant_and_a_rerun_runs_no_more_trials(own_run: TempProject) -> None:
    from kedro.config import OmegaConfigLoader

    from neural_pipelines.config import ProjectConfigLoader

    best_file = next(content for path, content in own_run.outputs("**/best_parameters.yml").items())
    (own_run.path / "conf/local/parameters_traffic_lstm_tuned.yml").write_bytes(best_file)
    loader = ProjectConfigLoader(
        str(own_run.path / "conf"), base_env="base", default_run_env="local", merge_strategy={"parameters": "soft"}
    )
    assert isinstance(loader, OmegaConfigLoader)
    tuned = loader["parameters"]["traffic_lstm"]["lstm_calendar"]
    expected = yaml.safe_load(best_file)["traffic_lstm"]["lstm_calendar"]
    assert tuned["model"] == {"architecture": "lstm_calendar", **expected["model"]}
    assert tuned["optimizer"] == {"name": "adam", **expected["optimizer"]}
    assert tuned["features"]["history_hours"] == expected["features"]["history_hours"] and tuned["features"]["target_hour_lags"] == [
        168,
        24,
    ]

    # the budget is already spent: a rerun resumes the stored study and trains nothing
    before = own_run.runs("traffic_lstm_tune")
    own_run.run("traffic_lstm_tune")
    after = own_run.runs("traffic_lstm_tune")
    new = after[~after["run_id"].isin(before["run_id"])]
    assert sorted(new["tags.mlflow.runName"]) == ["traffic_lstm_tune.lstm_calendar"]  # the tuning run alone, no trial
