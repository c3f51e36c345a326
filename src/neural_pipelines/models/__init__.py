"""Keras model builders: one function per architecture, shapes and sizes in, uncompiled ``keras.Model`` out.

Every builder is called as ``builder(input_shape, outputs, **sizes)``; ``sizes`` is the
variant's ``model`` parameter block without ``architecture``. :data:`ARCHITECTURES` names
them all, so a variant picks its network by name, and :func:`compile_model` compiles any of
them with the loss, metrics and optimizer of the experiment's parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras

from neural_pipelines.models.compile import compile_model, make_optimizer, trainable_count
from neural_pipelines.models.forecasting import FORECASTERS
from neural_pipelines.models.image_classifiers import BINARY_IMAGE_CLASSIFIERS, IMAGE_CLASSIFIERS
from neural_pipelines.models.regression import REGRESSORS
from neural_pipelines.models.transfer import TRANSFER_MODELS

ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    **FORECASTERS,
    **IMAGE_CLASSIFIERS,
    **BINARY_IMAGE_CLASSIFIERS,
    **REGRESSORS,
    **TRANSFER_MODELS,
}


def build_architecture(model: Mapping[str, Any], input_shape: Sequence[int], outputs: int) -> keras.Model:
    """``ARCHITECTURES[model["architecture"]](input_shape, outputs, **rest of model)``, uncompiled."""
    sizes = dict(model)
    architecture = sizes.pop("architecture", None)
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {architecture!r} in the variant's model parameters (conf/base/parameters_<pipeline>.yml); "
            f"use one of {sorted(ARCHITECTURES)}, or add a builder to neural_pipelines/models/ and name it in ARCHITECTURES."
        )
    return ARCHITECTURES[architecture](tuple(int(size) for size in input_shape), int(outputs), **sizes)


__all__ = ["ARCHITECTURES", "build_architecture", "compile_model", "make_optimizer", "trainable_count"]
