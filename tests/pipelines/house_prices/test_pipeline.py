"""``house_prices`` end to end in the test environment (bundled data, 2 epochs), and on bad input."""

from __future__ import annotations

import io

import mlflow
import numpy as np
import pandas as pd
import pytest

from neural_pipelines.pipelines.house_prices.serving import normalize_columns
from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

NETWORKS = {"mlp_course", "mlp", "wide_deep"}
BASELINES = {"linear", "gradient_boosting"}
TEST_METRICS = ["metrics.test_mae", "metrics.test_rmse", "metrics.test_rmsle", "metrics.test_r2"]


@pytest.fixture(scope="module")
def finished_run(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("house_prices")


def latest(project: TempProject, pattern: str) -> bytes:
    """The newest version of a versioned output under data/."""
    files = project.outputs(pattern)
    assert files, f"nothing matches {pattern}"
    return files[sorted(files)[-1]]


def test_one_finished_mlflow_run_per_model_and_baseline(finished_run: TempProject) -> None:
    runs = finished_run.runs("house_prices")
    assert sorted(runs["tags.model"]) == sorted(NETWORKS | BASELINES)
    assert set(runs["status"]) == {"FINISHED"}
    assert runs[[*TEST_METRICS, "metrics.test_mae_complete_rows", "metrics.train_seconds"]].notna().all().all()
    assert (runs["metrics.test_rmse"] >= runs["metrics.test_mae"]).all()
    assert (runs["metrics.test_r2"] <= 1).all()
    assert set(runs["tags.data_source"]) == {"bundled"}
    assert set(runs["tags.dataset"]) == {"ames_housing_de_cock"}
    assert runs["tags.git_sha"].notna().all()
    parent_ids = set(runs["tags.mlflow.parentRunId"])
    assert len(parent_ids) == 1
    assert mlflow.MlflowClient().get_run(parent_ids.pop()).info.status == "FINISHED"


def test_metrics_in_mlflow_are_the_scores_of_the_saved_test_predictions(finished_run: TempProject) -> None:
    runs = finished_run.runs("house_prices").set_index("tags.model")
    for model in NETWORKS | BASELINES:
        predictions = pd.read_parquet(
            io.BytesIO(latest(finished_run, f"07_model_output/house_prices/{model}/test_predictions.parquet/*/*"))
        )
        error = predictions["actual"] - predictions["predicted"]
        assert runs.loc[model, "metrics.test_mae"] == pytest.approx(error.abs().mean())
        assert runs.loc[model, "metrics.test_rmse"] == pytest.approx(np.sqrt((error**2).mean()))
        assert len(predictions) == 585  # 20% of the 2,925 houses left after excluding 5 above 4,000 sq ft


def test_keras_runs_have_epoch_curves_params_and_both_models(finished_run: TempProject) -> None:
    runs = finished_run.runs("house_prices").set_index("tags.model")
    client = mlflow.MlflowClient()
    for model in NETWORKS:
        run_id = runs.loc[model, "run_id"]
        for metric in ("loss", "val_loss", "rmse", "val_rmse"):
            assert [point.step for point in client.get_metric_history(run_id, metric)] == [1, 2]
        params = client.get_run(run_id).data.params
        network = mlflow.keras.load_model(f"runs:/{run_id}/model")
        assert int(params["n_params"]) == network.count_params()
        assert params["compile.loss"] == ("mae" if model == "mlp_course" else "mse")
        assert params["features.numeric_only"] == str(model == "mlp_course")
    assert runs.loc["mlp_course", "params.n_params"] == "6593"  # 36 inputs → 64 → 64 → 1


def test_baselines_have_no_epochs_but_the_same_metrics(finished_run: TempProject) -> None:
    runs = finished_run.runs("house_prices").set_index("tags.model")
    client = mlflow.MlflowClient()
    for baseline in BASELINES:
        run = client.get_run(runs.loc[baseline, "run_id"])
        assert "loss" not in run.data.metrics
        assert run.data.params["features.numeric_only"] == "False"
    assert runs.loc["linear", "params.baseline.method"] == "ridge"


def test_the_logged_price_model_prices_one_raw_row_like_the_pipeline(finished_run: TempProject) -> None:
    runs = finished_run.runs("house_prices").set_index("tags.model")
    houses = pd.read_parquet(io.BytesIO(finished_run.outputs("03_primary/house_prices/houses_split.parquet").popitem()[1]))
    for model in ("mlp", "mlp_course", "linear"):
        predictions = pd.read_parquet(
            io.BytesIO(latest(finished_run, f"07_model_output/house_prices/{model}/test_predictions.parquet/*/*"))
        )
        row = predictions.iloc[3]
        price_model = mlflow.pyfunc.load_model(f"runs:/{runs.loc[model, 'run_id']}/price_model")
        columns = price_model.metadata.get_input_schema().input_names()
        raw = houses.loc[[row["row"]], columns]  # one raw row: text cells, gaps and all
        price = float(np.asarray(price_model.predict(raw))[0])
        assert price == pytest.approx(row["predicted"], rel=1e-6)
    assert len(mlflow.pyfunc.load_model(f"runs:/{runs.loc['mlp', 'run_id']}/price_model").metadata.get_input_schema().input_names()) == 79


def test_course_recipe_counts_and_shared_features(finished_run: TempProject) -> None:
    import json

    course = json.loads(latest(finished_run, "05_model_input/house_prices/mlp_course/input_summary.json/*/*"))
    # On the bundled De Cock data: 36 numeric features (Kaggle's 37 counted Id); 2,269 of the
    # 2,925 houses have no missing numeric value (the course: 1,121 of Kaggle's 1,460).
    assert (course["n_features"], course["n_model_inputs"]) == (36, 36)
    assert (course["n_rows"], course["n_usable_rows"]) == (2925, 2269)
    mlp = json.loads(latest(finished_run, "05_model_input/house_prices/mlp/input_summary.json/*/*"))
    assert mlp["n_features"] == 79 and mlp["n_usable_rows"] == 2925
    # baselines and both practitioner networks see identical arrays
    arrays = {
        model: np.load(io.BytesIO(finished_run.outputs(f"05_model_input/house_prices/{model}/model_input.npz").popitem()[1]))
        for model in ("mlp", "wide_deep", "linear", "gradient_boosting")
    }
    for model in ("wide_deep", "linear", "gradient_boosting"):
        for name in ("x_train", "y_train", "x_validation"):
            np.testing.assert_array_equal(arrays[model][name], arrays["mlp"][name])


def test_report_table_figures_and_importance_are_written_and_logged(finished_run: TempProject) -> None:
    outputs = finished_run.outputs("08_reporting/house_prices/**/*")
    names = {path.split("/")[-1] for path in outputs}
    expected = {
        "report.html",
        "comparison.csv",
        "permutation_importance.csv",
        "predicted_vs_actual.png",
        "residuals.png",
        "learning_curves.png",
        "feature_importance.png",
    }
    assert expected <= names
    comparison = pd.read_csv(io.BytesIO(latest(finished_run, "08_reporting/house_prices/comparison.csv/*/*")))
    assert sorted(comparison["model"]) == sorted(NETWORKS | BASELINES)
    assert comparison["test_mae"].is_monotonic_increasing
    importance = pd.read_csv(io.BytesIO(latest(finished_run, "08_reporting/house_prices/permutation_importance.csv/*/*")))
    assert set(importance["model"]) == {comparison["model"].iloc[0]}
    assert importance["importance_mean"].is_monotonic_decreasing
    report = latest(finished_run, "08_reporting/house_prices/report.html/*/*").decode()
    for model in NETWORKS | BASELINES:
        assert model in report
    assert report.count("data:image/png;base64,") == 4
    assert "2,269 of 2,925 rows have no missing value" in report
    parent_id = finished_run.runs("house_prices")["tags.mlflow.parentRunId"].iloc[0]
    artifacts = {artifact.path for artifact in mlflow.MlflowClient().list_artifacts(parent_id, "report")}
    assert {f"report/{name}" for name in expected} <= artifacts


USER_CSV_ENTRY = """
house_prices.raw_houses:
  type: pandas.CSVDataset
  filepath: {path}
  metadata:
    data_source: user
    kedro-viz: {{layer: raw}}
"""


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("Id,LotArea,Neighborhood\n1,8450,CollgCr\n", r"my_houses\.csv: column 'SalePrice': missing"),
        (
            "Id,LotArea,SalePrice\n" + "".join(f"{i},{8000 + i},{100000 + i}\n" for i in range(150)).replace("8003,", "8003 sq ft,"),
            r"my_houses\.csv: column 'LotArea': text in a numeric column on CSV lines 5 \(values '8003 sq ft'\)",
        ),
    ],
    ids=["no-price", "text-in-numeric"],
)
def test_bad_user_csv_fails_clearly_and_loses_nothing(own_run: TempProject, csv: str, message: str) -> None:
    before_files = own_run.outputs()
    before_runs = own_run.runs("house_prices")
    bad_csv = own_run.path / "my_houses.csv"
    bad_csv.write_text(csv)
    own_run.add_env("bad_input", {"catalog.yml": USER_CSV_ENTRY.format(path=bad_csv)})

    with pytest.raises(Exception, match=message) as error:
        own_run.run("house_prices", env="bad_input")
    assert "Fix:" in str(error.value)

    after_files = own_run.outputs()
    assert {path: after_files[path] for path in before_files} == before_files
    assert set(after_files) == set(before_files)  # ingest failed first: nothing new either
    after_runs = own_run.runs("house_prices").set_index("run_id")
    assert (after_runs.loc[before_runs["run_id"], "status"] == "FINISHED").all()
    assert len(after_runs) == len(before_runs)  # no variant run was opened
    newest = mlflow.search_runs(search_all_experiments=True, order_by=["attributes.start_time DESC"], max_results=1)
    assert newest["status"].iloc[0] == "FAILED"  # the kedro run itself is marked FAILED


