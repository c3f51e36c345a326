"""``horse_or_human`` end to end in the test environment (the generated sample at 96×96,
6 + 3 images per class, 1 epoch) and on a corrupt image."""

from __future__ import annotations

import html
import logging
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession

from neural_pipelines.training import load_image_array
from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

# 96×96: 96 → 94/47 → 45/22 → 20/10 → 8/4 → 2/1, so 64 features reach Dense 512
N_PARAMS = 97_440 + (64 * 512 + 512) + 513
VARIANTS = ("cnn", "cnn_augmented")
FINAL_METRICS = ("test_accuracy", "test_auc", "test_loss", "train_accuracy", "accuracy_gap", "train_seconds")
REPORT_FILES = {"report.html", "comparison.csv", "accuracy_curves.png", "loss_curves.png", "augmented_samples.png"}
IMAGES = "data/01_raw/sample_images/horse_or_human"


@pytest.fixture(scope="module")
def finished_run(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("horse_or_human")  # after sample_images, which draws the folder it reads


def test_one_finished_run_per_variant_tagged_with_the_generated_data(finished_run: TempProject) -> None:
    runs = finished_run.runs("horse_or_human").set_index("tags.model")
    assert sorted(runs.index) == sorted(VARIANTS)
    assert set(runs["status"]) == {"FINISHED"}
    assert set(runs["tags.data_source"]) == {"generated"}
    assert set(runs["tags.dataset"]) == {"generated_horse_or_human"}
    assert runs["tags.git_sha"].notna().all()
    assert {model: int(count) for model, count in runs["params.n_params"].items()} == dict.fromkeys(VARIANTS, N_PARAMS)
    for metric in FINAL_METRICS:
        assert runs[f"metrics.{metric}"].notna().all(), metric
    gap = runs["metrics.train_accuracy"] - runs["metrics.test_accuracy"]
    np.testing.assert_allclose(runs["metrics.accuracy_gap"], gap, atol=1e-9)
    assert runs["metrics.test_auc"].between(0, 1).all() and (runs["metrics.train_seconds"] > 0).all()
    assert len(set(runs["tags.mlflow.parentRunId"])) == 1  # both nested under the kedro run
    assert runs.loc["cnn_augmented", "params.model.dropout"] == "0.2"
    assert runs.loc["cnn_augmented", "params.model.augmentation.rotation_degrees"] == "40"
    assert runs.loc["cnn", "params.model.augmentation"] == "None"
    assert runs.loc["cnn", "params.optimizer.name"] == "rmsprop"
    client = mlflow.MlflowClient()
    for model in VARIANTS:
        run_id = runs.loc[model, "run_id"]
        for metric in ("loss", "val_loss", "accuracy", "val_accuracy"):
            assert [point.step for point in client.get_metric_history(run_id, metric)] == [1]  # 1 epoch, step = epoch
        artifacts = {artifact.path for artifact in client.list_artifacts(run_id, "evaluation")}
        assert artifacts == {"evaluation/evaluation.json", "evaluation/misclassified.png"}
        evaluation = mlflow.artifacts.load_dict(f"runs:/{run_id}/evaluation/evaluation.json")
        assert evaluation["n_train"] == 12 and evaluation["n_test"] == 6  # 6 + 3 images per class
        assert evaluation["metrics"]["test_accuracy"] == pytest.approx(runs.loc[model, "metrics.test_accuracy"])


def test_the_logged_model_predicts_from_raw_images(finished_run: TempProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(finished_run.path)  # the manifest's paths are relative to the project, as in `kedro run`
    runs = finished_run.runs("horse_or_human").set_index("tags.model")
    model = mlflow.keras.load_model(f"runs:/{runs.loc['cnn_augmented', 'run_id']}/model")
    (predictions_file,) = finished_run.path.glob("data/07_model_output/horse_or_human/cnn_augmented/validation_predictions.csv/*/*.csv")
    predictions = pd.read_csv(predictions_file)
    raw = load_image_array(predictions["filepath"].tolist(), (96, 96)).astype(np.float32)  # 0..255, no scaling by the caller
    probabilities = model.predict(raw, verbose=0).reshape(-1)
    np.testing.assert_allclose(probabilities, predictions["probability_humans"], rtol=1e-5, atol=1e-6)
    assert predictions["class_name"].tolist() == ["horses"] * 3 + ["humans"] * 3


def test_report_is_written_and_logged_with_both_gaps(finished_run: TempProject) -> None:
    outputs = finished_run.outputs("08_reporting/horse_or_human/**/*")
    assert REPORT_FILES | {"misclassified.png", "evaluation.json", "summary.json"} <= {path.split("/")[-1] for path in outputs}
    report = next(content for path, content in outputs.items() if path.endswith("report.html")).decode()
    assert report.count("data:image/png;base64,") == 5  # two curves, augmented samples, two misclassified grids
    runs = finished_run.runs("horse_or_human")
    logged_runs = runs.set_index("tags.model")
    for model in VARIANTS:  # the verdict's sentences, from the metrics each variant's run logged
        train, test, gap = (logged_runs.loc[model, f"metrics.{name}"] for name in ("train_accuracy", "test_accuracy", "accuracy_gap"))
        assert html.escape(f"{model}: training accuracy {train:.1%} vs validation {test:.1%}, a gap of {100 * gap:.1f} points") in report
    base, augmented = logged_runs.loc["cnn", "metrics.accuracy_gap"], logged_runs.loc["cnn_augmented", "metrics.accuracy_gap"]
    verdict = "cnn_augmented's augmentation and dropout"
    reduced, not_reduced = f"{verdict} reduced the gap", f"{verdict} did not reduce the gap"
    if augmented < base:
        expected, other = f"{reduced} by {100 * (base - augmented):.1f} points compared with cnn", not_reduced
    else:
        expected, other = f"{not_reduced}: it is {100 * (augmented - base):.1f} points larger than cnn's", reduced
    text = html.unescape(report)  # the sentence as a reader sees it, whichever characters the template escapes
    assert expected in text
    assert other not in text
    parent = runs["tags.mlflow.parentRunId"].iloc[0]
    logged = {artifact.path.split("/")[-1] for artifact in mlflow.MlflowClient().list_artifacts(parent, "report")}
    assert logged >= REPORT_FILES


def test_a_corrupt_image_stops_the_run_naming_it_and_skip_corrupt_runs_with_a_warning(
    own_run: TempProject, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_files, before_runs = own_run.outputs(), own_run.runs("horse_or_human")
    broken = own_run.path / IMAGES / "train" / "humans" / "zz_broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, then nothing decodable
    with pytest.raises(Exception, match=r"cannot be decoded as images: .*zz_broken\.png") as error:
        own_run.run("horse_or_human")
    assert "skip_corrupt: true" in str(error.value)
    after_files = own_run.outputs()
    assert {path: after_files[path] for path in before_files} == before_files  # earlier versions intact
    after_runs = own_run.runs("horse_or_human").set_index("run_id")
    assert (after_runs.loc[before_runs["run_id"], "status"] == "FINISHED").all()  # earlier runs untouched
    failed = after_runs.drop(index=before_runs["run_id"])  # variants whose model was built before validation failed
    assert set(failed["status"]) <= {"FAILED"} and failed["metrics.train_seconds"].isna().all()

    # skip_corrupt: true (here a user's environment; `--params` works the same) lets validation
    # drop the file with a warning; running that node alone shows it, training is tested above.
    skipping = own_run.path / "conf" / "test_skip_corrupt"
    shutil.copytree(own_run.path / "conf" / "test", skipping)
    with (skipping / "parameters_horse_or_human.yml").open("a") as parameters:
        parameters.write("  ingest: {skip_corrupt: true}\n")
    monkeypatch.chdir(own_run.path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", own_run.tracking_uri)
    with caplog.at_level(logging.WARNING), KedroSession.create(project_path=own_run.path, env=skipping.name) as session:
        session.run(pipeline_names=["horse_or_human"], node_names=["horse_or_human.validate_images"])
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("zz_broken.png" in message and "skip_corrupt" in message for message in warnings)
    manifest = pd.read_csv(own_run.path / "data/02_intermediate/horse_or_human/images.csv")
    assert len(manifest) == 18 and not manifest["filepath"].str.contains("zz_broken").any()
    broken.unlink()
