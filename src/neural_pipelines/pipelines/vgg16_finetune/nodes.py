"""Nodes of ``vgg16_finetune``: transfer learning from a frozen VGG16 or MobileNetV2 base.

Data flow: validate the image folder (``<split>/<class>/<file>``) and the folder of new
pictures (before any training) → (per variant) build the full model ``image → preprocess → base → head``,
compute the frozen part's output for every
image **once** and cache it as a catalog dataset, train the trainable part on the cached
features, evaluate on the validation folder (the test set: the course's datasets have no
other) → predict the classes of a folder of new pictures with the best (or the configured)
variant → report: comparison table, learning curves, misclassified examples, predictions.

A variant without a pretrained base (``from_scratch``, the course's small CNN) has nothing
frozen to cache: it trains as a whole on ``tf.data`` batches decoded from the image files
(:func:`make_batches`, then the shared build and train steps) and is evaluated on the test
folder's files (:func:`evaluate_on_images`), with the same metrics and predictions as the rest.

Why training on cached features gives the same model as training the whole network: the
frozen part (VGG16 blocks 1–4 or 1–5, MobileNetV2) has no dropout, its batch
normalization runs in inference mode, and no augmentation changes the images between
epochs, so its output for an image is the same in every epoch. Computing it once and
feeding it to the trainable part gives exactly the gradients the whole network would give,
without running the expensive frozen layers every epoch (``benchmarks/vgg16_feature_cache.py``
measures the difference). The trainable part is built from the full model's own layer
objects (:func:`neural_pipelines.models.transfer.split_at`), so training it trains the
full model, which is what gets saved, logged and used for prediction.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from neural_pipelines.models import CompileSettings, ModelSettings, OptimizerSettings, compile_model, trainable_count
from neural_pipelines.models.transfer import TRANSFER_MODELS, split_at, unfreeze_top_layers
from neural_pipelines.parameters import ImageSize
from neural_pipelines.reporting import comparison_table, filter_patterns_figure, learning_curves, render_template
from neural_pipelines.reporting.classification import binary_metrics, binary_predictions, image_grid, misclassified_grid
from neural_pipelines.training import TrainingSettings, fit_from_params, seed_everything
from neural_pipelines.training.distribute import built_under, distribution_scope
from neural_pipelines.training.tfdata import image_file_dataset, load_image_array
from neural_pipelines.validation import DEFAULT_MAX_PIXELS, source_of, validate_image_folder

logger = logging.getLogger(__name__)

PARAMS_FILE = "conf/base/parameters_vgg16_finetune.yml"
ROLES = ("train", "test")  # parameter `splits` maps these roles to folder names


# --- ingest -------------------------------------------------------------------------


def validate_images(manifest: pd.DataFrame, classes: list[str], splits: dict[str, str], ingest: dict[str, Any]) -> pd.DataFrame:
    """Check the image folder (splits, classes, every file decodes) and label every image.

    ``splits`` maps the roles ``train`` and ``test`` to split folder names (the course's
    datasets have ``train`` and ``validation``; the validation folder is the test set).
    An image that does not decode, or has more pixels than ``ingest.max_pixels`` (null: no
    limit), stops the run naming it, or is left out with ``ingest.skip_corrupt``.
    Returns the manifest with ``label`` (index in ``classes``), ``mode`` and ``role``.
    """
    missing = [role for role in ROLES if role not in splits]
    if missing:
        raise ValueError(f"vgg16_finetune.splits needs the roles {list(ROLES)} in {PARAMS_FILE}; missing {missing}.")
    folders = [splits[role] for role in ROLES]
    table = validate_image_folder(
        manifest,
        classes=classes,
        splits=folders,
        skip_corrupt=bool(ingest.get("skip_corrupt", False)),
        max_pixels=ingest.get("max_pixels", DEFAULT_MAX_PIXELS),
        max_pixels_setting=f"`vgg16_finetune.ingest.max_pixels` in {PARAMS_FILE}",
    )
    table = table.assign(role=table["split"].map({folder: role for role, folder in zip(ROLES, folders, strict=True)}))
    counts = table.groupby(["role", "class_name"]).size()
    logger.info("vgg16_finetune images: %s", ", ".join(f"{role}/{name} {count}" for (role, name), count in counts.items()))
    return table


def _relative(path: str, root: str | None) -> str:
    """``path`` relative to the folder it was listed from (just the file name if it is not below it)."""
    try:
        return Path(path).relative_to(root).as_posix() if root else Path(path).name
    except ValueError:
        return Path(path).name


def validate_new_images(manifest: pd.DataFrame, predict: dict[str, Any]) -> pd.DataFrame:
    """Check the folder of new pictures up front, before any model is trained.

    Only the predict step, at the end of the run, reads these pictures; a missing or empty
    folder already stopped the run while loading ``new_images@folder``, and a file that does
    not decode, or has more pixels than ``predict.max_pixels`` (null: no limit), stops it
    here (or is left out with ``predict.skip_corrupt``) instead of after all the training.
    Returns ``file`` (the path below the folder, as the predictions name it), ``filepath``
    and ``mode`` per picture.
    """
    table = validate_image_folder(
        manifest,
        classes=None,
        skip_corrupt=bool(predict.get("skip_corrupt", False)),
        max_pixels=predict.get("max_pixels", DEFAULT_MAX_PIXELS),
        max_pixels_setting=f"`vgg16_finetune.predict.max_pixels` in {PARAMS_FILE}",
    )
    if table.empty:
        raise ValueError(f"No picture in {source_of(manifest, 'the new pictures folder')} can be decoded: nothing to predict.")
    root = manifest.attrs.get("source")
    return table.assign(file=[_relative(str(path), root) for path in table["filepath"]])[["file", "filepath", "mode"]]


def _role(images: pd.DataFrame, role: str) -> tuple[list[str], np.ndarray]:
    """File paths and 0/1 labels of one role, in the table's (sorted) order."""
    rows = images[images["role"] == role]
    return rows["filepath"].astype(str).tolist(), rows["label"].to_numpy(dtype=np.float32)


