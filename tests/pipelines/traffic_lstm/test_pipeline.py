"""``traffic_lstm`` end to end in the test environment (first 1,200 hours, 2 epochs), and on bad input."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest

from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

NETWORKS = {"dense", "simple_rnn", "lstm"}
BASELINES = {"persistence", "seasonal_naive_24h", "seasonal_naive_168h"}
TEST_METRICS = ("metrics.test_mse", "metrics.test_mae", "metrics.test_rmse")


@pytest.fixture(scope="module")
def finished_run(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("traffic_lstm")


def test_one_finished_mlflow_run_per_model_and_baseline(finished_run: TempProject) -> None:
    runs = finished_run.runs("traffic_lstm")
    assert sorted(runs["tags.model"]) == sorted(NETWORKS | BASELINES)
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
    expected_params = {"dense": "520", "simple_rnn": "696", "lstm": "1560"}
    for model, n_params in expected_params.items():
        run_id = runs.loc[model, "run_id"]
        for metric in ("loss", "val_loss", "mae", "val_mae"):
            assert [point.step for point in client.get_metric_history(run_id, metric)] == [1, 2]
        params = client.get_run(run_id).data.params
        assert params["n_params"] == n_params
        assert params["model.architecture"] == model
        assert params["training.batch_size"] == "32"
        assert runs.loc[model, "metrics.train_seconds"] > 0
    lstm = mlflow.keras.load_model(f"runs:/{runs.loc['lstm', 'run_id']}/model")
    forecast = lstm.predict(np.zeros((3, 6, 1), dtype="float32"), verbose=0)
    assert forecast.shape == (3, 24)


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
    for model in NETWORKS | BASELINES:
        assert model in report
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
    assert len(second) == len(first) == 6
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
