"""From run to use: registered champions, the inference pipelines on new data, and a champion served over HTTP.

The experiments run once per session in the shared project (``ensure_ran``); the inference
pipelines run in a second, fresh project that uses the shared project's MLflow store, as a
user's other checkout pointed at the same tracking server would: the registry is the only
thing they share.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.framework.startup import bootstrap_project

from neural_pipelines.datasets.image_folder import png_bytes
from neural_pipelines.pipeline_registry import register_pipelines
from neural_pipelines.pipelines.house_prices_predict.nodes import PredictSettings, price_houses
from neural_pipelines.registry import load_registered_model
from neural_pipelines.validation import DataValidationError
from tests.conftest import PROJECT_ROOT, TempProject, make_temp_project

pytestmark = pytest.mark.pipeline

#: Registered model → (metric, greater is better): each experiment's parameters' registry block.
REGISTERED = {
    "traffic_lstm": ("test_mae", False),
    "house_prices": ("test_mae", False),
    "image_cnn": ("test_accuracy", True),
    "horse_or_human": ("test_accuracy", True),
    "vgg16_finetune": ("test_accuracy", True),
}
#: Kaggle's test.csv has 1,459 houses (Ids 1461–2919).
KAGGLE_TEST_ROWS = 1459


@pytest.fixture(scope="module")
def trained(shared_project: TempProject) -> TempProject:
    for pipeline in REGISTERED:
        shared_project.ensure_ran(pipeline)
    return shared_project


@pytest.fixture(scope="module")
def consumer(trained: TempProject, tmp_path_factory: pytest.TempPathFactory) -> TempProject:
    """A fresh project whose MLflow store is the trained one's."""
    project = make_temp_project(tmp_path_factory.mktemp("consumer"))
    project.tracking_uri = trained.tracking_uri
    return project


def kaggle_test_table(trained: TempProject) -> pd.DataFrame:
    """1,459 houses in Kaggle's test.csv layout: ``Id`` then the feature columns, no SalePrice, Kaggle's kinds of gaps.

    Rows are drawn from the ingested Ames table; like Kaggle's file, numeric columns have
    ``NA`` cells (LotFrontage, GarageYrBlt, MasVnrArea, BsmtFinSF1, GarageCars …) and text
    columns ``NA`` meaning "none" (Alley, PoolQC) or unknown (MSZoning).
    """
    houses = pd.read_parquet(trained.path / "data/02_intermediate/house_prices/houses.parquet").drop(columns=["SalePrice"])
    table = houses.sample(KAGGLE_TEST_ROWS, replace=True, random_state=1).reset_index(drop=True)
    rng = np.random.default_rng(1)
    for column, share in {"LotFrontage": 0.15, "GarageYrBlt": 0.05, "MasVnrArea": 0.01, "BsmtFinSF1": 0.001, "GarageCars": 0.001}.items():
        table.loc[rng.random(len(table)) < share, column] = np.nan
    for column in ("MSZoning", "Alley", "PoolQC", "Functional"):
        table.loc[rng.random(len(table)) < 0.05, column] = np.nan
    table.insert(0, "Id", np.arange(1461, 1461 + KAGGLE_TEST_ROWS))
    return table


