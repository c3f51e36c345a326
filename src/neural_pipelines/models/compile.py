"""Compiling any model of ``ARCHITECTURES`` from parameters: optimizer, loss and metrics by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
from pydantic import ConfigDict, PositiveFloat, field_validator, model_validator

from neural_pipelines.parameters import Parameters

OPTIMIZERS: dict[str, type[keras.optimizers.Optimizer]] = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "nadam": keras.optimizers.Nadam,
}

#: Metric names Keras does not resolve itself (``mae``, ``accuracy`` … it does).
NAMED_METRICS: dict[str, Callable[[], keras.metrics.Metric]] = {"rmse": lambda: keras.metrics.RootMeanSquaredError(name="rmse")}


class OptimizerSettings(Parameters):
    """An ``optimizer`` block: a ``name`` of :data:`OPTIMIZERS`, a ``learning_rate``, and any other argument that optimizer takes."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    name: str
    learning_rate: PositiveFloat

    @model_validator(mode="after")
    def _the_optimizer_takes_these_settings(self) -> OptimizerSettings:
        if self.name.lower() not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.name!r}: use one of {', '.join(sorted(OPTIMIZERS))}")
        accepted = set(inspect.signature(OPTIMIZERS[self.name.lower()]).parameters) - {"name", "kwargs"}
        unknown = sorted(set(self.model_extra or {}) - accepted)
        if unknown:
            raise ValueError(f"{', '.join(unknown)} is not an argument of keras.optimizers.{OPTIMIZERS[self.name.lower()].__name__}")
        return self


class CompileSettings(Parameters):
    """A ``compile`` block: the ``loss`` and ``metrics`` by name (the optimizer has its own block)."""

    loss: str
    metrics: Sequence[str] = ()

    block = "compile"
    misplaced_hint = "the optimizer block sets the optimizer's name, learning rate and the rest"

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, name: str) -> str:
        return _known("loss", name, keras.losses.get)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: Sequence[str]) -> tuple[str, ...]:
        return tuple(name if name in NAMED_METRICS else _known("metric", name, keras.metrics.get) for name in names)


def make_optimizer(optimizer: Mapping[str, Any]) -> keras.optimizers.Optimizer:
    """``{name: sgd, learning_rate: 0.05, momentum: 0.9}`` → ``keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)``."""
    settings = dict(optimizer)  # a validated OptimizerSettings reads as its fields, extra arguments included
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
    compilation = dict(compilation)
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
