"""Compiling any model of ``ARCHITECTURES`` from parameters: optimizer, loss and metrics by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np

OPTIMIZERS: dict[str, type[keras.optimizers.Optimizer]] = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "nadam": keras.optimizers.Nadam,
}

#: Metric names Keras does not resolve itself (``mae``, ``accuracy`` … it does).
NAMED_METRICS: dict[str, Callable[[], keras.metrics.Metric]] = {"rmse": lambda: keras.metrics.RootMeanSquaredError(name="rmse")}


def make_optimizer(optimizer: Mapping[str, Any]) -> keras.optimizers.Optimizer:
    """``{name: sgd, learning_rate: 0.05, momentum: 0.9}`` → ``keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)``."""
    settings = dict(optimizer)
    name = str(settings.pop("name", "")).lower()
    if name not in OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer {name!r} in the variant's optimizer parameters (conf/base/parameters_<pipeline>.yml); "
            f"use one of {sorted(OPTIMIZERS)}."
        )
    return OPTIMIZERS[name](**settings)


def _known(kind: str, name: str, resolve: Callable[[str], Any]) -> str:
    """``name`` if Keras knows that loss or metric, else a ``ValueError`` that says where it was set."""
    try:
        resolve(name)
    except ValueError:
        raise ValueError(
            f"Unknown {kind} {name!r} in the compile parameters (conf/base/parameters_<pipeline>.yml); use a Keras "
            f"{kind} name such as {'mse, mae, binary_crossentropy' if kind == 'loss' else 'mae, accuracy, ' + ', '.join(NAMED_METRICS)}."
        ) from None
    return name


def compile_model(
    model: keras.Model, optimizer: Mapping[str, Any], compilation: Mapping[str, Any], steps_per_execution: int = 1
) -> keras.Model:
    """Compile ``model`` in place (and return it) with ``compilation``'s ``loss`` and ``metrics`` and the optimizer.

    ``steps_per_execution`` runs that many batches per TensorFlow call: the same updates in
    the same order, with less per-batch Python overhead for small models. The optimizer is
    built for the model's trainable weights now, so a saved model reloads with exactly the
    optimizer variables it trained with (no warning about skipped ones).
    """
    unknown = sorted(set(compilation) - {"loss", "metrics"})
    if unknown:
        raise ValueError(
            f"compile.{unknown[0]} is not a compile setting (compile sets loss and metrics; the optimizer block its "
            "name, learning rate and the rest) in conf/base/parameters_<pipeline>.yml or your override."
        )
    keras_optimizer = make_optimizer(optimizer)
    loss = _known("loss", compilation["loss"], keras.losses.get)
    metrics = [
        NAMED_METRICS[name]() if name in NAMED_METRICS else _known("metric", name, keras.metrics.get)
        for name in compilation.get("metrics", [])
    ]
    model.compile(optimizer=keras_optimizer, loss=loss, metrics=metrics, steps_per_execution=int(steps_per_execution))
    keras_optimizer.build(model.trainable_variables)
    return model


def trainable_count(model: keras.Layer) -> int:
    """Trainable parameters, as ``model.summary()`` and the MLflow hook count them."""
    return int(sum(np.prod(weight.shape) for weight in model.trainable_weights))
