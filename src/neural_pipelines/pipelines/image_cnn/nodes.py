"""Nodes of ``image_cnn``: dense nets and CNNs compared on 28×28 grayscale images.

Data flow: validate the raw images (a pixel table or ``keras.datasets`` arrays) → uint8
images and labels → stratified, seeded train / validation / test split (or the official
test set) → (per variant) build, fit on ``tf.data`` batches scaled to [0, 1] float32,
evaluate on the test split → report: comparison table, learning curves, confusion matrix
and mistakes of the best model, first-layer filters and feature maps of the best CNN.

Images stay uint8 everywhere outside ``tf.data`` (see ``training/tfdata.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.figure import Figure
from sklearn.metrics import classification_report, confusion_matrix, f1_score
from sklearn.model_selection import train_test_split

from neural_pipelines.parameters import Count, Fraction, Parameters
from neural_pipelines.reporting import comparison_table, convolution_demo_figure, filter_patterns_figure, learning_curves, render_template
from neural_pipelines.reporting.classification import (
    confusion_matrix_figure,
    feature_maps_figure,
    filters_figure,
    first_conv_layer,
    layer_activations,
    misclassified_grid,
    rgb_channels_figure,
)
from neural_pipelines.reporting.filters import conv_layer_names
from neural_pipelines.training import TrainingSettings
from neural_pipelines.training.steps import hold_out_last
from neural_pipelines.training.tfdata import image_dataset
from neural_pipelines.validation import DataValidationError, examples, source_of

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
PARAMS_FILE = "conf/base/parameters_image_cnn.yml"
KERAS_SPLITS = {"x_train", "y_train", "x_test", "y_test"}


# --- ingest -------------------------------------------------------------------------


def _rows(mask: np.ndarray) -> str:
    """``rows 3, 7`` (1-based) of the first offending images, for an error message."""
    return examples(np.flatnonzero(mask) + 1, noun="images (1-based rows)")


def _check_pixel_values(pixels: np.ndarray, source: str, field: str, max_pixel: int) -> None:
    """NaN, fractional or out-of-range pixels stop the run; ``pixels`` is (n, …)."""
    if pixels.dtype == np.uint8 and max_pixel >= np.iinfo(np.uint8).max:
        return  # uint8 cannot hold anything else
    flat = pixels.reshape(len(pixels), -1)
    if np.issubdtype(flat.dtype, np.floating):
        missing = np.isnan(flat).any(axis=1)
        if missing.any():
            raise DataValidationError(
                source,
                field,
                f"NaN (empty) pixels in {_rows(missing)}",
                f"every image needs all {flat.shape[1]} pixel values; drop or repair those images",
            )
        fractional = (flat != np.round(flat)).any(axis=1)
        if fractional.any():
            raise DataValidationError(
                source,
                field,
                f"fractional pixel values in {_rows(fractional)}",
                f"store raw integer intensities 0–{max_pixel} (scaling to [0, 1] happens in the pipeline)",
            )
    outside = ((flat < 0) | (flat > max_pixel)).any(axis=1)
    if outside.any():
        raise DataValidationError(
            source,
            field,
            f"pixel values outside 0–{max_pixel} in {_rows(outside)}",
            f"store 8-bit intensities 0–{max_pixel}, or set image_cnn.ingest.max_pixel_value in {PARAMS_FILE}",
        )


def _from_pixel_table(raw: pd.DataFrame, image_shape: Sequence[int], source: str) -> tuple[np.ndarray, np.ndarray]:
    """A table with one image per row: ``height*width`` pixel columns (row by row), then the label."""
    height, width = int(image_shape[0]), int(image_shape[1])
    n_pixels = height * width
    if raw.shape[1] != n_pixels + 1:
        raise DataValidationError(
            source,
            "pixels",
            f"{raw.shape[1]} columns, but {height}×{width} images need {n_pixels} pixel columns plus a label column",
            f"one row per image: {n_pixels} pixel values row by row, then the class index; or set "
            f"image_cnn.image_shape in {PARAMS_FILE} to your images' size",
        )
    columns = raw.iloc[:, :n_pixels]
    if not all(pd.api.types.is_numeric_dtype(dtype) for dtype in columns.dtypes):
        columns = columns.apply(pd.to_numeric, errors="coerce")
    pixels = columns.to_numpy(dtype="float64")
    text = np.isnan(pixels).any(axis=1) & ~raw.iloc[:, :n_pixels].isna().to_numpy().any(axis=1)
    if text.any():
        raise DataValidationError(source, "pixels", f"non-numeric pixel values in {_rows(text)}", "pixels are integers 0–255")
    labels = pd.to_numeric(raw.iloc[:, n_pixels], errors="coerce").to_numpy(dtype="float64")
    return pixels.reshape(-1, height, width), labels


def _from_arrays(raw: Mapping[str, np.ndarray], source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``keras.datasets`` arrays (``x_train, y_train, x_test, y_test``) or ``images, labels``."""
    if set(raw) >= KERAS_SPLITS:
        images = np.concatenate([raw["x_train"], raw["x_test"]])
        labels = np.concatenate([np.asarray(raw["y_train"]).reshape(-1), np.asarray(raw["y_test"]).reshape(-1)])
        official_test = np.repeat([False, True], [len(raw["x_train"]), len(raw["x_test"])])
        counts = (len(raw["x_train"]), len(raw["y_train"])), (len(raw["x_test"]), len(raw["y_test"]))
    elif {"images", "labels"} <= set(raw):
        images, labels = np.asarray(raw["images"]), np.asarray(raw["labels"]).reshape(-1)
        official_test = np.zeros(len(labels), dtype=bool)
        counts = ((len(images), len(labels)),)
    else:
        raise DataValidationError(
            source,
            "arrays",
            f"found arrays {sorted(raw)}",
            "provide x_train, y_train, x_test, y_test (as keras.datasets returns them) or images, labels",
        )
    if any(n_images != n_labels for n_images, n_labels in counts):
        raise DataValidationError(source, "labels", f"image and label counts differ: {counts}", "one label per image")
    return images, labels.astype("float64", copy=False), official_test


