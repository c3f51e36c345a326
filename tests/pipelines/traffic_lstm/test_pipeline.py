"""``traffic_lstm`` end to end in the test environment (first 1,200 hours, 2 epochs), and on bad input."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

NETWORKS = {"dense", "simple_rnn", "lstm", "lstm_calendar"}
REGRESSORS = {"gradient_boosting"}
BASELINES = {"persistence", "seasonal_naive_24h", "seasonal_naive_168h"}
TEST_METRICS = ("metrics.test_mse", "metrics.test_mae", "metrics.test_rmse")


@pytest.fixture(scope="module")
def finished_run(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("traffic_lstm")


def test_one_finished_mlflow_run_per_model_and_baseline(finished_run: TempProject) -> None:
    runs = finished_run.runs("traffic_lstm")
    assert sorted(runs["tags.model"]) == sorted(NETWORKS | REGRESSORS | BASELINES)
    assert set(runs["status"]) == {"FINISHED"}
    assert runs[list(TEST_METRICS)].notna().all().all()
    # MSE on the 0-1 scale; MAE/RMSE in vehicles/hour, so far larger, RMSE >= MAE.
    assert (runs["metrics.test_mse"] < 1).all()
    assert (runs["metrics.test_rmse"] >= runs["metrics.test_mae"]).all()
    assert set(runs["tags.data_source"]) == {"bundled"}
    assert set(runs["tags.pipeline"]) == {"traffic_lstm"}
    assert runs["tags.git_sha"].notna().all()
    # every variant run is nested under the one run kedro-mlflow opened for `kedro run`
    parent_ids = set(runs["tags.mlflow.parentRunId"])
    assert len(parent_ids) == 1
    parent = mlflow.MlflowClient().get_run(parent_ids.pop())
    assert parent.info.status == "FINISHED"
    assert "tags.model" not in parent.data.tags


def test_keras_runs_have_epoch_curves_params_and_a_loadable_model(finished_run: TempProject) -> None:
    runs = finished_run.runs("traffic_lstm").set_index("tags.model")
    client = mlflow.MlflowClient()
    expected_params = {"dense": "520", "simple_rnn": "696", "lstm": "1560", "lstm_calendar": "11905"}
    for model, n_params in expected_params.items():
        run_id = runs.loc[model, "run_id"]
        metric = "mse" if model == "lstm_calendar" else "mae"  # lstm_calendar trains on MAE and reports MSE
        for name in ("loss", "val_loss", metric, f"val_{metric}"):
            assert [point.step for point in client.get_metric_history(run_id, name)] == [1, 2]
        params = client.get_run(run_id).data.params
        assert params["n_params"] == n_params
        assert params["model.architecture"] == model
        assert params["training.batch_size"] == "32"
        assert runs.loc[model, "metrics.train_seconds"] > 0
    lstm = mlflow.keras.load_model(f"runs:/{runs.loc['lstm', 'run_id']}/model")
    forecast = lstm.predict(np.zeros((3, 6, 1), dtype="float32"), verbose=0)
    assert forecast.shape == (3, 24)
    calendar = mlflow.keras.load_model(f"runs:/{runs.loc['lstm_calendar', 'run_id']}/model")
    inputs = {"history": np.zeros((3, 168, 1), dtype="float32"), "target_hours": np.zeros((3, 24, 6), dtype="float32")}
    assert calendar.predict(inputs, verbose=0).shape == (3, 24)
    params = client.get_run(runs.loc["lstm_calendar", "run_id"]).data.params
    assert params["features.history_hours"] == "168" and params["features.target_hour_lags"] == "[168, 24]"
    assert params["compile.loss"] == "mae"


def test_gradient_boosting_is_fitted_on_the_calendar_features_and_logged(finished_run: TempProject) -> None:
    runs = finished_run.runs("traffic_lstm").set_index("tags.model")
    client = mlflow.MlflowClient()
    run_id = runs.loc["gradient_boosting", "run_id"]
    run = client.get_run(run_id).data
    assert run.params["baseline.method"] == "hist_gradient_boosting" and run.params["features.history_hours"] == "24"
    assert run.metrics["train_seconds"] > 0 and "loss" not in run.metrics
    artifacts = [artifact.path for artifact in client.list_artifacts(run_id, "model")]
    assert artifacts == ["model/regressor.pkl"]
    # scored on exactly the windows of the others: the same number of test windows and horizons
    horizon = client.get_metric_history(run_id, "test_mae_by_horizon")
    assert [point.step for point in horizon] == list(range(1, 25))


def test_baselines_have_no_training_but_the_same_test_metrics(finished_run: TempProject) -> None:
    runs = finished_run.runs("traffic_lstm").set_index("tags.model")
    client = mlflow.MlflowClient()
    for baseline in BASELINES:
        metrics = client.get_run(runs.loc[baseline, "run_id"]).data.metrics
        assert "loss" not in metrics
        horizon = client.get_metric_history(runs.loc[baseline, "run_id"], "test_mae_by_horizon")
        assert [point.step for point in horizon] == list(range(1, 25))


def test_report_and_figures_are_written_and_logged(finished_run: TempProject) -> None:
    outputs = finished_run.outputs("08_reporting/traffic_lstm/**/*")
    names = {path.split("/")[-1] for path in outputs}
    assert {"report.html", "comparison.csv", "learning_curves.png", "mae_by_horizon.png", "test_week_forecast.png"} <= names
    report = next(content for path, content in outputs.items() if path.endswith("report.html")).decode()
    for model in NETWORKS | REGRESSORS | BASELINES:
        assert model in report
    assert "The best model, <b>" in report and "seasonal_naive_168h (the naive forecast it is judged against)" in report
    assert report.count("data:image/png;base64,") == 3
    runs = finished_run.runs("traffic_lstm")
    parent_id = runs["tags.mlflow.parentRunId"].iloc[0]
    artifacts = {artifact.path for artifact in mlflow.MlflowClient().list_artifacts(parent_id, "report")}
    assert "report/report.html" in artifacts
    assert "report/comparison.csv" in artifacts


def test_same_seed_same_metrics_whole_or_one_variant_alone_and_a_new_version_per_run(own_run: TempProject) -> None:
    first = own_run.runs("traffic_lstm")
    models_before = own_run.outputs("06_models/traffic_lstm/lstm.keras/*/*")
    own_run.run("traffic_lstm")
    runs = own_run.runs("traffic_lstm")
    second = runs[~runs["run_id"].isin(first["run_id"])]
    assert len(second) == len(first) == 8
    by_model = lambda frame: frame.set_index("tags.model")[list(TEST_METRICS)].sort_index()  # noqa: E731 (a one-line view, used twice)
    assert by_model(second).equals(by_model(first))
    models_after = own_run.outputs("06_models/traffic_lstm/lstm.keras/*/*")
    assert len(models_after) == len(models_before) + 1  # versioned: the first model is still there
    assert set(models_before) < set(models_after)
    # the registry: the same test_mae is not better, so the champion stays and the new version is the challenger
    registered = mlflow.MlflowClient().get_registered_model("traffic_lstm")
    assert {alias: int(version) for alias, version in registered.aliases.items()} == {"champion": 1, "challenger": 2}

    # one variant alone, on the data the full run left: the same numbers, told apart by the parent's name
    own_run.run(None, namespaces=["traffic_lstm.dense"])
    runs = own_run.runs("traffic_lstm")
    alone = runs[~runs["run_id"].isin(set(first["run_id"]) | set(second["run_id"]))]
    assert list(alone["tags.model"]) == ["dense"] and list(alone["status"]) == ["FINISHED"]
    assert by_model(alone).equals(by_model(first).loc[["dense"]])
    client = mlflow.MlflowClient()
    earlier = first.set_index("tags.model").loc["dense", "run_id"]
    losses = [[point.value for point in client.get_metric_history(run_id, "loss")] for run_id in (earlier, alone["run_id"].iloc[0])]
    assert losses[0] == losses[1] and len(losses[0]) == 2
    assert alone["tags.data_source"].iloc[0] == "bundled" and alone["tags.mlflow.runName"].iloc[0] == "traffic_lstm.dense"
    assert client.get_run(alone["tags.mlflow.parentRunId"].iloc[0]).info.run_name == "all [namespaces traffic_lstm.dense]"


USER_CSV_ENTRY = """
traffic_lstm.raw_traffic:
  type: pandas.CSVDataset
  filepath: {path}
  metadata:
    data_source: user
    kedro-viz: {{layer: raw}}
