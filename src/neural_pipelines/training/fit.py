"""One fit loop for every Keras model in the project.

Seeded and deterministic (same seed, same data → same weights and metrics), with early
stopping that restores the best weights, and one log line per epoch through Python
logging instead of Keras' progress bar (which floods non-interactive logs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import keras
import numpy as np
import tensorflow as tf
from pydantic import NonNegativeFloat, NonNegativeInt, model_validator
from sklearn.utils.class_weight import compute_class_weight

from neural_pipelines.parameters import Count, Fraction, Parameters
from neural_pipelines.training.distribute import Distribution, global_batch_size

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic."""
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


class EpochLogger(keras.callbacks.Callback):
    """Logs one line per epoch: every metric Keras reports, and the epoch's wall time."""

    def __init__(self, name: str, max_epochs: int) -> None:
        super().__init__()
        self._name = name
        self._max_epochs = max_epochs
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        metrics = " ".join(f"{key}={value:.4g}" for key, value in (logs or {}).items())
        seconds = time.perf_counter() - self._started
        logger.info("%s epoch %d/%d %s (%.1fs)", self._name, epoch + 1, self._max_epochs, metrics, seconds)


@dataclass
class FitResult:
    """What a fit produced besides the (trained in place) model."""

    history: dict[str, list[float]]
    train_seconds: float
    epochs_run: int
    best_epoch: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the fit: per-epoch history plus its scalar facts."""
        return {
            "history": self.history,
            "train_seconds": round(self.train_seconds, 3),
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            **self.extra,
        }


def fit_model(  # noqa: PLR0913 (every fit setting is keyword-only, as model.fit's)
    model: keras.Model,
    train: tf.data.Dataset | tuple[np.ndarray, np.ndarray],
    validation: tf.data.Dataset | tuple[np.ndarray, np.ndarray] | None,
    *,
    max_epochs: int,
    batch_size: int | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    monitor: str = "val_loss",
    class_weight: dict[int, float] | None = None,
    seed: int = 0,
    name: str = "model",
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    """Train ``model`` in place and return its history and timings.

    Args:
        train / validation: ``tf.data`` datasets (already batched) or ``(x, y)`` arrays
            (batched here with ``batch_size``, shuffled with ``seed``); ``validation`` may be
            ``None`` (no held-out data: no ``val_`` curves, no early stopping).
        patience: epochs without an improvement of ``monitor`` larger than ``min_delta``
            before stopping; the best epoch's weights are restored. ``None`` trains all
            ``max_epochs``.
        class_weight: each class's weight in the loss (``None``: all 1).
        callbacks: more Keras callbacks, run after the epoch logger and early stopping (e.g. a
            tuning trial's pruning callback).
    """
    all_callbacks: list[keras.callbacks.Callback] = [EpochLogger(name, max_epochs)]
    early_stopping = None
    if patience is not None:
        early_stopping = keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, min_delta=min_delta, restore_best_weights=True)
        all_callbacks.append(early_stopping)
    all_callbacks.extend(callbacks)
    fit_args: dict[str, Any] = {"epochs": max_epochs, "callbacks": all_callbacks, "verbose": 0, "class_weight": class_weight}
    if isinstance(train, tuple):
        fit_args.update(x=train[0], y=train[1], batch_size=batch_size, shuffle=True)
        fit_args["validation_data"] = validation
    else:
        fit_args.update(x=train, validation_data=validation, shuffle=False)  # a tf.data pipeline shuffles itself

    keras.utils.set_random_seed(int(seed))  # the shuffling order is part of the seed's promise
    started = time.perf_counter()
    history = model.fit(**fit_args).history
    train_seconds = time.perf_counter() - started

    history = {key: [float(value) for value in values] for key, values in history.items()}
    epochs_run = len(history.get("loss", []))
    monitored = history.get(monitor)
    # The epoch whose weights the model now holds: the restored one if training stopped
    # early, else the last. (With min_delta, that is not always the smallest val_loss.)
    stopped_early = early_stopping is not None and early_stopping.stopped_epoch > 0
    best_epoch = int(early_stopping.best_epoch) + 1 if stopped_early else epochs_run
    logger.info(
        "%s: %d epochs in %.1fs, kept weights with %s=%.4g from epoch %d",
        name,
        epochs_run,
        train_seconds,
        monitor,
        monitored[best_epoch - 1] if monitored else float("nan"),
        best_epoch,
    )
    return FitResult(history=history, train_seconds=train_seconds, epochs_run=epochs_run, best_epoch=best_epoch)


class TrainingSettings(Parameters):
    """A ``training`` block: how ``model.fit`` runs (the learning rate is the ``optimizer``'s, the loss the ``compile`` block's)."""

    batch_size: Count
    max_epochs: Count
    patience: NonNegativeInt | None = None  # epochs without improvement of val_loss before stopping; null: no early stopping
    min_delta: NonNegativeFloat = 0.0  # the least change of val_loss that counts as an improvement
    steps_per_execution: Count = 1  # batches per TensorFlow call (the same training, faster on CPU)
    class_weight: Literal["balanced"] | None = None  # balanced: each class weighs n / (k · its count) in the loss
    validation_split: Fraction | None = None  # validate on the last share of the training data (as Keras' validation_split)
    # none | mirrored (every local GPU) | multi_worker (machines named by TF_CONFIG); batch_size is then per replica
    distribution: Distribution = "none"

    @model_validator(mode="after")
    def _one_step_per_call_under_a_strategy(self) -> TrainingSettings:
        # Measured with Keras 3.15 / TF 2.21: fit under MirroredStrategy with steps_per_execution > 1 stops at its first
        # step with "You must feed a value for placeholder tensor" (Keras' multi-step loop in a replica context).
        if self.distribution != "none" and self.steps_per_execution > 1:
            raise ValueError(
                f"steps_per_execution={self.steps_per_execution} does not run under distribution={self.distribution} "
                "(Keras' multi-step loop fails inside a tf.distribute strategy); set steps_per_execution: 1 next to distribution"
            )
        return self

    @property
    def global_batch_size(self) -> int:
        """The examples per training step: ``batch_size`` per replica × the strategy's replicas (``batch_size`` for ``none``)."""
        return global_batch_size(self.batch_size, self.distribution)

    block = "training"
    misplaced_hint = "the learning rate belongs in the optimizer block and the loss in the compile block"


def balanced_class_weights(labels: np.ndarray) -> dict[int, float]:
    """scikit-learn's ``balanced`` weights, ``n / (k · count)`` per class, from the training labels only.

    A rare class then weighs as much in the loss as a common one, so the network cannot
    ignore it; its recall usually rises at some cost to the common classes' precision.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"training.class_weight: balanced needs integer class labels; these targets are {labels.dtype} of shape "
            f"{labels.shape} (a regression or forecasting target). Set class_weight: null for this variant."
        )
    classes = np.unique(labels)
    weights = compute_class_weight("balanced", classes=classes, y=labels)
    return {int(label): float(weight) for label, weight in zip(classes, weights, strict=True)}


def fit_from_params(
    model: keras.Model,
    train: tf.data.Dataset | tuple[np.ndarray, np.ndarray],
    validation: tf.data.Dataset | tuple[np.ndarray, np.ndarray] | None,
    training: TrainingSettings,
    seed: int,
    labels: np.ndarray | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, Any]:
    """:func:`fit_model` driven by a pipeline's ``training`` parameter block.

    Reads ``max_epochs``, ``batch_size`` (per replica, for array inputs), ``patience``, ``min_delta``
    and ``class_weight`` (``balanced`` needs the training ``labels``); returns the JSON-ready
    fit record with the model's ``n_params`` (and the class weights it used).
    ``validation_split`` is the data step's to apply: it decides what ``validation`` is.
    """
    class_weight = None
    if training.class_weight == "balanced":
        if labels is None:
            raise ValueError(f"training.class_weight: balanced for {model.name}, but no training labels were given to weigh classes by.")
        class_weight = balanced_class_weights(labels)
        logger.info("%s: balanced class weights %s", model.name, {label: round(weight, 3) for label, weight in class_weight.items()})
    fit = fit_model(
        model,
        train,
        validation,
        max_epochs=training.max_epochs,
        batch_size=training.global_batch_size,
        patience=training.patience,
        min_delta=training.min_delta,
        class_weight=class_weight,
        seed=seed,
        name=model.name,
        callbacks=callbacks,
    )
    fit.extra["n_params"] = int(model.count_params())
    if class_weight is not None:
        fit.extra["class_weights"] = {str(label): round(weight, 6) for label, weight in class_weight.items()}
    return fit.to_dict()
