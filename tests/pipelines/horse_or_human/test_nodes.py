"""Node-level tests of ``horse_or_human`` on tiny PNG folders written here: values, not just shapes."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from neural_pipelines.datasets import ImageFolderDataset
from neural_pipelines.pipelines.horse_or_human import nodes
from neural_pipelines.reporting import render_block
from neural_pipelines.training import TrainingSettings, load_image_array, steps
from neural_pipelines.validation import DataValidationError

PARAMETERS = yaml.safe_load((Path(__file__).resolve().parents[3] / "conf/base/parameters_horse_or_human.yml").read_text())["horse_or_human"]
CLASSES, SPLITS = ["horses", "humans"], ["train", "validation"]
SIZE = [96, 96]  # the smallest round size the five valid-padded conv + pool blocks accept
EVALUATION = {"batch_size": 8, "threshold": 0.5}
TRAINING = TrainingSettings(batch_size=4, max_epochs=2)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def write_folder(root: Path, per_class: int = 3, size: int = 40) -> Path:
    """``<root>/<split>/<class>/<n>.png``: horses bright on the left, humans bright on the right, in several PIL modes."""
    rng = np.random.default_rng(0)
    modes = ["RGB", "RGBA", "L", "P"]
    for split in SPLITS:
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(per_class):
                pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                half = slice(size // 2, None) if label else slice(None, size // 2)
                pixels[:, half] = 220
                image = Image.fromarray(pixels).convert(modes[(label * per_class + index) % len(modes)])
                image.save(folder / f"{name}_{index:02d}.png")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folder(tmp_path_factory.mktemp("images") / "horse_or_human")


@pytest.fixture(scope="module")
def images(folder: Path) -> pd.DataFrame:
    return nodes.validate_images(ImageFolderDataset(str(folder)).load(), CLASSES, SPLITS, {"skip_corrupt": False})


# --- ingest -------------------------------------------------------------------------


def test_validation_labels_every_file_and_reads_every_mode(images: pd.DataFrame) -> None:
    assert list(images.columns) == nodes.MANIFEST_COLUMNS
    assert len(images) == 12
    assert (images["label"] == images["class_name"].map({"horses": 0, "humans": 1})).all()
    assert set(images["mode"]) == {"RGB", "RGBA", "L", "P"}
    files, labels = nodes.split_files(images, "validation")
    assert [Path(file).parent.name for file in files] == ["horses"] * 3 + ["humans"] * 3
    assert labels.dtype == np.float32 and labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_a_corrupt_file_stops_validation_naming_it_or_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = write_folder(tmp_path / "images", per_class=2, size=8)
    broken = root / "train" / "humans" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    manifest = ImageFolderDataset(str(root)).load()
    with pytest.raises(DataValidationError, match=r"cannot be decoded.*broken\.png") as error:
        nodes.validate_images(manifest, CLASSES, SPLITS, {"skip_corrupt": False})
    assert "skip_corrupt: true" in str(error.value)
    with caplog.at_level(logging.WARNING):
        kept = nodes.validate_images(manifest, CLASSES, SPLITS, {"skip_corrupt": True})
    assert len(kept) == 8 and not kept["filepath"].str.endswith("broken.png").any()
    assert any("broken.png" in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)


def test_only_two_classes_and_two_splits_are_accepted(images: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="exactly two classes"):
        nodes.validate_images(images, ["horses", "humans", "zebras"], SPLITS, {})


# --- build, train, evaluate ---------------------------------------------------------


def build(variant: str, seed: int) -> keras.Model:
    """The variant as the pipeline's shared build step makes it from the parameter file, at the test size."""
    settings = PARAMETERS[variant]
    return steps.build_model(
        settings["model"],
        settings["optimizer"],
        PARAMETERS["compile"],
        TRAINING,
        steps.rgb_image_shapes(pd.DataFrame({"label": [0, 1]}), SIZE),
        seed,
    )


@pytest.fixture(scope="module")
def trained(images: pd.DataFrame) -> tuple[keras.Model, dict]:
    model = build("cnn_augmented", seed=1)
    return steps.train_model(model, nodes.make_batches(images, SIZE, SPLITS, TRAINING, seed=1), TRAINING, seed=1)