def test_a_kaggle_train_csv_placed_for_the_full_env_flows_through_ingest(own_run: TempProject) -> None:
    """conf/full reads data/01_raw/house_prices/train.csv when it is there (no download): Kaggle names, an Id."""
    from kedro.framework.session import KedroSession

    from neural_pipelines.pipelines.house_prices.nodes import ingest_houses

    ingested_before = pd.read_parquet(io.BytesIO(own_run.outputs("02_intermediate/house_prices/houses.parquet").popitem()[1]))
    train_csv = own_run.path / "data/01_raw/house_prices/train.csv"
    train_csv.parent.mkdir(parents=True, exist_ok=True)
    ingested_before.rename_axis("Id").reset_index().to_csv(train_csv, index=False)
    try:
        with KedroSession.create(project_path=own_run.path, env="full") as session:
            context = session.load_context()
            frame = context.catalog.load("house_prices.raw_houses")
            assert context.catalog.get("house_prices.raw_houses").metadata["data_source"] == "download"
            ingested = ingest_houses(frame, context.params["house_prices"]["ingest"])
    finally:
        train_csv.unlink()
    # pandas reads the text None (MasVnrType: no veneer) as a missing value, as it does in Kaggle's file
    expected = normalize_columns(ingested_before).replace({"None": np.nan})
    pd.testing.assert_frame_equal(ingested, expected, check_dtype=False)