# --- per variant: build, cache, train, evaluate --------------------------------------


def refuse_choices_on_the_test_set(training: TrainingSettings, name: str) -> None:
    """Stop when ``training`` would stop early on, or hold out from, data other than the test folder's as validation.

    The ``val_`` data is the test set (the datasets have no third split): a ``patience``
    would let it choose the epoch, and a ``validation_split`` would validate elsewhere than
    every other variant. Both must be null; every variant trains its ``max_epochs``.
    """
    if training.patience is not None:
        raise ValueError(
            f"training.patience is {training.patience!r} for {name}; set it to null in {PARAMS_FILE}: "
            "validation is the test set here (the datasets have no third split), so stopping early on it "
            "would let the test set choose the epoch."
        )
    if training.validation_split is not None:
        raise ValueError(f"training.validation_split is set for {name}; vgg16_finetune validates on its test folder: set it to null.")


def prepare_fine_tuning(
    model: keras.Model, fine_tuning: dict[str, Any], optimizer: OptimizerSettings, compilation: CompileSettings, source: ModelSettings
) -> keras.Model:
    """The source variant's trained model with the base's last layers unfrozen, compiled anew.

    ``fine_tuning["unfreeze_last_layers"]``: 4 is VGG16's block5 (7,079,424 parameters);
    with the 25,089 of the head, 7,104,513 are trainable at 224×224. ``source`` is the
    source variant's model parameters (its architecture and weights, for the log).
    """
    unfrozen = unfreeze_top_layers(model, int(fine_tuning["unfreeze_last_layers"]))
    compile_model(model, optimizer, compilation)
    logger.info(
        "Fine-tuning %s (%s, weights %s): unfroze %s; %d of %d parameters trainable, optimizer %s",
        model.name,
        dict(source)["architecture"],
        dict(source).get("weights") or "none (random initialization)",
        ", ".join(unfrozen),
        trainable_count(model),
        model.count_params(),
        optimizer,
    )
    return model


