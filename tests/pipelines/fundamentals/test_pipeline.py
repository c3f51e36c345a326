"""``fundamentals`` end to end in the test environment (the course's points, iris, the Ames table; a few epochs)."""

from __future__ import annotations

import io

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

#: variant → (dataset tag, data_source tag): each run is tagged with the table it was trained on
DATA = {
    "linear_neuron": ("course_points_y_2x_minus_1", "generated"),
    "perceptron": ("scikit_learn_iris", "bundled"),
    "mlp_classifier": ("scikit_learn_iris", "bundled"),
    **dict.fromkeys(("mlp_regressor", "keras_mlp", "wide_deep", "wide_deep_two_inputs", "linear"), ("ames_housing_de_cock", "bundled")),
}
REGRESSORS = ("mlp_regressor", "keras_mlp", "wide_deep", "wide_deep_two_inputs", "linear")
NETWORKS = {"keras_mlp": 5_618, "wide_deep": 1_256, "wide_deep_two_inputs": 1_200}  # the course's parameter counts


@pytest.fixture(scope="module")
def finished_run(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("fundamentals")


def latest(project: TempProject, pattern: str) -> bytes:
    files = project.outputs(pattern)
    assert files, f"nothing matches {pattern}"
    return files[sorted(files)[-1]]


def test_one_finished_run_per_model_tagged_with_the_data_it_read(finished_run: TempProject) -> None:
    runs = finished_run.runs("fundamentals").set_index("tags.model")
    assert sorted(runs.index) == sorted(DATA)
    assert set(runs["status"]) == {"FINISHED"}
    for model, (dataset, source) in DATA.items():
        assert (runs.loc[model, "tags.dataset"], runs.loc[model, "tags.data_source"]) == (dataset, source), model
    assert runs["tags.git_sha"].notna().all()
    parents = set(runs["tags.mlflow.parentRunId"])
    assert len(parents) == 1 and mlflow.MlflowClient().get_run(parents.pop()).info.status == "FINISHED"


def test_every_model_logged_its_metrics(finished_run: TempProject) -> None:
    runs = finished_run.runs("fundamentals").set_index("tags.model")
    regression = runs.loc[list(REGRESSORS), ["metrics.test_rmse", "metrics.test_mae", "metrics.test_r2", "metrics.validation_rmse"]]
    assert regression.notna().all().all() and (regression["metrics.test_rmse"] >= regression["metrics.test_mae"]).all()
    assert runs.loc["perceptron", "metrics.test_accuracy"] == 1.0  # setosa is separable by its petals
    assert (runs.loc["perceptron", "metrics.prediction_example_1"], runs.loc["perceptron", "metrics.prediction_example_2"]) == (1, 0)
    assert 0 < runs.loc["mlp_classifier", "metrics.test_accuracy"] <= 1
    neuron = runs.loc["linear_neuron"]
    assert np.isfinite(neuron[["metrics.prediction_at_10", "metrics.weight", "metrics.bias"]].astype(float)).all()
    assert neuron["metrics.prediction_at_10"] == pytest.approx(10 * neuron["metrics.weight"] + neuron["metrics.bias"], abs=1e-4)
    assert runs["metrics.train_seconds"].notna().all()


def test_networks_have_epoch_curves_the_courses_sizes_and_a_model_that_loads(finished_run: TempProject) -> None:
    runs = finished_run.runs("fundamentals").set_index("tags.model")
    client = mlflow.MlflowClient()
    for model, n_params in NETWORKS.items():
        run_id = runs.loc[model, "run_id"]
        for metric in ("loss", "val_loss", "rmse", "val_rmse"):
            assert [point.step for point in client.get_metric_history(run_id, metric)] == [1, 2], (model, metric)
        assert runs.loc[model, "params.n_params"] == str(n_params)
    assert [point.step for point in client.get_metric_history(runs.loc["linear_neuron", "run_id"], "loss")] == list(range(1, 21))
    assert "val_loss" not in client.get_run(runs.loc["linear_neuron", "run_id"]).data.metrics  # six points, none held out
    assert len(client.get_metric_history(runs.loc["mlp_classifier", "run_id"], "loss")) == runs.loc["mlp_classifier", "metrics.epochs_run"]

    two_inputs = mlflow.keras.load_model(f"runs:/{runs.loc['wide_deep_two_inputs', 'run_id']}/model")
    rows = pd.read_parquet(io.BytesIO(finished_run.outputs("03_primary/fundamentals/regression_split.parquet").popitem()[1]))
    x = rows[rows["split"] == "train"].iloc[:, :8].to_numpy("float32")
    prediction = two_inputs({"wide": x[:, :5], "deep": x[:, 2:]})
    assert prediction.shape == (len(x), 1)
    normalization = two_inputs.get_layer("wide_normalization")  # adapted on the training rows, saved with the model
    np.testing.assert_allclose(np.ravel(normalization.mean), x[:, :5].mean(axis=0), rtol=1e-4)


def test_report_and_figures_are_written_and_logged_to_the_parent_run(finished_run: TempProject) -> None:
    names = {path.split("/")[-1] for path in finished_run.outputs("08_reporting/fundamentals/**/*")}
    expected = {"report.html", "comparison.csv", "course_comparison.csv", "fitted_line.png", "decision_boundary.png", "learning_curves.png"}
    assert expected <= names
    course = pd.read_csv(io.BytesIO(latest(finished_run, "08_reporting/fundamentals/course_comparison.csv/*/*")))
    measured = course.set_index(["model", "metric"])["measured"]
    assert measured[("keras_mlp", "n_params")] == 5618 and measured[("perceptron", "prediction_example_1")] == 1
    report = latest(finished_run, "08_reporting/fundamentals/report.html/*/*").decode()
    assert report.count("data:image/png;base64,") == 3
    assert "are for California housing" in report  # the base environment's table is not the course's
    assert "calls the flowers [2.0, 0.5] setosa, [3.0, 1.0] not setosa" in report
    parent_id = finished_run.runs("fundamentals")["tags.mlflow.parentRunId"].iloc[0]
    artifacts = {artifact.path for artifact in mlflow.MlflowClient().list_artifacts(parent_id, "report")}
    assert {f"report/{name}" for name in expected} <= artifacts