@pytest.fixture(scope="module")
def submission(trained: TempProject, consumer: TempProject) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``kedro run --pipelines=house_prices_predict`` on a Kaggle-layout test.csv: (the table, the submission)."""
    table = kaggle_test_table(trained).assign(Notes="an unused column")
    path = consumer.path / "data/01_raw/house_prices/test.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, na_rep="NA")
    consumer.run("house_prices_predict")
    written = consumer.outputs("07_model_output/house_prices_predict/submission.csv/*/*")
    assert len(written) == 1
    return table, pd.read_csv(consumer.path / next(iter(written)))


def test_every_experiment_registered_its_best_model_as_champion(trained: TempProject) -> None:
    client = mlflow.MlflowClient(tracking_uri=trained.tracking_uri, registry_uri=trained.tracking_uri)
    for name, (metric, greater) in REGISTERED.items():
        champion = client.get_model_version_by_alias(name, "champion")
        runs = trained.runs(name)
        models = runs[runs["tags.model"].isin(champion_eligible(trained, name, runs))]
        best_value = models[f"metrics.{metric}"].max() if greater else models[f"metrics.{metric}"].min()
        tied = models[models[f"metrics.{metric}"] == best_value]  # a tie goes to the first in the parameter file
        assert champion.tags["variant"] in set(tied["tags.model"]), name
        assert float(champion.tags["metric_value"]) == pytest.approx(best_value)
        assert champion.tags["dataset"] == tied["tags.dataset"].iloc[0] and champion.tags["metric"] == metric
        assert champion.run_id in set(tied["run_id"])
        assert "Model registry" in latest_text(trained, f"08_reporting/{name}/report.html/*/*")
        registration = json.loads(latest_text(trained, f"08_reporting/{name}/registration.json/*/*"))
        assert (registration["alias"], registration["version"]) == ("champion", int(champion.version))


def champion_eligible(project: TempProject, name: str, runs: pd.DataFrame) -> set[str]:
    """Variants that are models (traffic's naive baselines are not; every house_prices baseline is a price model)."""
    if name != "traffic_lstm":
        return set(runs["tags.model"])
    return {model for model in runs["tags.model"] if (project.path / f"data/06_models/traffic_lstm/{model}.keras").exists()}


def latest_text(project: TempProject, pattern: str) -> str:
    files = project.outputs(pattern)
    return files[sorted(files)[-1]].decode()


def test_house_prices_predict_prices_every_kaggle_test_row(submission: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, prices = submission
    assert list(prices.columns) == ["Id", "SalePrice"]
    assert prices["Id"].tolist() == table["Id"].tolist()  # one row per house, in the file's order
    assert prices["SalePrice"].notna().all() and (prices["SalePrice"] > 0).all()
    assert 30_000 < prices["SalePrice"].median() < 400_000


def test_the_champion_loads_in_a_fresh_process_and_prices_as_the_batch_pipeline(
    trained: TempProject, submission: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    table, prices = submission
    table.head(2).to_csv(tmp_path / "two.csv", index=False, na_rep="NA")
    script = (
        "import sys, mlflow, pandas as pd; model = mlflow.pyfunc.load_model('models:/house_prices@champion'); "
        "rows = pd.read_csv(sys.argv[1]); prices = model.predict(rows[model.metadata.get_input_schema().input_names()]); "
        "print(','.join(repr(float(price)) for price in prices))"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": trained.tracking_uri}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "two.csv")], check=False, capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    fresh = [float(value) for value in result.stdout.strip().splitlines()[-1].split(",")]
    assert fresh == pytest.approx(prices["SalePrice"].head(2).tolist(), rel=1e-6)


@pytest.fixture(scope="module")
def price_model(trained: TempProject) -> object:
    mlflow.set_tracking_uri(trained.tracking_uri)
    return load_registered_model("models:/house_prices@champion")[0]


SETTINGS = PredictSettings(model_uri="models:/house_prices@champion")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda table: table.drop(columns=["GrLivArea"]),
            r"'GrLivArea': 1 column\(s\) the model was trained on are missing: GrLivArea\. Fix: add",
        ),
        (lambda table: table.drop(columns=["Id"]), r"'Id': missing\. Fix: add an 'Id' column"),
        (
            lambda table: table.assign(LotArea=table["LotArea"].astype(object).where(table["Id"] != 1463, "big")),
            r"'LotArea': text .* Ids 1463 \(values 'big'\)",
        ),
        (lambda table: table.head(0), r"'Id': no rows"),
    ],
    ids=["missing column", "no Id", "text in a number column", "header only"],
)
def test_bad_houses_stop_with_the_column_and_the_row(trained: TempProject, price_model: object, change, message: str) -> None:
    table = change(kaggle_test_table(trained).head(20))
    with pytest.raises(DataValidationError, match=message):
        price_houses(table, price_model, SETTINGS)


def test_a_bad_table_stops_the_run_and_overwrites_nothing(
    consumer: TempProject, submission: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    before = consumer.outputs("07_model_output/**/*")
    bad = submission[0].drop(columns=["OverallQual"])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    entry = f"house_prices_predict.houses:\n  type: neural_pipelines.datasets.CSVTableDataset\n  filepath: {tmp_path / 'bad.csv'}\n"
    consumer.add_env("bad_houses", {"catalog.yml": entry})
    with pytest.raises(DataValidationError, match=r"bad\.csv: column 'OverallQual'"):
        consumer.run("house_prices_predict", env="bad_houses")
    assert consumer.outputs("07_model_output/**/*") == before


# --- traffic ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forecaster(trained: TempProject) -> object:
    mlflow.set_tracking_uri(trained.tracking_uri)
    return load_registered_model("models:/traffic_lstm@champion")[0].unwrap_python_model()


def recent_counts(trained: TempProject, hours: int = 200) -> pd.DataFrame:
    traffic = pd.read_parquet(trained.path / "data/02_intermediate/traffic_lstm/traffic.parquet").tail(hours)
    return traffic.assign(datetime=traffic["datetime"].dt.strftime("%Y-%m-%d %H:%M:%S")).reset_index(drop=True)


def test_the_traffic_champion_forecasts_from_raw_counts_what_the_pipeline_predicted(trained: TempProject, forecaster) -> None:
    recent = recent_counts(trained)
    forecast = forecaster.forecast(recent)
    last = pd.Timestamp(recent["datetime"].iloc[-1])
    assert forecast["datetime"].tolist() == [str(last + pd.Timedelta(hours=h)) for h in range(1, 25)]
    # the raw hours before the first test window give the forecast the pipeline saved for it, in vehicles/hour
    variant = mlflow.MlflowClient().get_model_version_by_alias("traffic_lstm", "champion").tags["variant"]
    hourly = pd.read_parquet(trained.path / "data/03_primary/traffic_lstm/hourly_traffic.parquet")
    start = int(np.load(trained.path / "data/05_model_input/traffic_lstm/windows.npz")["target_start_test"][0])
    before = hourly.iloc[start - forecaster.preprocessing.context : start][["datetime", "traffic_volume"]]
    saved_file = sorted((trained.path / f"data/07_model_output/traffic_lstm/{variant}/test_predictions.npz").glob("*/*.npz"))[-1]
    with np.load(saved_file) as saved:
        scaled = saved[saved.files[0]][0]
    expected = np.clip(forecaster.scaler.inverse_transform(scaled.reshape(-1, 1).astype("float64"))[:, 0], 0, None)
    assert forecaster.forecast(before)["forecast"].to_numpy() == pytest.approx(expected, rel=1e-4, abs=1e-2)


def test_bad_recent_counts_name_the_column_or_the_hours(trained: TempProject, forecaster) -> None:
    recent = recent_counts(trained)
    features = forecaster.features
    needed = forecaster.preprocessing.history_hours if features is None else max(features.history_hours, *features.target_hour_lags)
    with pytest.raises(DataValidationError, match=r"column 'traffic_volume': missing"):
        forecaster.forecast(recent.drop(columns=["traffic_volume"]))
    with pytest.raises(DataValidationError, match=rf"only 4 hourly rows; the forecast needs the last {needed} hours"):
        forecaster.forecast(recent.tail(4))
    gap = recent.drop(index=range(len(recent) - 20, len(recent) - 3))  # 17 hours missing just before the last 3
    with pytest.raises(DataValidationError, match=rf"no volume for the hours .* among the last {needed}"):
        forecaster.forecast(gap)


# --- images ----------------------------------------------------------------------------


def test_the_image_champion_classifies_raw_bytes_and_arrays_as_its_network_does(trained: TempProject) -> None:
    mlflow.set_tracking_uri(trained.tracking_uri)
    model, version = load_registered_model("models:/image_cnn@champion")
    classifier = model.unwrap_python_model()
    splits = np.load(trained.path / "data/05_model_input/image_cnn/splits.npz")
    digits = splits["x_test"][:12]
    from_bytes = model.predict(pd.DataFrame({"image": [png_bytes(digit) for digit in digits]}))
    from_arrays = classifier.classify(list(np.repeat(digits[..., None], 3, axis=-1)))  # RGB arrays of the same digits
    network = np.asarray(classifier.network(digits[..., None].astype("float32") / 255))
    assert from_bytes["predicted_class"].tolist() == [str(label) for label in network.argmax(axis=1)]
    assert from_bytes["confidence"].to_numpy() == pytest.approx(network.max(axis=1), abs=1e-5)
    assert from_arrays["predicted_class"].tolist() == from_bytes["predicted_class"].tolist()
    with pytest.raises(ValueError, match=r"Image broken\.png does not decode"):
        classifier.classify([png_bytes(digits[0]), b"not an image"], names=["ok.png", "broken.png"])
    assert version.startswith("image_cnn v")


def test_image_classify_labels_a_folder_and_stops_on_a_picture_that_does_not_decode(trained: TempProject, consumer: TempProject) -> None:
    folder = consumer.path / "data/01_raw/image_classify/image_cnn"
    folder.mkdir(parents=True, exist_ok=True)
    digits = np.load(trained.path / "data/05_model_input/image_cnn/splits.npz")["x_test"][:5]
    for index, digit in enumerate(digits):
        (folder / f"digit_{index}.png").write_bytes(png_bytes(digit))
    consumer.run("image_classify", namespaces=["image_cnn_classify"])
    written = consumer.outputs("07_model_output/image_cnn_classify/predictions.csv/*/*")
    table = pd.read_csv(consumer.path / next(iter(written)))
    assert list(table.columns) == ["file", "predicted_class", "confidence", "model_version"]
    assert table["file"].tolist() == [f"digit_{index}.png" for index in range(5)]
    assert table["confidence"].between(0, 1).all() and table["model_version"].str.match(r"image_cnn v\d+").all()

    (folder / "digit_9.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(Exception, match=r"digit_9\.png"):
        consumer.run("image_classify", namespaces=["image_cnn_classify"])
    assert consumer.outputs("07_model_output/image_cnn_classify/predictions.csv/*/*") == written


# --- online serving ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_served_champion_prices_two_houses_as_the_batch_pipeline(
    trained: TempProject, submission: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    table, prices = submission
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": trained.tracking_uri}
    command = [
        "mlflow",
        "models",
        "serve",
        "-m",
        "models:/house_prices@champion",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", server, seconds=120)
        rows = table.drop(columns=["Notes"]).head(2)
        body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            served = json.loads(response.read())["predictions"]
        assert served == pytest.approx(prices["SalePrice"].head(2).tolist(), rel=1e-6)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the CLI and the web server it started
        server.wait(timeout=30)
    assert server.poll() is not None
    assert group_gone(server.pid, seconds=30)
    with socket.socket() as probe:  # nothing listens there any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def group_gone(group: int, seconds: float) -> bool:
    """Whether every process of the process group has exited within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def wait_for(url: str, server: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow models serve exited with {server.returncode}: {server.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def test_the_inference_pipelines_are_not_in_the_default_run() -> None:
    bootstrap_project(PROJECT_ROOT)
    pipelines = register_pipelines()
    default = {node.name for node in pipelines["__default__"].nodes}
    assert {node.name for node in pipelines["traffic_lstm"].nodes} <= default
    for name in ("house_prices_predict", "traffic_lstm_forecast", "image_classify"):
        assert pipelines[name].nodes and not {node.name for node in pipelines[name].nodes} & default