def _check_shape(images: np.ndarray, image_shape: Sequence[int], source: str) -> np.ndarray:
    """Images must be ``image_shape`` (height, width, channels); grayscale is stored without the channel axis."""
    height, width, channels = (int(size) for size in image_shape)
    expected = (height, width) if channels == 1 else (height, width, channels)
    shape = tuple(images.shape[1:])
    if channels == 1 and shape == (height, width, 1):
        return images[..., 0]
    if shape != expected:
        raise DataValidationError(
            source,
            "images",
            f"images of shape {shape}, expected {expected}",
            f"resize the images to {height}×{width} with {channels} channel(s), or set image_cnn.image_shape in {PARAMS_FILE}",
        )
    return images


def _check_labels(labels: np.ndarray, classes: Sequence[str], source: str, min_images: int) -> np.ndarray:
    """Labels are integer class indices 0 … len(classes)-1, and every class has at least ``min_images`` images."""
    missing = np.isnan(labels)
    if missing.any():
        raise DataValidationError(source, "label", f"missing labels for {_rows(missing)}", "give every image its class index")
    outside = (labels != np.round(labels)) | (labels < 0) | (labels >= len(classes))
    if outside.any():
        raise DataValidationError(
            source,
            "label",
            f"labels outside the {len(classes)} classes 0–{len(classes) - 1} ({', '.join(classes)}) for "
            f"{_rows(outside)} (values {', '.join(repr(float(value)) for value in np.unique(labels[outside])[:5])})",
            f"labels are class indices; list every class in image_cnn.classes ({PARAMS_FILE})",
        )
    labels = labels.astype(np.uint8 if len(classes) <= np.iinfo(np.uint8).max + 1 else np.int32)
    counts = np.bincount(labels, minlength=len(classes))
    short = [f"'{classes[index]}' ({count})" for index, count in enumerate(counts) if count < min_images]
    if short:
        raise DataValidationError(
            source,
            "label",
            f"classes with fewer than {min_images} images: {', '.join(short)}",
            "add images of those classes, or remove them from image_cnn.classes and relabel "
            f"(a stratified train / validation / test split needs at least {min_images} per class)",
        )
    return labels