"""


def test_bad_user_csv_fails_clearly_and_loses_nothing(own_run: TempProject) -> None:
    before_files = own_run.outputs()
    before_runs = own_run.runs("traffic_lstm")
    bad_csv = own_run.path / "my_traffic.csv"
    bad_csv.write_text("datetime,volume\n2024-01-01 00:00:00,5\n")
    own_run.add_env(
        "bad_input", {"catalog.yml": USER_CSV_ENTRY.format(path=bad_csv), "parameters.yml": "traffic_lstm:\n  training: {max_epochs: 1}\n"}
    )

    with pytest.raises(Exception, match=r"my_traffic\.csv: column 'traffic_volume': missing") as error:
        own_run.run("traffic_lstm", env="bad_input")
    assert "Fix:" in str(error.value)

    # Earlier versioned outputs are byte-for-byte intact (new files may only be added).
    after_files = own_run.outputs()
    assert {path: after_files[path] for path in before_files} == before_files
    # Earlier runs are untouched; the failed kedro run is FAILED. The networks' shapes come from
    # the validated windows, so no variant run was opened before the data failed.
    after_runs = own_run.runs("traffic_lstm").set_index("run_id")
    assert (after_runs.loc[before_runs["run_id"], "status"] == "FINISHED").all()
    assert after_runs.drop(index=before_runs["run_id"]).empty
    parents = mlflow.search_runs(
        search_all_experiments=True, filter_string="attributes.run_name = 'traffic_lstm'", order_by=["attributes.start_time DESC"]
    )
    assert len(parents) == 2 and list(parents["status"]) == ["FAILED", "FINISHED"]


def uci_traffic_csv(path: Path, days: int = 60) -> pd.DataFrame:
    """A small file in the UCI Metro Interstate format: every column, the holiday named on its date's
    first hour only ('None' elsewhere), and an hour repeated per weather condition."""
    hours = pd.date_range("2012-10-02 00:00", periods=days * 24, freq="h")
    volume = np.clip(np.round(3000 + 2500 * np.sin(2 * np.pi * (hours.hour.to_numpy() - 6) / 24)), 100, None)
    frame = pd.DataFrame(
        {
            "holiday": np.where(hours == pd.Timestamp("2012-11-12 00:00"), "Veterans Day", "None"),
            "temp": 288.3,
            "rain_1h": 0.0,
            "snow_1h": 0.0,
            "clouds_all": 40,
            "weather_main": "Clouds",
            "weather_description": "scattered clouds",
            "date_time": hours.strftime("%Y-%m-%d %H:%M:%S"),
            "traffic_volume": volume.astype(int),
        }
    )
    repeated = frame.iloc[[30]].assign(weather_main="Mist", weather_description="mist")
    frame = pd.concat([frame.iloc[:31], repeated, frame.iloc[31:]], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, compression="gzip")
    return frame


def test_the_uci_file_placed_for_the_full_env_gives_holiday_aware_calendar_features(shared_project: TempProject) -> None:
    """conf/full reads the UCI file from data/01_raw when it is there; its holiday column reaches the calendar features."""
    from kedro.framework.session import KedroSession

    from neural_pipelines.pipelines.traffic_lstm import nodes

    uci_file = shared_project.path / "data/01_raw/traffic_lstm/Metro_Interstate_Traffic_Volume.csv.gz"
    with shared_project.exclusive():  # no other worker forks the project while the file is there
        uci_traffic_csv(uci_file)
        try:
            with KedroSession.create(project_path=shared_project.path, env="full") as session:
                context = session.load_context()
                raw = context.catalog.load("traffic_lstm.raw_traffic")
                params = context.params["traffic_lstm"]
        finally:
            uci_file.unlink()
    preprocessing = nodes.TrafficPreprocessing.model_validate(dict(params["preprocessing"]))  # validated already, or a dict
    traffic = nodes.ingest_traffic(raw, nodes.TrafficIngest.model_validate(dict(params["ingest"])))
    assert len(traffic) == 60 * 24  # the repeated hour collapsed
    scaled, _ = nodes.split_and_scale(nodes.regularize_hourly(traffic, preprocessing), preprocessing)
    windows = nodes.make_windows(scaled, preprocessing)
    for variant, history in (("lstm_calendar", 168), ("gradient_boosting", 24)):
        features = nodes.TrafficFeatures.model_validate(dict(params[variant]["features"]))
        assert features.calendar == ["hour_of_day", "day_of_week", "holiday"]
        x = nodes.window_features(scaled, windows, features, preprocessing)["x_train"]
        assert x["history"].shape[1:] == (history, 1) and x["target_hours"].shape[1:] == (24, 7)  # 2 + 2 + holiday + 2 lags
        start = windows["target_start_train"]
        on_holiday = scaled["datetime"].dt.normalize().to_numpy()[start[:, None] + np.arange(24)] == np.datetime64("2012-11-12")
        np.testing.assert_array_equal(x["target_hours"][..., 4], on_holiday.astype("float32"))
        assert on_holiday.any()