def test_build_model_is_seeded_and_sized_by_image_size() -> None:
    first, second = build("cnn", seed=3), build("cnn", seed=3)
    assert first.input_shape == (None, 96, 96, 3)
    # 96 → 94/47 → 45/22 → 20/10 → 8/4 → 2/1: 64 features into Dense 512
    assert first.count_params() == 97_440 + 64 * 512 + 512 + 513
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_training_runs_every_epoch_and_records_the_fit(trained: tuple[keras.Model, dict]) -> None:
    model, fit = trained
    assert fit["epochs_run"] == fit["best_epoch"] == 2  # fixed epochs, no early stopping
    assert set(fit["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 2 for values in fit["history"].values())
    assert fit["n_params"] == model.count_params() and fit["train_seconds"] > 0


def test_evaluation_is_computed_from_raw_pixel_predictions(trained: tuple[keras.Model, dict], images: pd.DataFrame) -> None:
    model, _ = trained
    evaluation, predictions = nodes.evaluate_model(model, images, CLASSES, SIZE, SPLITS, EVALUATION)
    files, labels = nodes.split_files(images, "validation")
    expected = model.predict(load_image_array(files, SIZE).astype(np.float32), verbose=0).reshape(-1)
    np.testing.assert_allclose(predictions["probability_humans"], expected, rtol=1e-5, atol=1e-6)
    assert predictions["filepath"].tolist() == files
    assert (predictions["predicted_label"] == (expected >= 0.5)).all()
    assert predictions["predicted"].tolist() == [CLASSES[label] for label in predictions["predicted_label"]]
    assert evaluation["metrics"]["test_accuracy"] == pytest.approx(np.mean(predictions["predicted_label"] == labels))
    assert evaluation["metrics"]["accuracy_gap"] == pytest.approx(
        evaluation["metrics"]["train_accuracy"] - evaluation["metrics"]["test_accuracy"]
    )
    matrix = np.array(evaluation["confusion_matrix"])
    assert matrix.sum() == evaluation["n_test"] == 6 and evaluation["n_train"] == 6
    assert np.trace(matrix) / 6 == pytest.approx(evaluation["metrics"]["test_accuracy"])
    assert matrix[1].sum() == 3  # row = true class: three humans
    assert 0 <= evaluation["metrics"]["test_auc"] <= 1 and evaluation["metrics"]["test_loss"] > 0
    assert evaluation["augmented"] is True and evaluation["dropout"] == pytest.approx(0.2)
    figure = nodes.plot_misclassified(evaluation, predictions, CLASSES, SIZE, EVALUATION, {"misclassified_images": 4})
    truth, predicted = predictions["label"].to_numpy(), predictions["predicted_label"].to_numpy()
    # sklearn's layout, as in image_cnn: rows are the true class, columns the predicted one
    assert evaluation["confusion_matrix"] == [[int(((truth == t) & (predicted == p)).sum()) for p in (0, 1)] for t in (0, 1)]
    assert figure.axes[0].get_title().startswith(f"cnn_augmented: {6 - int(np.trace(matrix))} of 6 validation images misclassified")


def test_training_refuses_early_stopping_on_the_validation_split_which_is_the_test_set(images: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"training.patience is 3.*validation split \(validation\) is its test set") as error:
        nodes.make_batches(images, SIZE, SPLITS, TRAINING.model_copy(update={"patience": 3}), seed=1)
    assert "Set `patience: null`" in str(error.value) and "conf/base/parameters_horse_or_human.yml" in str(error.value)


def test_the_evaluation_logs_the_gap_and_keeps_the_rest_for_the_report(trained: tuple[keras.Model, dict], images: pd.DataFrame) -> None:
    model, fit = trained
    evaluation, _ = nodes.evaluate_model(model, images, CLASSES, SIZE, SPLITS, EVALUATION)
    metrics, summary = steps.record_results(evaluation, fit)
    assert set(evaluation["metrics"]) == set(nodes.LOGGED_METRICS)
    assert set(metrics) == {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        *nodes.LOGGED_METRICS,
        "train_seconds",
        "epochs_run",
        "best_epoch",
    }
    assert summary["epochs_run"] == 2 and summary["n_params"] == model.count_params() and summary["augmented"] is True
    assert summary["test_precision"] == evaluation["test_precision"] and summary["confusion_matrix"] == evaluation["confusion_matrix"]


# --- report -------------------------------------------------------------------------


def summary(train: float, test: float, augmented: bool) -> dict:
    return {"train_accuracy": train, "test_accuracy": test, "accuracy_gap": train - test, "augmented": augmented}


def gap_verdict(summaries: dict[str, dict]) -> str:
    """The report's verdict paragraph for these summaries, as the template writes it."""
    return render_block("horse_or_human.html.j2", "verdict", gaps=nodes.accuracy_gaps(summaries))


def test_gap_verdict_states_both_gaps_and_which_way_augmentation_went() -> None:
    reduced = gap_verdict({"cnn": summary(1.0, 0.7, False), "cnn_augmented": summary(0.9, 0.85, True)})
    assert "cnn: training accuracy 100.0% vs validation 70.0%, a gap of 30.0 points" in reduced
    assert "cnn_augmented: training accuracy 90.0% vs validation 85.0%, a gap of 5.0 points" in reduced
    assert "reduced the gap by 25.0 points compared with cnn" in reduced
    worse = gap_verdict({"cnn": summary(0.8, 0.75, False), "cnn_augmented": summary(0.9, 0.7, True)})
    assert "did not reduce the gap: it is 15.0 points larger than cnn's" in worse
    assert "No pair" in gap_verdict({"cnn": summary(1.0, 0.7, False)})


def test_augmented_samples_start_with_the_original_and_differ_from_it() -> None:
    keras.utils.set_random_seed(0)
    model = build("cnn_augmented", seed=0)
    name, augmentation = nodes.augmentation_source({"cnn": keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), "aug": model})
    assert name == "aug"
    image = np.zeros((96, 96, 3), np.uint8)
    image[:, :30] = 255
    figure = nodes.augmented_samples_figure(augmentation, image, 5, title="samples")
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert texts == ["original", "augmented 1", "augmented 2", "augmented 3", "augmented 4", "augmented 5"]
    mosaic = np.asarray(figure.axes[0].images[0].get_array())
    top = round(0.5 * 96)  # caption rows above the first row of tiles
    np.testing.assert_allclose(mosaic[top : top + 96, :96], image / 255.0)
    gap = max(1, 96 // 10)
    tiles = [mosaic[top : top + 96, (96 + gap) * i : (96 + gap) * i + 96] for i in range(1, 6)]
    assert all(not np.allclose(tile, image / 255.0) for tile in tiles)


def test_report_shows_the_table_the_gaps_and_every_figure(trained: tuple[keras.Model, dict], images: pd.DataFrame) -> None:
    model, fit = trained
    evaluation, predictions = nodes.evaluate_model(model, images, CLASSES, SIZE, SPLITS, EVALUATION)
    _, augmented_summary = steps.record_results(evaluation, fit)
    plain_summary = {**augmented_summary, "augmented": False, "dropout": None, "train_accuracy": 1.0}
    plain_summary["accuracy_gap"] = 1.0 - plain_summary["test_accuracy"]
    summaries = {"cnn": plain_summary, "cnn_augmented": augmented_summary}
    reporting = {**PARAMETERS["reporting"], "augmented_samples": 3, "misclassified_images": 4}
    table, accuracy, loss, samples, html = nodes.build_report(
        summaries,
        {"cnn": predictions, "cnn_augmented": predictions},
        {"cnn": model, "cnn_augmented": model},
        images,
        CLASSES,
        SIZE,
        SPLITS,
        EVALUATION,
        reporting,
    )
    assert table.columns.tolist() == ["model", *nodes.COMPARISON_COLUMNS]
    assert table["model"].tolist() == ["cnn", "cnn_augmented"]
    assert table["accuracy_gap"].tolist() == pytest.approx([plain_summary["accuracy_gap"], augmented_summary["accuracy_gap"]])
    assert [axis.get_title() for axis in accuracy.axes] == ["cnn", "cnn_augmented"]  # side by side
    assert len(loss.axes) == 2
    assert next(text.get_text() for text in samples.axes[0].texts) == "original"
    assert html.count("data:image/png;base64,") == 5  # two curves, samples, two misclassified grids
    assert gap_verdict(summaries) in html
    assert "there is no third split, so the validation split is the test set" in html
    assert "train/horses 3" in html and "File modes:" in html