def ingest_images(
    raw: pd.DataFrame | Mapping[str, np.ndarray], classes: list[str], image_shape: list[int], ingest: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Validate raw images and labels; return uint8 ``images``, ``labels`` and the ``official_test`` flag.

    ``raw`` is either a pixel table (the bundled MNIST digits: one image per row, the
    label last) or ``keras.datasets`` arrays (Fashion-MNIST). Wrong image shapes, NaN,
    fractional or out-of-range pixels, labels outside ``classes`` and classes with too
    few images stop the run with a message naming the source, the field and the fix.
    """
    source = source_of(raw)
    if isinstance(raw, pd.DataFrame):
        images, labels = _from_pixel_table(raw, image_shape, source)
        official_test = np.zeros(len(labels), dtype=bool)
    else:
        images, labels, official_test = _from_arrays(raw, source)
    images = _check_shape(images, image_shape, source)
    _check_pixel_values(images, source, "pixels", int(ingest["max_pixel_value"]))
    labels = _check_labels(labels, classes, source, int(ingest["min_images_per_class"]))
    images = images.astype(np.uint8, copy=False)
    logger.info(
        "Ingested %d images %s from %s: %s per class, %d marked as the official test set",
        len(images),
        images.shape[1:],
        source,
        np.bincount(labels, minlength=len(classes)).tolist(),
        int(official_test.sum()),
    )
    return {"images": images, "labels": labels, "official_test": official_test}


# --- preprocess ---------------------------------------------------------------------


def _cap_per_class(positions: np.ndarray, labels: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """At most ``cap`` randomly chosen positions of each class (all of them for ``None``), in order."""
    if cap is None:
        return positions
    kept = [rng.permutation(positions[labels[positions] == label])[:cap] for label in np.unique(labels[positions])]
    return np.sort(np.concatenate(kept))


def _held_out_size(n_images: int, fraction: float, n_classes: int) -> int:
    """``fraction`` of ``n_images``, but at least one image per class (tiny data sets)."""
    return min(n_images - n_classes, max(n_classes, round(n_images * float(fraction))))


class ImagePreprocessing(Parameters):
    """``image_cnn.preprocessing``: which images train, validate and test."""

    test_split: Literal["stratified", "official"]  # official: the dataset's own test set
    test_fraction: Fraction = 0.2  # of all images, per class (stratified test_split only)
    validation_fraction: Fraction  # of the images left for training, per class: early stopping
    images_per_class: Count | None = None  # keep at most this many random images per class (null: all)


def split_images(images: dict[str, np.ndarray], preprocessing: ImagePreprocessing, seed: int) -> dict[str, np.ndarray]:
    """Stratified, seeded train / validation / test split of uint8 images (no scaling here).

    ``test_split: stratified`` holds out ``test_fraction`` of the images, every class in
    the same proportion; ``official`` keeps the dataset's own test set (Fashion-MNIST's
    10,000). Validation (for early stopping) is ``validation_fraction`` of the rest, again
    stratified; each held-out split gets at least one image per class. ``images_per_class``
    first keeps a random subset of each class (test runs). Each split also records
    ``index_<split>``: the positions of its images in the ingested array.
    """
    labels, official = images["labels"], images["official_test"]
    n_classes = len(np.unique(labels))
    rng = np.random.default_rng(seed)
    cap = preprocessing.images_per_class
    positions = np.arange(len(labels))
    mode = preprocessing.test_split
    if mode == "stratified":
        pool = _cap_per_class(positions, labels, cap, rng)
        rest, test = train_test_split(
            pool, test_size=_held_out_size(len(pool), preprocessing.test_fraction, n_classes), stratify=labels[pool], random_state=seed
        )
    else:  # official
        if not official.any():
            raise DataValidationError(
                "ingested images",
                "official_test",
                "this dataset has no official test set",
                f"set image_cnn.preprocessing.test_split: stratified ({PARAMS_FILE})",
            )
        rest = _cap_per_class(positions[~official], labels, cap, rng)
        test = _cap_per_class(positions[official], labels, cap, rng)
    train, validation = train_test_split(
        rest, test_size=_held_out_size(len(rest), preprocessing.validation_fraction, n_classes), stratify=labels[rest], random_state=seed
    )
    splits: dict[str, np.ndarray] = {}
    for name, chosen in zip(SPLITS, (train, validation, test), strict=True):
        splits[f"x_{name}"] = images["images"][chosen]
        splits[f"y_{name}"] = labels[chosen]
        splits[f"index_{name}"] = chosen
    logger.info("Split (%s test set): train %d, validation %d, test %d images", mode, len(train), len(validation), len(test))
    return splits


def plot_rgb_channels(splits: dict[str, np.ndarray], classes: list[str], reporting: dict[str, Any]) -> Figure:
    """The first training image of each of the first classes beside its red, green and blue channels (grayscale: its one channel)."""
    labels = splits["y_train"]
    shown = np.unique(labels)[: int(reporting["rgb_channel_images"])]
    positions = [int(np.flatnonzero(labels == label)[0]) for label in shown]
    return rgb_channels_figure(splits["x_train"][positions], labels[positions], classes, n=len(positions))


# --- per variant: batches and evaluation (build, train, record: training/steps.py) --------------------------------------------


def model_shapes(splits: dict[str, np.ndarray], image_shape: list[int], classes: list[str]) -> dict[str, Any]:
    """The classifiers' input (height, width, channels) and one softmax output per class, checked against the split images.

    Reading the splits also makes every variant wait for the ingest's validation: a bad raw
    file stops the run before any variant's MLflow run opens. Splits an earlier run saved with
    another ``image_shape`` (``--namespaces`` reruns) stop it here instead of failing in ``fit``.
    """
    height, width = (int(size) for size in image_shape[:2])
    if tuple(splits["x_train"].shape[1:3]) != (height, width):
        raise ValueError(
            f"The saved splits hold {splits['x_train'].shape[1]}×{splits['x_train'].shape[2]} images, but image_cnn.image_shape "
            f"says {height}×{width}: they were made with other settings. Run the ingest again (kedro run --pipelines=image_cnn)."
        )
    channels = splits["x_train"].shape[3] if splits["x_train"].ndim == 4 else 1  # grayscale is stored without a channel axis
    if channels != int(image_shape[2]):
        raise ValueError(
            f"The saved splits hold images with {channels} channel(s), but image_cnn.image_shape says {int(image_shape[2])}: they were "
            "made with other settings. Run the ingest again (kedro run --pipelines=image_cnn)."
        )
    return {"input_shape": [int(size) for size in image_shape], "outputs": len(classes)}


def make_batches(splits: dict[str, np.ndarray], training: TrainingSettings, seed: int) -> dict[str, Any]:
    """``train`` batches reshuffled every epoch and ``validation`` batches, uint8 → float32 / 255 once, cached.

    Validation is the pipeline's validation split, or with ``training.validation_split`` the
    last share of the training images (as Keras' ``validation_split``: the course's MNIST MLP
    holds out 15%). ``y_train`` (the labels the batches train on) is there for class weights.
    The shuffle order depends on TensorFlow's global seed as well as ``seed``; setting it here
    makes the order the same whatever ran before this node.
    """
    tf.random.set_seed(int(seed))
    x_train, y_train = splits["x_train"], splits["y_train"]
    validation = (splits["x_validation"], splits["y_validation"])
    if training.validation_split is not None:
        x_train, y_train, validation = hold_out_last(x_train, y_train, training.validation_split)
    return {
        "train": image_dataset(x_train, y_train, batch_size=training.global_batch_size, shuffle_seed=seed),
        "validation": image_dataset(*validation, batch_size=training.global_batch_size),
        "y_train": y_train,
    }


def evaluate_model(
    model: keras.Model, splits: dict[str, np.ndarray], classes: list[str], evaluation: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Test-split metrics and predictions.

    Returns ``metrics``: ``test_accuracy``, ``test_f1_macro`` (unweighted mean of the per-class
    F1) and ``test_loss`` (cross-entropy); the per-class precision / recall / F1 / support, and the
    confusion matrix (rows: true class, columns: predicted); and the class probabilities.
    """
    y_true = splits["y_test"].astype(np.int64)
    test = image_dataset(splits["x_test"], splits["y_test"], batch_size=int(evaluation["batch_size"]), cache=False)
    probabilities = np.asarray(model.predict(test, verbose=0), dtype=np.float32)
    y_pred = probabilities.argmax(axis=1)
    labels = list(range(len(classes)))
    report = classification_report(y_true, y_pred, labels=labels, target_names=classes, output_dict=True, zero_division=0)
    per_class = {
        name: {
            "precision": float(report[name]["precision"]),
            "recall": float(report[name]["recall"]),
            "f1": float(report[name]["f1-score"]),
            "support": int(report[name]["support"]),
        }
        for name in classes
    }
    results = {
        "metrics": {
            "test_accuracy": float(np.mean(y_pred == y_true)),
            "test_f1_macro": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
            "test_loss": float(np.mean(keras.losses.sparse_categorical_crossentropy(y_true, probabilities))),
        },
        "network": model.name,
        "n_test": len(y_true),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    metrics = results["metrics"]
    logger.info(
        "%s: test accuracy %.4f, macro F1 %.4f on %d images", model.name, metrics["test_accuracy"], metrics["test_f1_macro"], len(y_true)
    )
    return results, {"probabilities": probabilities, "predicted": y_pred.astype(splits["y_test"].dtype)}


def plot_confusion_matrix(evaluation: dict[str, Any], classes: list[str]) -> Figure:
    """The variant's test confusion matrix, logged to its own MLflow run."""
    return confusion_matrix_figure(evaluation["confusion_matrix"], classes, title=f"{evaluation['network']}: test confusion matrix")


# --- report -------------------------------------------------------------------------

COMPARISON_COLUMNS = ("n_params", "test_accuracy", "test_f1_macro", "train_seconds", "epochs_run")


def rank_models(summaries: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The comparison table, best test accuracy first (fewer parameters first on a tie)."""
    table = comparison_table(summaries, COMPARISON_COLUMNS)
    return table.sort_values(["test_accuracy", "n_params"], ascending=[False, True], kind="stable").reset_index(drop=True)


def best_cnn(ranking: pd.DataFrame, models: dict[str, keras.Model]) -> str | None:
    """The most accurate variant that has a convolution layer."""
    return next((name for name in ranking["model"] if first_conv_layer(models[name]) is not None), None)


def inspect_first_layer(model: keras.Model, splits: dict[str, np.ndarray], position: int) -> tuple[np.ndarray, np.ndarray]:
    """First-layer kernel and that layer's feature maps for test image ``position``, scaled as in training."""
    layer = first_conv_layer(model)
    x, _ = next(iter(image_dataset(splits["x_test"][position : position + 1], splits["y_test"][position : position + 1], batch_size=1)))
    return np.asarray(layer.kernel), layer_activations(model, layer, x)[0]


def class_reports(summaries: dict[str, dict[str, Any]], classes: list[str], variants: Sequence[str]) -> list[dict[str, Any]]:
    """Per-class precision / recall / F1 / support and the test confusion matrix of each of ``variants`` that ran.

    What the course prints for its MLPs (scikit-learn's per-class scores, then the confusion
    matrix), from the numbers ``evaluate_model`` recorded. Variants of the list that did not run
    this time (``--namespaces``) are left out.
    """
    return [
        {
            "variant": name,
            "table": pd.DataFrame.from_dict(summaries[name]["per_class"], orient="index").rename_axis("class").reset_index(),
            "confusion_matrix": confusion_matrix_figure(
                summaries[name]["confusion_matrix"], classes, title=f"{name}: test confusion matrix"
            ),
        }
        for name in variants
        if name in summaries
    ]


def build_report(
    summaries: dict[str, dict[str, Any]],
    predictions: dict[str, dict[str, np.ndarray]],
    models: dict[str, keras.Model],
    splits: dict[str, np.ndarray],
    classes: list[str],
    preprocessing: ImagePreprocessing,
    reporting: dict[str, Any],
) -> tuple[pd.DataFrame, Figure, Figure, Figure, Figure, Figure, Figure, Figure, Figure, Figure, str]:
    """The comparison table, nine figures and the HTML report that shows them all.

    Figures: accuracy and loss learning curves of every variant; the best model's test
    confusion matrix and its most confident mistakes; the best CNN's first-layer filters,
    its feature maps for one test image and the patterns that most excite filters of its
    first and last convolutions (gradient ascent); hand-set kernels convolved with that test
    image; a few training images split into their colour channels.
    """
    ranking = rank_models(summaries)
    best = ranking["model"].iloc[0]
    kept = {name: summary["best_epoch"] for name, summary in summaries.items()}
    histories = {name: summary["history"] for name, summary in summaries.items()}
    accuracy_figure = learning_curves(histories, metric="accuracy", log_scale=False, kept_epochs=kept)
    loss_figure = learning_curves(histories, metric="loss", kept_epochs=kept)
    matrix_figure = confusion_matrix_figure(summaries[best]["confusion_matrix"], classes, title=f"{best} (best): test confusion matrix")
    mistakes_figure = misclassified_grid(
        splits["x_test"],
        splits["y_test"],
        predictions[best]["predicted"],
        classes,
        probabilities=predictions[best]["probabilities"],
        limit=int(reporting["misclassified_images"]),
        title=f"{best}: most confident mistakes on the test set",
    )
    cnn = best_cnn(ranking, models)
    if cnn is None:
        raise ValueError(f"image_cnn's report shows the best CNN's filters, but no variant has a Conv2D layer ({PARAMS_FILE}).")
    position = int(reporting["feature_map_image"])
    kernel, maps = inspect_first_layer(models[cnn], splits, position)
    filters = filters_figure(kernel, title=f"{cnn} (best CNN): first-layer filters")
    feature_maps = feature_maps_figure(
        splits["x_test"][position],
        maps,
        title=f"{cnn}: first-layer feature maps of test image {position} (class {classes[splits['y_test'][position]]})",
    )
    conv_layers = conv_layer_names(models[cnn])
    patterns = filter_patterns_figure(
        models[cnn], sorted({conv_layers[0], conv_layers[-1]}, key=conv_layers.index), n_filters=int(reporting["pattern_filters"])
    )
    figures = {
        "accuracy": accuracy_figure,
        "loss": loss_figure,
        "confusion_matrix": matrix_figure,
        "mistakes": mistakes_figure,
        "filters": filters,
        "feature_maps": feature_maps,
        "filter_patterns": patterns,
        "convolution_demo": convolution_demo_figure(splits["x_test"][position]),
        "rgb_channels": plot_rgb_channels(splits, classes, reporting),
    }
    per_class_sections = class_reports(summaries, classes, reporting["per_class_variants"])
    html = render_report(ranking, summaries, splits, classes, preprocessing, reporting, cnn, figures, per_class_sections)
    for section in per_class_sections:  # drawn for the page only (each variant's run logs its own)
        plt.close(section["confusion_matrix"])
    return ranking, *figures.values(), html


def render_report(  # noqa: PLR0913, PLR0917 (the report reads across every variant's outputs)
    ranking: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    splits: dict[str, np.ndarray],
    classes: list[str],
    preprocessing: ImagePreprocessing,
    reporting: dict[str, Any],
    cnn: str,
    figures: dict[str, Figure],
    per_class_sections: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The pipeline's HTML report (template ``image_cnn.html.j2``): verdict, table with the course's figures, data, figures.

    ``per_class_sections``: :func:`class_reports` of the variants ``reporting.per_class_variants`` names.
    """
    best = str(ranking["model"].iloc[0])
    course = reporting["course_results"]
    per_class = pd.DataFrame.from_dict(summaries[best]["per_class"], orient="index").rename_axis("class").reset_index()
    test_counts = np.bincount(splits["y_test"], minlength=len(classes))
    data = {
        "image_shape": tuple(int(size) for size in splits["x_test"].shape[1:]),
        "n_images": {split: len(splits[f"y_{split}"]) for split in ("train", "validation", "test")},
        "test_images_per_class": {name: int(count) for name, count in zip(classes, test_counts, strict=True)},
    }
    return render_template(
        "image_cnn.html.j2",
        preprocessing=preprocessing,
        reporting=reporting,
        classes=classes,
        best=ranking.iloc[0].to_dict(),
        others=ranking.iloc[1:].to_dict(orient="records"),
        table=ranking.assign(course_result=[course.get(name, "") for name in ranking["model"]]),
        per_class=per_class,
        best_cnn=cnn,
        data=data,
        figures=figures,
        class_reports=per_class_sections,
    )
