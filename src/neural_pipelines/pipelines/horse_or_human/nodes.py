"""Nodes of ``horse_or_human``: the course's CNN without and with augmentation + dropout.

Data flow: validate the image folder (every file decodes; both classes in both splits) →
(per variant) build, fit on ``tf.data`` batches read from the training files (decoded and
resized to ``image_size``, raw RGB 0..255: the model rescales itself, so a logged model
takes raw pixels), evaluate on the validation split and on the training images without
augmentation → report: comparison table, both models' learning curves, augmented samples of
one training image, each model's misclassified validation images, and both
train–validation accuracy gaps.

The dataset (the course's, and the generated sample that mirrors it) has only a training
and a validation split, so the validation split is the test set. Training therefore runs a
fixed number of epochs, as in the course: nothing stops early or picks a model on it.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from neural_pipelines.models.image_classifiers import AUGMENTATION_LAYER
from neural_pipelines.parameters import ImageSize
from neural_pipelines.reporting import comparison_table, learning_curves, render_template
from neural_pipelines.reporting.classification import binary_metrics, binary_predictions, image_grid, misclassified_grid
from neural_pipelines.training import TrainingSettings, image_file_dataset, load_image_array
from neural_pipelines.validation import DEFAULT_MAX_PIXELS, validate_image_folder

logger = logging.getLogger(__name__)

PARAMS_FILE = "conf/base/parameters_horse_or_human.yml"
MANIFEST_COLUMNS = ["split", "class_name", "label", "filepath", "mode"]


# --- ingest -------------------------------------------------------------------------


def validate_images(raw_images: pd.DataFrame, classes: list[str], splits: list[str], ingest: dict[str, Any]) -> pd.DataFrame:
    """Check the image folder and return its manifest with a ``label`` per file.

    ``raw_images`` is an ``ImageFolderDataset`` manifest (``split``, ``class_name``,
    ``filepath``). Every file is decoded once; RGB, RGBA, grayscale and palette images pass
    (all are read as RGB later). A file that does not decode, or is not a PNG, JPEG, GIF or
    BMP (what training's TensorFlow reads), stops the run with its path — or, with
    ``ingest.skip_corrupt: true``, is left out with one warning. So is an image with more
    pixels than ``ingest.max_pixels`` (read from its header, never decoded; null: no limit).
    Missing class or split folders, and unknown class folders, stop the run naming the folder.
    """
    if len(classes) != 2 or len(splits) != 2:
        raise ValueError(
            f"horse_or_human is a binary classifier trained on one split and tested on another: "
            f"set exactly two classes (got {classes}) and two splits, training first (got {splits}) in {PARAMS_FILE}."
        )
    images = validate_image_folder(
        raw_images,
        classes,
        splits,
        skip_corrupt=bool(ingest.get("skip_corrupt", False)),
        max_pixels=ingest.get("max_pixels", DEFAULT_MAX_PIXELS),
        max_pixels_setting=f"`horse_or_human.ingest.max_pixels` in {PARAMS_FILE}",
    )
    counts = images.groupby(["split", "class_name"]).size()
    logger.info("Images per split and class: %s", ", ".join(f"{split}/{name} {count}" for (split, name), count in counts.items()))
    return images.loc[:, MANIFEST_COLUMNS]


def split_files(images: pd.DataFrame, split: str) -> tuple[list[str], np.ndarray]:
    """The file paths and float32 0/1 labels of one split, in the manifest's (sorted) order."""
    rows = images[images["split"] == split]
    return rows["filepath"].astype(str).tolist(), rows["label"].to_numpy(dtype=np.float32)


# --- per variant: batches and evaluation (build, train, record: training/steps.py) --------------------------------------------


def make_batches(images: pd.DataFrame, image_size: ImageSize, splits: list[str], training: TrainingSettings, seed: int) -> dict[str, Any]:
    """``train`` batches of the training files, reshuffled every epoch, and ``validation`` batches of the test split.

    The validation split is the test set, so it must not stop training or choose the epoch:
    ``training.patience`` must be null (a value raises ``ValueError``); every variant trains
    all ``max_epochs`` and the validation curves are only recorded. The model's augmentation
    layers (if any) transform each training batch anew inside ``fit``. Setting TensorFlow's
    global seed makes the shuffle order the same whatever ran before this node.
    """
    if training.patience is not None:
        raise ValueError(
            f"training.patience is {training.patience!r}, but horse_or_human's validation split "
            f"({splits[1]}) is its test set: early stopping on it would choose the epoch on the test data and bias "
            f"test_accuracy. Set `patience: null` (train all max_epochs, as in the course) in {PARAMS_FILE}."
        )
    if training.validation_split is not None:
        raise ValueError(
            f"training.validation_split is {training.validation_split!r}, but horse_or_human validates on its "
            f"{splits[1]} folder. Set `validation_split: null` in {PARAMS_FILE}."
        )
    tf.random.set_seed(int(seed))
    batch_size = training.global_batch_size  # per replica × replicas (training.distribution)
    train_files, train_labels = split_files(images, splits[0])
    test_files, test_labels = split_files(images, splits[1])
    return {
        "train": image_file_dataset(train_files, train_labels, image_size=image_size, batch_size=batch_size, shuffle_seed=seed),
        "validation": image_file_dataset(test_files, test_labels, image_size=image_size, batch_size=batch_size),
        "y_train": np.asarray(train_labels),
    }


def has_augmentation(model: keras.Model) -> bool:
    """Whether the model has the augmentation block of ``build_horse_or_human_cnn``."""
    return any(layer.name == AUGMENTATION_LAYER for layer in model.layers)


def dropout_rate(model: keras.Model) -> float | None:
    """The rate of the model's (last) Dropout layer, None without one."""
    rates = [float(layer.rate) for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    return rates[-1] if rates else None


def predict_probabilities(model: keras.Model, filepaths: list[str], image_size: ImageSize, batch_size: int) -> np.ndarray:
    """P(class 1) for each file, with augmentation and dropout off (inference mode)."""
    dataset = image_file_dataset(filepaths, None, image_size=image_size, batch_size=batch_size, cache=False)
    return np.asarray(model.predict(dataset, verbose=0), dtype=np.float64).reshape(-1)


#: What each variant's MLflow run logs as final metrics (the rest of the evaluation is in its JSON).
LOGGED_METRICS = ("test_accuracy", "test_auc", "test_loss", "train_accuracy", "accuracy_gap")


def evaluate_model(
    model: keras.Model, images: pd.DataFrame, classes: list[str], image_size: ImageSize, splits: list[str], evaluation: dict[str, Any]
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Validation (= test) metrics, training accuracy without augmentation, and per-file predictions.

    Returns ``test_accuracy``, ``test_auc``, ``test_loss`` (binary cross-entropy),
    ``test_precision`` / ``test_recall`` / ``test_f1`` (of ``classes[1]``), the confusion
    matrix, ``train_accuracy`` / ``train_loss`` on the un-augmented training images, and
    ``accuracy_gap`` = train − test accuracy (overfitting; smaller is better); and a table of
    every validation file with its true class, P(``classes[1]``) and the predicted class.
    """
    batch_size, threshold = int(evaluation["batch_size"]), float(evaluation["threshold"])
    results: dict[str, Any] = {"network": model.name}
    outcomes = {}
    for prefix, split in (("train", splits[0]), ("test", splits[1])):
        files, labels = split_files(images, split)
        probabilities = predict_probabilities(model, files, image_size, batch_size)
        metrics = binary_metrics(labels, probabilities, threshold)
        results |= {f"{prefix}_{name}": value for name, value in metrics.items()}
        results[f"n_{prefix}"] = len(files)
        outcomes[prefix] = (files, labels.astype(np.int64), probabilities)
    files, labels, probabilities = outcomes["test"]
    predicted = binary_predictions(probabilities, threshold)
    results["accuracy_gap"] = results["train_accuracy"] - results["test_accuracy"]
    results["confusion_matrix"] = confusion_matrix(labels, predicted, labels=[0, 1]).tolist()  # rows: true, columns: predicted
    results["augmented"], results["dropout"] = has_augmentation(model), dropout_rate(model)
    results["metrics"] = {name: results.pop(name) for name in LOGGED_METRICS}
    logger.info(
        "%s: validation (test) accuracy %.4f, AUC %.4f; training accuracy %.4f without augmentation; gap %.4f",
        model.name,
        *(results["metrics"][name] for name in ("test_accuracy", "test_auc", "train_accuracy", "accuracy_gap")),
    )
    predictions = pd.DataFrame(
        {
            "filepath": files,
            "class_name": [classes[label] for label in labels],
            "label": labels,
            f"probability_{classes[1]}": probabilities,
            "predicted": [classes[label] for label in predicted],
            "predicted_label": predicted,
        }
    )
    return results, predictions


def misclassified_figure(
    name: str, predictions: pd.DataFrame, images: np.ndarray, classes: list[str], limit: int, threshold: float = 0.5
) -> Figure:
    """The model's most confident mistakes on the validation images (``images``: uint8, in ``predictions``' order)."""
    probability = predictions[f"probability_{classes[1]}"].to_numpy()
    n_wrong = int((predictions["label"] != predictions["predicted_label"]).sum())
    return misclassified_grid(
        images,
        predictions["label"].to_numpy(),
        binary_predictions(probability, threshold),
        classes,
        probabilities=probability,
        limit=limit,
        title=f"{name}: {n_wrong} of {len(predictions)} validation images misclassified, most confident first",
    )


def plot_misclassified(
    evaluation: dict[str, Any],
    predictions: pd.DataFrame,
    classes: list[str],
    image_size: ImageSize,
    evaluation_params: dict[str, Any],
    reporting: dict[str, Any],
) -> Figure:
    """The variant's misclassified validation images, logged to its own MLflow run."""
    images = load_image_array(predictions["filepath"].tolist(), image_size)
    return misclassified_figure(
        evaluation["network"], predictions, images, classes, int(reporting["misclassified_images"]), float(evaluation_params["threshold"])
    )


# --- report -------------------------------------------------------------------------

COMPARISON_COLUMNS = ("n_params", "test_accuracy", "test_auc", "train_accuracy", "accuracy_gap", "train_seconds", "epochs_run")


def accuracy_gaps(summaries: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every model's train–validation accuracy gap, and how each augmented model's gap compares.

    Each model with augmentation is compared with the first model without it (none when
    either kind is missing); the report's verdict says which way it went, whichever way the
    numbers go. Gaps and differences are in percentage points.
    """
    models = [
        {
            "name": name,
            "train_accuracy": summary["train_accuracy"],
            "test_accuracy": summary["test_accuracy"],
            "gap_points": 100 * summary["accuracy_gap"],
        }
        for name, summary in summaries.items()
    ]
    plain = [name for name, summary in summaries.items() if not summary["augmented"]]
    effects = []
    if plain:
        base = summaries[plain[0]]["accuracy_gap"]
        effects = [
            {
                "model": name,
                "baseline": plain[0],
                "reduced": bool(summary["accuracy_gap"] < base),
                "difference_points": abs(100 * (summary["accuracy_gap"] - base)),
            }
            for name, summary in summaries.items()
            if summary["augmented"]
        ]
    return {"models": models, "augmentation_effects": effects}


def augmentation_source(models: dict[str, keras.Model]) -> tuple[str, keras.layers.Layer] | None:
    """The first variant whose model augments its input, with its augmentation block."""
    for name, model in models.items():
        if has_augmentation(model):
            return name, model.get_layer(AUGMENTATION_LAYER)
    return None


def augmented_samples_figure(augmentation: keras.layers.Layer, image: np.ndarray, count: int, title: str) -> Figure:
    """One uint8 RGB image and ``count`` random augmentations of it, as the model sees them in training."""
    batch = np.repeat(image[None].astype(np.float32), count, axis=0)
    augmented = np.asarray(augmentation(batch, training=True))
    samples = np.concatenate([image[None], np.clip(np.round(augmented), 0, 255).astype(np.uint8)])
    return image_grid(samples, ["original"] + [f"augmented {i}" for i in range(1, count + 1)], ncols=6, title=title, cell_inches=1.8)


def no_augmentation_figure() -> Figure:
    """Placeholder when no variant augments (a configuration without ``cnn_augmented``)."""
    return image_grid(np.zeros((1, 8, 8, 3), np.uint8), ["no variant augments its input"], ncols=1)


def build_report(  # noqa: PLR0913, PLR0917 (the report reads across every variant's outputs)
    summaries: dict[str, dict[str, Any]],
    predictions: dict[str, pd.DataFrame],
    models: dict[str, keras.Model],
    images: pd.DataFrame,
    classes: list[str],
    image_size: ImageSize,
    splits: list[str],
    evaluation: dict[str, Any],
    reporting: dict[str, Any],
) -> tuple[pd.DataFrame, Figure, Figure, Figure, str]:
    """The comparison table, learning curves, augmented samples and the HTML report.

    The report also shows each model's misclassified validation images (drawn again here
    from the saved predictions, the same figure each variant's run holds).
    """
    table = comparison_table(summaries, COMPARISON_COLUMNS)
    kept = {name: summary["epochs_run"] for name, summary in summaries.items()}  # fixed epochs: the last one's weights
    histories = {name: summary["history"] for name, summary in summaries.items()}
    accuracy_figure = learning_curves(histories, metric="accuracy", log_scale=False, kept_epochs=kept)
    loss_figure = learning_curves(histories, metric="loss", kept_epochs=kept)

    train_files, _ = split_files(images, splits[0])
    position = int(reporting["augmentation_image"]) % len(train_files)
    source = augmentation_source(models)
    if source is None:
        samples_figure = no_augmentation_figure()
    else:
        name, augmentation = source
        sample = load_image_array([train_files[position]], image_size)[0]
        samples_figure = augmented_samples_figure(
            augmentation,
            sample,
            int(reporting["augmented_samples"]),
            title=f"{name}: training image {position} and random augmentations of it",
        )

    first = next(iter(predictions.values()))
    validation_images = load_image_array(first["filepath"].tolist(), image_size)
    mistakes = {}
    for name, frame in predictions.items():
        if frame["filepath"].tolist() != first["filepath"].tolist():
            raise ValueError(f"{name}'s predictions list other validation files than the first variant's.")
        mistakes[name] = misclassified_figure(
            name, frame, validation_images, classes, int(reporting["misclassified_images"]), float(evaluation["threshold"])
        )
    figures = {"accuracy": accuracy_figure, "loss": loss_figure, "samples": samples_figure, "mistakes": mistakes}
    html = render_report(table, summaries, images, classes, image_size, splits, reporting, figures)
    return table, accuracy_figure, loss_figure, samples_figure, html


def render_report(  # noqa: PLR0913, PLR0917 (the report reads across every variant's outputs)
    table: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    images: pd.DataFrame,
    classes: list[str],
    image_size: ImageSize,
    splits: list[str],
    reporting: dict[str, Any],
    figures: dict[str, Any],
) -> str:
    """The pipeline's HTML report (template ``horse_or_human.html.j2``): the gaps in words, the table, the data, the figures."""
    course = reporting["course_results"]
    counts = images.groupby(["split", "class_name"]).size()
    data = {
        "images_per_class": [{"split": split, "class_name": name, "count": int(count)} for (split, name), count in counts.items()],
        "file_modes": {mode: int(count) for mode, count in images["mode"].value_counts().items()},
    }
    return render_template(
        "horse_or_human.html.j2",
        reporting=reporting,
        classes=classes,
        splits=splits,
        image_size=[int(size) for size in image_size],
        gaps=accuracy_gaps(summaries),
        table=table.assign(course_result=[course.get(name, "") for name in table["model"]]),
        data=data,
        figures=figures,
    )
