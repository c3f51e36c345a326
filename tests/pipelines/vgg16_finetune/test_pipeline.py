"""``vgg16_finetune`` end to end in the test environment: generated 32×32 sample, one epoch per variant."""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter

import mlflow
import numpy as np
import pandas as pd
import pytest

from neural_pipelines.pipelines.variants import configured_variants
from neural_pipelines.pipelines.vgg16_finetune.pipeline import PIPELINE, create_pipeline
from neural_pipelines.training import load_image_array
from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

# (n_params, n_trainable_params) of the full models at 32×32: VGG16's base output is 1×1×512,
# so the head has 513 parameters; block5 adds 7,079,424; MobileNetV2's head does not depend on the size;
# the CNN trained from scratch has 896 + 18,496 + 73,856 convolution weights and 4×4×128 + 1 into its output, all trained.
COUNTS = {
    "feature_extraction": (14_714_688 + 513, 513),
    "fine_tuning": (14_714_688 + 513, 7_079_424 + 513),
    "mobilenet_v2": (2_257_984 + 164_097, 164_097),
    "from_scratch": (95_297, 95_297),
}
#: The variants with a (random) pretrained base, whose frozen part's output is cached; from_scratch trains on the images.
CACHED = ("feature_extraction", "fine_tuning", "mobilenet_v2")
FINAL_METRICS = ("test_accuracy", "test_auc", "test_loss", "train_seconds")


@pytest.fixture(scope="module")
def finished_run(shared_project: TempProject) -> TempProject:
    return shared_project.ensure_ran("vgg16_finetune")  # after sample_images, which draws the folders it reads


def test_one_finished_run_per_variant_with_weights_tag_metrics_and_trainable_counts(finished_run: TempProject) -> None:
    runs = finished_run.runs("vgg16_finetune").set_index("tags.model")
    assert sorted(runs.index) == sorted(COUNTS)
    assert set(runs["status"]) == {"FINISHED"}
    assert set(runs.loc[list(CACHED), "tags.weights"]) == {"none (random initialization)"}
    assert pd.isna(runs.loc["from_scratch", "tags.weights"])  # no base, no weights to start from
    assert set(runs["tags.data_source"]) == {"generated"}
    assert set(runs["tags.dataset"]) == {"generated_vgg16_finetune"}
    assert len(set(runs["tags.mlflow.parentRunId"])) == 1
    counts = {model: (int(runs.loc[model, "params.n_params"]), int(runs.loc[model, "params.n_trainable_params"])) for model in COUNTS}
    assert counts == COUNTS
    for metric in FINAL_METRICS:
        assert runs[f"metrics.{metric}"].notna().all(), metric
    assert runs.loc[list(CACHED), "metrics.feature_seconds"].notna().all()
    assert pd.isna(runs.loc["from_scratch", "metrics.feature_seconds"])  # nothing cached
    for model in COUNTS:  # the logged accuracy is the saved test predictions' accuracy against the labels
        (evaluation,) = finished_run.outputs(f"08_reporting/vgg16_finetune/{model}/evaluation.json/*/*").values()
        evaluation = json.loads(evaluation)
        (saved,) = finished_run.outputs(f"07_model_output/vgg16_finetune/{model}/test_predictions.npz/*/*").values()
        saved = np.load(io.BytesIO(saved))
        predicted = (saved["probabilities"] >= evaluation["threshold"]).astype(np.uint8)
        np.testing.assert_array_equal(saved["predicted"], predicted)
        assert len(saved["labels"]) == evaluation["n_test"] > 0
        accuracy = float(np.mean(predicted == saved["labels"]))
        assert runs.loc[model, "metrics.test_accuracy"] == pytest.approx(accuracy) == evaluation["metrics"]["test_accuracy"]
        pairs = Counter(zip(saved["labels"].tolist(), predicted.tolist(), strict=True))
        assert evaluation["confusion_matrix"] == [[pairs[(truth, guess)] for guess in (0, 1)] for truth in (0, 1)]
    assert runs.loc["fine_tuning", "params.optimizer.learning_rate"] == "1e-05"
    assert runs.loc["fine_tuning", "params.features.cut_layer"] == "block4_pool"
    assert runs.loc["mobilenet_v2", "params.optimizer.name"] == "adam"
    client = mlflow.MlflowClient()
    for model in COUNTS:
        run_id = runs.loc[model, "run_id"]
        for metric in ("loss", "val_loss", "accuracy", "val_accuracy"):
            assert [point.step for point in client.get_metric_history(run_id, metric)] == [1]  # 1 epoch, step = epoch
        assert {artifact.path for artifact in client.list_artifacts(run_id, "evaluation")} == {"evaluation/evaluation.json"}


def test_the_logged_fine_tuned_model_loads_and_holds_the_fine_tuned_weights(finished_run: TempProject) -> None:
    runs = finished_run.runs("vgg16_finetune").set_index("tags.model")
    logged = mlflow.keras.load_model(f"runs:/{runs.loc['fine_tuning', 'run_id']}/model")
    started = mlflow.keras.load_model(f"runs:/{runs.loc['feature_extraction', 'run_id']}/model")
    block5 = [
        np.array(logged.get_layer("vgg16").get_layer("block5_conv3").kernel),
        np.array(started.get_layer("vgg16").get_layer("block5_conv3").kernel),
    ]
    block1 = [np.array(model.get_layer("vgg16").get_layer("block1_conv1").kernel) for model in (logged, started)]
    assert not np.array_equal(*block5)  # fine-tuning trained block5 …
    np.testing.assert_array_equal(*block1)  # … and left block 1 as feature_extraction had it
    assert logged.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0).shape == (2, 1)


