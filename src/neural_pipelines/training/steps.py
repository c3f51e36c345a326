"""The node functions every model variant shares: seeded build, train, record results.

Each experiment wires them into its variant template (``pipelines/variants.py``); what is
specific to an experiment — how its data becomes training arrays or batches, how it scores
a model — stays in its own ``nodes.py``. Every variant therefore leaves the same records:

- ``fit_record``: per-epoch ``history``, ``train_seconds``, ``epochs_run``, ``best_epoch``,
  ``n_params``, ``n_trainable_params`` (plus what an experiment adds, e.g. ``feature_seconds``);
- ``evaluation``: ``metrics`` (final scalars such as ``test_accuracy``), optionally ``by_step``
  (series such as ``test_mae_by_horizon``), and any details the report needs;
- ``summary``: :data:`SUMMARY_KEYS`, the final metrics, ``history`` and those details, the
  one schema every report and notebook reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from neural_pipelines.models import CompileSettings, ModelSettings, OptimizerSettings, build_architecture, compile_model
from neural_pipelines.models.compile import trainable_count
from neural_pipelines.parameters import ImageSize
from neural_pipelines.training.distribute import distribution_scope
from neural_pipelines.training.fit import TrainingSettings, fit_from_params, seed_everything
from neural_pipelines.training.metrics import mlflow_metric_history

logger = logging.getLogger(__name__)

#: What every variant's summary states, trained or not (a baseline has no epochs).
SUMMARY_KEYS = ("n_params", "n_trainable_params", "epochs_run", "best_epoch", "train_seconds")

#: The fit record of a variant that does not train (a naive forecast).
NOT_TRAINED: dict[str, Any] = {
    "history": {},
    "train_seconds": 0.0,
    "epochs_run": 0,
    "best_epoch": 0,
    "n_params": 0,
    "n_trainable_params": 0,
}

TrainingData = Mapping[str, Any]


def array_shapes(arrays: Mapping[str, Any]) -> dict[str, Any]:
    """``input_shape`` and ``outputs`` of a network trained on ``x_train`` → ``y_train`` (one output per target column).

    ``x_train`` is one array, or a dict of named arrays for a model with several inputs
    (then ``input_shape`` is input name → shape).
    """
    targets, inputs = arrays["y_train"], arrays["x_train"]
    shape = {name: list(array.shape[1:]) for name, array in inputs.items()} if isinstance(inputs, Mapping) else list(inputs.shape[1:])
    return {"input_shape": shape, "outputs": 1 if targets.ndim == 1 else int(targets.shape[1])}


def rgb_image_shapes(images: pd.DataFrame, image_size: ImageSize) -> dict[str, Any]:
    """``input_shape`` (height, width, 3) of RGB images resized to ``image_size``; one sigmoid output for two classes, else one per class.

    ``images`` is the validated manifest (a ``label`` per image): reading it makes the variant's
    first node wait for the image folder's validation, so a bad folder stops the run before
    any variant's MLflow run opens.
    """
    n_classes = int(images["label"].nunique())
    return {"input_shape": [image_size[0], image_size[1], 3], "outputs": 1 if n_classes == 2 else n_classes}


def build_model(
    model: ModelSettings,
    optimizer: OptimizerSettings,
    compilation: CompileSettings,
    training: TrainingSettings,
    shapes: dict[str, Any],
    seed: int,
) -> keras.Model:
    """Build ``model["architecture"]`` for ``shapes`` and compile it, seeded so every run starts from the same weights.

    ``shapes`` is ``{"input_shape": [...], "outputs": n}``, read off the data the model will
    train on; ``compilation`` names the loss and metrics, ``optimizer`` the optimizer and its
    settings, ``training.steps_per_execution`` how many batches one TensorFlow call runs and
    ``training.distribution`` the strategy whose scope the model is built in (``training/distribute.py``).
    """
    seed_everything(seed)
    with distribution_scope(training.distribution):  # mirrored variables; fit then distributes the batches
        network = build_architecture(model, shapes["input_shape"], shapes["outputs"])
        compile_model(network, optimizer, compilation, steps_per_execution=training.steps_per_execution)
    logger.info(
        "Built %s: %d parameters (%d trainable), input %s, optimizer %s, loss %s",
        network.name,
        network.count_params(),
        trainable_count(network),
        shapes["input_shape"],
        dict(optimizer),
        dict(compilation)["loss"],
    )
    return network


def train_model(
    model: keras.Model, data: TrainingData, training: TrainingSettings, seed: int, callbacks: Sequence[keras.callbacks.Callback] = ()
) -> tuple[keras.Model, dict[str, Any]]:
    """Fit ``model`` per the ``training`` block; return it (trained) and its fit record.

    ``data`` holds either arrays ``x_train, y_train, x_validation, y_validation`` (batched and
    shuffled by Keras with ``training.batch_size``; an ``x_`` entry may be a dict of named
    arrays for a model with several inputs; without ``x_validation``, no validation) or
    ready ``tf.data`` pipelines ``train`` and ``validation`` (with the training labels as
    ``y_train`` where ``class_weight`` needs them).
    Early stopping watches the validation loss when ``training.patience`` is set. With arrays,
    ``training.validation_split`` validates on the last share of the training rows instead of
    ``x_validation`` (as Keras' ``validation_split``); a step that makes ``tf.data`` batches
    applies it itself. ``callbacks`` are extra Keras callbacks (a tuning trial's pruning callback).
    """
    if "train" in data:
        train, validation = data["train"], data["validation"]
        if not isinstance(train, tf.data.Dataset):
            raise TypeError(f"data['train'] is a {type(train).__name__}; pass tf.data pipelines or x_/y_ arrays.")
    elif training.validation_split is not None:
        x_train, y_train, validation = hold_out_last(data["x_train"], data["y_train"], training.validation_split)
        train = (x_train, y_train)
    else:  # arrays without x_validation (data too small to hold any out) train without validation
        train = (data["x_train"], data["y_train"])
        validation = (data["x_validation"], data["y_validation"]) if "x_validation" in data else None
    labels = train[1] if isinstance(train, tuple) else data.get("y_train")
    record = fit_from_params(model, train, validation, training, seed, labels=labels, callbacks=callbacks)
    record["n_trainable_params"] = trainable_count(model)
    return model, record


def hold_out_last(x: np.ndarray, y: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """``x, y`` without their last ``fraction`` of rows, and those rows as validation data (Keras' ``validation_split``)."""
    n_validation = max(1, round(len(x) * fraction))
    if n_validation >= len(x):
        raise ValueError(f"training.validation_split={fraction} leaves no training rows out of {len(x)}.")
    cut = len(x) - n_validation
    return x[:cut], y[:cut], (x[cut:], y[cut:])


def record_results(evaluation: dict[str, Any], fit_record: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One variant's results in two forms: MLflow metric histories, and the summary row the report reads.

    MLflow gets the per-epoch curves (step = epoch), ``evaluation["by_step"]`` series (step =
    position, e.g. hours ahead) and, at step 0, ``evaluation["metrics"]`` with the fit's
    ``train_seconds``, ``epochs_run`` and ``best_epoch`` (what did not train logs no fit
    metrics) — the same names in every variant's run, so MLflow's Compare view lines them up.
    The summary's ``trained`` tells a fitted model (network or estimator) from a naive forecast.
    """
    fit = dict(NOT_TRAINED if fit_record is None else fit_record)
    final = dict(evaluation["metrics"])
    if fit_record is not None:
        final["train_seconds"] = fit["train_seconds"]
        if fit["epochs_run"]:
            final |= {"epochs_run": fit["epochs_run"], "best_epoch": fit["best_epoch"]}
    final |= fit.pop("metrics", {})
    by_step = evaluation.get("by_step", {})
    metrics = mlflow_metric_history(per_epoch=fit["history"] or None, final=final, per_step=by_step)
    details = {key: value for key, value in evaluation.items() if key not in ("metrics", "by_step")}
    fit_details = {key: value for key, value in fit.items() if key not in (*SUMMARY_KEYS, "history")}
    summary = {
        **{key: fit.get(key) for key in SUMMARY_KEYS},
        **final,
        **by_step,
        **fit_details,
        **details,
        "trained": fit_record is not None,
        "history": fit["history"],
    }
    return metrics, summary