def cache_features(model: keras.Model, images: pd.DataFrame, image_size: ImageSize, features: dict[str, Any]) -> dict[str, np.ndarray]:
    """The frozen part's output for every image, computed once: ``x_train``, ``y_train``, ``x_test``, ``y_test``.

    ``features["cut_layer"]`` names the base layer whose output is cached (``null``: the
    whole base). ``fine_tuning`` cuts at ``block4_pool``: blocks 1–4 stay frozen while block5
    trains, so their output is as fixed as a frozen base's, and caching it keeps an epoch of
    fine-tuning to block5 and the head instead of all of VGG16 — the CPU time that makes
    fine-tuning affordable here. Features are float32 (activations, not pixels); ``seconds``
    is the wall time of the one forward pass over all images (decoding and resizing included).
    """
    frozen, _ = split_at(model, features.get("cut_layer"))
    (train_files, train_labels), (test_files, test_labels) = (_role(images, role) for role in ROLES)
    started = time.perf_counter()
    batches = image_file_dataset(train_files + test_files, None, image_size=image_size, batch_size=int(features["batch_size"]), cache=False)
    computed = np.asarray(frozen.predict(batches, verbose=0), dtype=np.float32)  # one pass over both roles
    seconds = time.perf_counter() - started
    arrays = {
        "x_train": computed[: len(train_files)],
        "y_train": train_labels.astype(np.uint8),
        "x_test": computed[len(train_files) :],
        "y_test": test_labels.astype(np.uint8),
    }
    arrays["seconds"] = np.float64(seconds)
    logger.info(
        "%s: cached features %s of %d train and %d test images in %.1fs",
        model.name,
        arrays["x_train"].shape[1:],
        len(arrays["x_train"]),
        len(arrays["x_test"]),
        seconds,
    )
    return arrays