def test_the_logged_from_scratch_model_loads_and_gives_the_test_predictions_from_raw_pixels(finished_run: TempProject) -> None:
    runs = finished_run.runs("vgg16_finetune").set_index("tags.model")
    logged = mlflow.keras.load_model(f"runs:/{runs.loc['from_scratch', 'run_id']}/model")
    assert logged.count_params() == COUNTS["from_scratch"][0] and not logged.non_trainable_weights
    (saved,) = finished_run.outputs("07_model_output/vgg16_finetune/from_scratch/test_predictions.npz/*/*").values()
    saved = np.load(io.BytesIO(saved))
    (manifest,) = finished_run.outputs("02_intermediate/vgg16_finetune/images.csv").values()
    test = pd.read_csv(io.BytesIO(manifest)).query("role == 'test'")
    pixels = load_image_array(test["filepath"].tolist(), (32, 32)).astype(np.float32)  # raw RGB 0..255: the model rescales
    np.testing.assert_allclose(logged.predict(pixels, verbose=0).reshape(-1), saved["probabilities"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(saved["labels"], test["label"].to_numpy())


def test_new_pictures_are_predicted_and_the_report_is_written_and_logged(finished_run: TempProject) -> None:
    outputs = finished_run.outputs("07_model_output/vgg16_finetune/new_image_predictions.csv/*/*")
    (csv,) = outputs.values()
    table = pd.read_csv(io.BytesIO(csv))
    assert list(table.columns) == ["file", "predicted_class", "confidence", "model"]
    assert len(table) == 4  # conf/test/parameters_sample_images.yml draws 4 new pictures
    assert set(table["predicted_class"]) <= {"horses", "humans"}
    assert table["confidence"].between(0.5, 1).all()
    assert table["model"].nunique() == 1 and table["model"].iloc[0] in COUNTS

    reports = finished_run.outputs("08_reporting/vgg16_finetune/**/*")
    names = {path.split("/")[-1] for path in reports}
    expected = {"report.html", "comparison.csv", "accuracy_curves.png", "loss_curves.png", "misclassified.png", "new_predictions.png"}
    assert expected <= names
    html = next(content for path, content in reports.items() if path.endswith("report.html")).decode()
    assert "random initialization" in html and "say nothing about transfer learning" in html
    for model in COUNTS:
        assert model in html
    comparison = pd.read_csv(io.BytesIO(next(content for path, content in reports.items() if path.endswith("comparison.csv"))))
    assert sorted(comparison["model"]) == sorted(COUNTS)
    assert dict(zip(comparison["model"], comparison["n_trainable_params"], strict=True)) == {m: c[1] for m, c in COUNTS.items()}
    assert "Trained from scratch: from_scratch" in html and "none (trained from scratch)" in html

    parent = finished_run.runs("vgg16_finetune")["tags.mlflow.parentRunId"].iloc[0]
    client = mlflow.MlflowClient()
    assert expected <= {artifact.path.split("/")[-1] for artifact in client.list_artifacts(parent, "report")}
    assert {artifact.path for artifact in client.list_artifacts(parent, "predictions")} == {"predictions/new_image_predictions.csv"}
    features = np.load(finished_run.path / "data/04_feature/vgg16_finetune/fine_tuning_features.npz")
    assert features["x_train"].shape == (12, 2, 2, 512) and features["x_train"].dtype == np.float32  # block4_pool, 6 per class


def test_the_new_pictures_are_validated_before_any_variant_trains() -> None:
    order = [node.name for node in create_pipeline().nodes]  # the order the sequential runner runs them in
    first_training = min(
        order.index(f"vgg16_finetune.{variant}.{step}")
        for variant in configured_variants(PIPELINE)
        for step in ("cache_features", "make_batches", "train_model")
        if f"vgg16_finetune.{variant}.{step}" in order  # from_scratch reads batches from the files, the others cache features
    )
    assert order.index("vgg16_finetune.validate_new_images") < first_training
    assert order.index("vgg16_finetune.validate_images") < first_training


def test_a_missing_new_pictures_folder_stops_the_run_before_any_model_is_trained(own_run: TempProject) -> None:
    before_files, before_runs = own_run.outputs(), own_run.runs("vgg16_finetune")
    new = own_run.path / "data/01_raw/sample_images/vgg16_finetune_new"
    moved = shutil.move(new, new.with_name("moved_away"))
    try:
        with pytest.raises(Exception, match=r"vgg16_finetune_new does not exist") as error:
            own_run.run("vgg16_finetune")
        assert "kedro run --pipeline=sample_images" in str(error.value)  # the catalog's missing_hint
    finally:
        shutil.move(moved, new)
    assert own_run.outputs() == before_files  # no features, model, evaluation or report version written
    after_runs = own_run.runs("vgg16_finetune").set_index("run_id")
    assert (after_runs.loc[before_runs["run_id"], "status"] == "FINISHED").all()
    failed = after_runs.drop(index=before_runs["run_id"])  # variants whose model was built before the check failed
    assert set(failed["status"]) <= {"FAILED"}
    assert "metrics.train_seconds" not in failed or failed["metrics.train_seconds"].isna().all()