def train_model(
    model: keras.Model,
    features: dict[str, np.ndarray],
    optimizer: OptimizerSettings,
    compilation: CompileSettings,
    training: TrainingSettings,
    feature_settings: dict[str, Any],
    seed: int,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train the trainable part on cached features; return the full model (now trained) and the fit record.

    The trainable part (head, plus block5 when fine-tuning) shares its layer objects with
    ``model``, so ``model`` holds the trained weights afterwards. The record's ``n_params``
    and ``n_trainable_params`` are the full model's; ``feature_seconds`` (a metric of the run) is
    the caching time, reported apart from ``train_seconds`` (the fit alone). The record also names the feature
    layer (``cut_layer``, ``None``: the whole base) and the layers that trained, for the report.

    ``training.patience`` must be ``None``: the ``val_`` data is the test set (the datasets
    have no third split), and early stopping on it would let the test set choose the epoch.
    """
    refuse_choices_on_the_test_set(training, model.name)
    if not built_under(model, training.distribution):
        raise ValueError(
            f"training.distribution is {training.distribution} for {model.name}, but its model was not built under that strategy "
            f"(a continue_from variant starts from the other variant's .keras file, which loads with plain variables). "
            f"Set training.distribution: none for this variant in {PARAMS_FILE}: it trains the unfrozen layers on cached features."
        )
    with distribution_scope(training.distribution):  # the trainable part shares the model's (mirrored) layers
        _, top = split_at(model, feature_settings.get("cut_layer"))
        compile_model(top, optimizer, compilation)
    seed_everything(seed)
    train, test = (features["x_train"], features["y_train"]), (features["x_test"], features["y_test"])
    record = fit_from_params(top, train, test, training, seed, labels=features["y_train"])
    record |= {
        "n_params": int(model.count_params()),
        "n_trainable_params": trainable_count(model),
        "metrics": {"feature_seconds": round(float(features["seconds"]), 3)},
        "feature_shape": list(features["x_train"].shape[1:]),
        "cut_layer": feature_settings.get("cut_layer"),
        "trained_layers": [layer.name for layer in top.layers if layer.trainable_weights],
        # how much the cached features vary between training images (mean per-feature
        # standard deviation); ~0 means the frozen part gives every image the same features
        "feature_spread": float(features["x_train"].reshape(len(features["x_train"]), -1).std(axis=0).mean()),
    }
    return model, record


def make_batches(images: pd.DataFrame, image_size: ImageSize, training: TrainingSettings, seed: int) -> dict[str, Any]:
    """``train`` batches decoded from the training files (reshuffled every epoch), the test folder's as ``validation``.

    For a variant trained as a whole from random weights (``from_scratch``): no part of it is
    fixed, so no features can be cached and every epoch runs the whole network on the images
    (decoded once, kept in memory as uint8, reshuffled every epoch; raw RGB 0..255, which the
    model rescales itself). ``y_train`` holds the training labels (for ``class_weight``). The
    global seed is set so that the shuffle order is the same whatever ran before this node.
    """
    refuse_choices_on_the_test_set(training, "a variant trained on the images")
    tf.random.set_seed(int(seed))
    (train_files, train_labels), (test_files, test_labels) = (_role(images, role) for role in ROLES)
    batch_size = training.global_batch_size  # per replica × replicas (training.distribution)
    return {
        "train": image_file_dataset(train_files, train_labels, image_size=image_size, batch_size=batch_size, shuffle_seed=seed),
        "validation": image_file_dataset(test_files, test_labels, image_size=image_size, batch_size=batch_size),
        "y_train": train_labels,
    }


def _call(model: keras.Model, batches: Any) -> np.ndarray:
    """``model``'s outputs for a few batches, computed eagerly (no graph to trace for a handful of images), flattened."""
    return np.concatenate([np.asarray(model(batch, training=False)).reshape(-1) for batch in batches])


def save_model(model: keras.Model) -> keras.Model:
    """The trained model, handed on to be saved as a versioned ``.keras`` file and logged to MLflow.

    A node of its own so that this run's evaluation and prediction use the model in memory
    (``trained_model``) instead of reading a file of up to 60 MB back several times.
    """
    return model


def evaluate_model(
    model: keras.Model,
    features: dict[str, np.ndarray],
    images: pd.DataFrame,
    image_size: ImageSize,
    feature_settings: dict[str, Any],
    evaluation: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Test metrics (``binary_metrics`` of the sigmoid output) and per-image test predictions.

    Predictions come from the trainable part on the cached test features; the full model is
    run on the first ``evaluation["check_images"]`` test image files as well, and the run
    stops if the two disagree by more than ``check_tolerance`` (they are the same network).
    """
    _, top = split_at(model, feature_settings.get("cut_layer"))
    batch_size = int(evaluation["batch_size"])
    threshold = float(evaluation.get("threshold", 0.5))
    probabilities = np.asarray(top.predict(features["x_test"], batch_size=batch_size, verbose=0), dtype=np.float32).reshape(-1)
    files, labels = _role(images, "test")
    n_check = min(int(evaluation.get("check_images", 0)), len(files))
    difference = 0.0
    if n_check:
        direct = _call(model, image_file_dataset(files[:n_check], None, image_size=image_size, batch_size=batch_size, cache=False))
        difference = float(np.abs(direct - probabilities[:n_check]).max())
        if difference > float(evaluation["check_tolerance"]):
            raise RuntimeError(
                f"{model.name}: the full model and its trainable part on cached features disagree by {difference:.3g} "
                f"on the first {n_check} test images (tolerance {evaluation['check_tolerance']}): the cached features "
                "were not computed by this model's frozen part: run the variant from its cache_features node "
                "(or the whole pipeline) again."
            )
    y_true = features["y_test"].astype(np.int64)
    if not np.array_equal(y_true, labels.astype(np.int64)):
        raise RuntimeError(
            "The cached features' labels are not the validated images' labels: the image folder changed; run the pipeline again."
        )
    results, predictions = score_test_set(y_true, probabilities, threshold)
    results["full_model_check"] = {"images": n_check, "max_abs_difference": difference}
    logger.info(
        "%s: test accuracy %.4f, AUC %.4f, loss %.4f on %d images (full model vs cached features: max difference %.2g on %d)",
        model.name,
        *results["metrics"].values(),
        len(y_true),
        difference,
        n_check,
    )
    return results, predictions


def evaluate_on_images(
    model: keras.Model, images: pd.DataFrame, image_size: ImageSize, evaluation: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """:func:`evaluate_model`'s metrics and predictions for a model trained on the images: the full model on the test files.

    Also states what trained, for the report: ``trained_on`` ``images`` and every layer with
    weights (``trained_layers``), as the cached-feature variants state their trainable part.
    """
    files, labels = _role(images, "test")
    batches = image_file_dataset(files, None, image_size=image_size, batch_size=int(evaluation["batch_size"]), cache=False)
    probabilities = np.asarray(model.predict(batches, verbose=0), dtype=np.float32).reshape(-1)
    results, predictions = score_test_set(labels.astype(np.int64), probabilities, float(evaluation.get("threshold", 0.5)))
    results |= {"trained_on": "images", "trained_layers": [layer.name for layer in model.layers if layer.trainable_weights]}
    logger.info("%s: test accuracy %.4f, AUC %.4f, loss %.4f on %d images", model.name, *results["metrics"].values(), len(files))
    return results, predictions


def score_test_set(y_true: np.ndarray, probabilities: np.ndarray, threshold: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every variant's test metrics (``binary_metrics`` of P(``classes[1]``)), confusion matrix and per-image predictions."""
    predicted = binary_predictions(probabilities, threshold).astype(np.uint8)
    metrics = binary_metrics(y_true, probabilities, threshold)
    results = {
        "metrics": {f"test_{name}": metrics[name] for name in ("accuracy", "auc", "loss")},
        **{f"test_{name}": metrics[name] for name in ("precision", "recall", "f1")},
        "n_test": len(y_true),
        "threshold": threshold,
        "confusion_matrix": confusion_matrix(y_true, predicted, labels=[0, 1]).tolist(),  # rows: true class, columns: predicted
    }
    return results, {"probabilities": probabilities, "predicted": predicted, "labels": y_true.astype(np.uint8)}


# --- across variants: predict new images, report ------------------------------------


def rank_models(summaries: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The comparison table, best test accuracy first (then AUC; fewer trainable parameters on a tie)."""
    columns = ("n_params", "n_trainable_params", "test_accuracy", "test_auc", "test_loss", "train_seconds", "feature_seconds", "epochs_run")
    table = comparison_table(summaries, columns)
    return table.sort_values(
        ["test_accuracy", "test_auc", "n_trainable_params"], ascending=[False, False, True], kind="stable", na_position="last"
    ).reset_index(drop=True)


def choose_model(summaries: dict[str, dict[str, Any]], configured: str | None) -> str:
    """The configured variant, or the best one by test accuracy."""
    if configured:
        if configured not in summaries:
            raise ValueError(
                f"vgg16_finetune.predict.model is {configured!r}; use one of {sorted(summaries)} or null (the best) in {PARAMS_FILE}."
            )
        return configured
    return str(rank_models(summaries)["model"].iloc[0])


def predict_new_images(
    manifest: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    models: dict[str, keras.Model],
    classes: list[str],
    image_size: ImageSize,
    predict: dict[str, Any],
) -> pd.DataFrame:
    """Per-file predictions for a folder of new pictures: ``file, predicted_class, confidence, model``.

    ``manifest`` is :func:`validate_new_images`' table (checked before training). The
    sigmoid output p is P(``classes[1]``): the predicted class is ``classes[1]`` when p ≥ ``threshold``,
    and the confidence is the probability of the
    predicted class, max(p, 1 − p) at the default threshold 0.5.
    """
    name = choose_model(summaries, predict.get("model"))
    threshold = float(predict.get("threshold", 0.5))
    paths = manifest["filepath"].astype(str).tolist()
    batches = image_file_dataset(paths, None, image_size=image_size, batch_size=int(predict["batch_size"]), cache=False)
    p = _call(models[name], batches).astype(np.float64)
    positive = binary_predictions(p, threshold).astype(bool)
    table = pd.DataFrame(
        {
            "file": manifest["file"].astype(str).tolist(),
            "predicted_class": np.where(positive, classes[1], classes[0]),
            "confidence": np.where(positive, p, 1.0 - p).round(6),
            "model": name,
        }
    )
    logger.info(
        "Predicted %d new images with %s: %s",
        len(table),
        name,
        ", ".join(f"{label} {count}" for label, count in table["predicted_class"].value_counts().items()),
    )
    return table


def predictions_grid(new_images: pd.DataFrame, new_predictions: pd.DataFrame, image_size: ImageSize) -> Figure:
    """The new pictures, each captioned with its predicted class and confidence."""
    paths = dict(zip(new_images["file"].astype(str), new_images["filepath"].astype(str), strict=True))
    rows = list(new_predictions.itertuples())
    pictures = load_image_array([paths[row.file] for row in rows], image_size)
    model = rows[0].model if rows else "no model"
    return image_grid(
        pictures, [f"{row.predicted_class} ({row.confidence:.0%})" for row in rows], title=f"New pictures, predicted by {model}"
    )


def build_report(  # noqa: PLR0913, PLR0917 (the report reads across every variant's outputs)
    summaries: dict[str, dict[str, Any]],
    predictions: dict[str, dict[str, np.ndarray]],
    settings: dict[str, dict[str, Any]],
    models: dict[str, keras.Model],
    images: pd.DataFrame,
    new_images: pd.DataFrame,
    new_predictions: pd.DataFrame,
    classes: list[str],
    image_size: ImageSize,
    reporting: dict[str, Any],
) -> tuple[pd.DataFrame, Figure, Figure, Figure, Figure, Figure, str]:
    """The comparison table, five figures and the HTML report that shows them.

    Figures: accuracy and loss learning curves of every variant, the best variant's most
    confident mistakes on the test set, the new pictures with their predictions, and what
    filters of VGG16's block convolutions respond to most (gradient ascent on the input).
    ``settings`` holds each variant's base model parameters (architecture, ``weights``);
    ``new_images`` is the validated table of the pictures that ``new_predictions`` covers.
    """
    ranking = rank_models(summaries)
    best = str(ranking["model"].iloc[0])
    histories = {name: summary["history"] for name, summary in summaries.items()}
    kept = {name: summary["epochs_run"] for name, summary in summaries.items()}
    accuracy_figure = learning_curves(histories, metric="accuracy", log_scale=False, kept_epochs=kept)
    loss_figure = learning_curves(histories, metric="loss", kept_epochs=kept)
    test_files, _ = _role(images, "test")
    result = predictions[best]
    wrong = np.flatnonzero(result["predicted"] != result["labels"])
    mistakes_figure = misclassified_grid(
        load_image_array([test_files[i] for i in wrong], image_size),
        result["labels"][wrong],
        result["predicted"][wrong],
        classes,
        probabilities=result["probabilities"][wrong],
        limit=int(reporting["misclassified_images"]),
        title=f"{best}: most confident mistakes on the test set",
    )
    new_figure = predictions_grid(new_images, new_predictions, image_size)
    figures = {
        "accuracy": accuracy_figure,
        "loss": loss_figure,
        "mistakes": mistakes_figure,
        "new_pictures": new_figure,
        "filter_patterns": vgg16_filter_patterns(models, settings, reporting),
    }
    html = render_report(ranking, summaries, settings, images, new_predictions, classes, image_size, reporting, figures)
    return ranking, *figures.values(), html


def vgg16_filter_patterns(models: dict[str, keras.Model], settings: dict[str, Any], reporting: dict[str, Any]) -> Figure:
    """Patterns that most excite filters of VGG16's ``reporting.pattern_layers``, in the first variant built on VGG16.

    The patterns are the base's, whatever head trained on it; with random weights (no
    ImageNet file, as in the base environment) the figure says they mean nothing.
    """
    name = next((name for name, model in settings.items() if dict(model).get("architecture") == "vgg16" and name in models), None)
    if name is None:
        raise ValueError(f"vgg16_finetune's report draws VGG16's filter patterns, but no variant built on vgg16 ran ({PARAMS_FILE}).")
    return filter_patterns_figure(
        models[name],
        list(reporting["pattern_layers"]),
        n_filters=int(reporting["pattern_filters"]),
        input_range=(0.0, 255.0),  # the model takes raw RGB and preprocesses it itself
        random_weights=dict(settings[name]).get("weights") is None,
    )


def render_report(  # noqa: PLR0913, PLR0917 (the report reads across every variant's outputs)
    ranking: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    settings: dict[str, dict[str, Any]],
    images: pd.DataFrame,
    new_predictions: pd.DataFrame,
    classes: list[str],
    image_size: ImageSize,
    reporting: dict[str, Any],
    figures: dict[str, Figure],
) -> str:
    """The pipeline's HTML report (template ``vgg16_finetune.html.j2``): the weights caveat, verdict, table, data, figures.

    Computes what the sentences state: each pretrained base's weights (``None``: random) and
    whether all are ImageNet's, the variants whose cached features are (nearly) constant, what
    each variant trains on which cached output or on the images (from its summary), how the
    variants trained from scratch fit their training images, and the folder counts. A variant
    without a pretrained base (``from_scratch``) has no base weights and no cached features.
    """
    base_weights = {name: dict(model).get("weights") for name, model in settings.items() if _has_pretrained_base(model)}
    course = reporting["course_results"]
    threshold = float(reporting["constant_features_below"])
    constant = [
        {"model": name, "spread": summary["feature_spread"], "random_mobilenet_v2": _is_random_mobilenet_v2(settings[name])}
        for name, summary in summaries.items()
        if summary.get("feature_spread") is not None and summary["feature_spread"] < threshold
    ]
    scratch = [
        {
            "model": name,
            "test_accuracy": summaries[name]["test_accuracy"],
            "train_accuracy": summaries[name]["history"]["accuracy"][-1],  # the last epoch's, as the course's curves show it
            "epochs_run": summaries[name]["epochs_run"],
            "course_result": course.get(name, ""),
        }
        for name in ranking["model"]
        if name not in base_weights
    ]
    counts = images.groupby(["role", "split", "class_name"]).size()
    data = {
        "folder": os.path.commonpath(images["filepath"].astype(str).tolist()),
        "images_per_folder": [{"split": split, "class_name": name, "count": int(count)} for (_, split, name), count in counts.items()],
    }
    return render_template(
        "vgg16_finetune.html.j2",
        reporting=reporting,
        classes=classes,
        image_size=[int(size) for size in image_size],
        base_weights=base_weights,
        all_pretrained=all(weights == "imagenet" for weights in base_weights.values()),
        best=ranking.iloc[0].to_dict(),
        others=ranking.iloc[1:].to_dict(orient="records"),
        constant_features=constant,
        random_mobilenet_v2_is_constant=any(variant["random_mobilenet_v2"] for variant in constant),
        from_scratch=scratch,
        table=ranking.assign(
            # a variant trained on the images cached nothing: a dash, not NaN
            feature_seconds=[("–" if pd.isna(seconds) else f"{seconds:.4g}") for seconds in ranking["feature_seconds"]],
            weights=[_weights_cell(name, base_weights) for name in ranking["model"]],
            course_result=[course.get(name, "") for name in ranking["model"]],
        ),
        folders={role: str(images.loc[images["role"] == role, "split"].iloc[0]) for role in ROLES},
        trained_parts=[
            {
                "model": name,
                "trained_layers": summary["trained_layers"],
                "cut_layer": summary.get("cut_layer"),
                "on_images": summary.get("trained_on") == "images",
            }
            for name, summary in summaries.items()
        ],
        data=data,
        new_predictions=new_predictions,
        figures=figures,
    )


def _has_pretrained_base(model: ModelSettings) -> bool:
    """Whether the variant's network is a (pretrained or random) base under a head, not a network trained from scratch."""
    return dict(model).get("architecture") in TRANSFER_MODELS


def _weights_cell(name: str, base_weights: dict[str, str | None]) -> str:
    """The comparison table's ``weights``: the base's, or that a network trained from scratch has none to start from."""
    if name not in base_weights:
        return "none (trained from scratch)"
    return base_weights[name] or "none (random)"


def _is_random_mobilenet_v2(model: ModelSettings) -> bool:
    """A MobileNetV2 base without pretrained weights: its cached features are expected to be constant."""
    settings = dict(model)  # the validated block, or a plain mapping
    return settings.get("architecture") == "mobilenet_v2" and settings.get("weights") is None
