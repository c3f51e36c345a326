"""Keras model builders: one function per architecture, shapes and sizes in, uncompiled ``keras.Model`` out.

Every builder is called as ``builder(input_shape, outputs, **sizes)``; ``sizes`` is the
variant's ``model`` parameter block without ``architecture``. :data:`ARCHITECTURES` names
them all, so a variant picks its network by name, and :func:`compile_model` compiles any of
them with the loss, metrics and optimizer of the experiment's parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, get_type_hints

import keras
from pydantic import BaseModel, ConfigDict, ValidationError, create_model, model_validator

from neural_pipelines.models.compile import CompileSettings, OptimizerSettings, compile_model, make_optimizer, trainable_count
from neural_pipelines.models.forecasting import FORECASTERS
from neural_pipelines.models.fundamentals import FUNDAMENTALS
from neural_pipelines.models.image_classifiers import BINARY_IMAGE_CLASSIFIERS, IMAGE_CLASSIFIERS
from neural_pipelines.models.regression import REGRESSORS
from neural_pipelines.models.transfer import TRANSFER_MODELS
from neural_pipelines.parameters import Parameters


def registry(*families: Mapping[str, Callable[..., keras.Model]]) -> dict[str, Callable[..., keras.Model]]:
    """One name → builder table from each family's; a name two families use is refused (a merge would keep one silently)."""
    merged: dict[str, Callable[..., keras.Model]] = {}
    for family in families:
        for name, builder in family.items():
            if name in merged and merged[name] is not builder:
                raise ValueError(f"Architecture name {name!r} names both {merged[name].__name__} and {builder.__name__}: rename one.")
            merged[name] = builder
    return merged


ARCHITECTURES = registry(FORECASTERS, IMAGE_CLASSIFIERS, BINARY_IMAGE_CLASSIFIERS, REGRESSORS, TRANSFER_MODELS, FUNDAMENTALS)


@functools.cache
def builder_settings(architecture: str) -> type[BaseModel]:
    """The settings ``ARCHITECTURES[architecture]`` takes after the shapes, as a pydantic model of its signature.

    The builder's own annotations are the schema (``units: Count``, ``dropout: Dropout`` …), so a
    size of 0, a string for a number or a key the builder does not take is refused before any
    model is built, and a new builder needs no schema of its own.
    """
    builder = ARCHITECTURES[architecture]
    hints = get_type_hints(builder, include_extras=True)  # keep the ranges (Count, Dropout)
    settings = list(inspect.signature(builder).parameters.values())[2:]  # after input_shape and the outputs
    fields: dict[str, Any] = {
        setting.name: (hints.get(setting.name, Any), ... if setting.default is inspect.Parameter.empty else setting.default)
        for setting in settings
    }
    return create_model(architecture, __config__=ConfigDict(extra="forbid", strict=True), **fields)


class ModelSettings(Parameters):
    """A variant's ``model`` block: an ``architecture`` of :data:`ARCHITECTURES` and that builder's sizes."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    architecture: str

    @model_validator(mode="after")
    def _the_builder_takes_these_settings(self) -> ModelSettings:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {self.architecture!r}: use one of {', '.join(sorted(ARCHITECTURES))}, "
                "or add a builder to neural_pipelines/models/ and name it in ARCHITECTURES"
            )
        try:
            builder_settings(self.architecture).model_validate(self.model_extra or {})
        except ValidationError as err:  # re-raised as a ValueError: pydantic nests it under this block's name
            raise ValueError(str(err).replace(f"for {self.architecture}\n", f"for architecture {self.architecture}:\n")) from None
        return self


def build_architecture(model: Mapping[str, Any], input_shape: Sequence[int] | Mapping[str, Sequence[int]], outputs: int) -> keras.Model:
    """``ARCHITECTURES[model["architecture"]](input_shape, outputs, **rest of model)``, uncompiled.

    ``input_shape`` is one shape, or input name → shape for a model with several named inputs.
    """
    sizes = dict(model)
    architecture = sizes.pop("architecture", None)
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {architecture!r} in the variant's model parameters (conf/base/parameters_<pipeline>.yml); "
            f"use one of {sorted(ARCHITECTURES)}, or add a builder to neural_pipelines/models/ and name it in ARCHITECTURES."
        )
    if isinstance(input_shape, Mapping):
        shapes = {name: tuple(int(size) for size in shape) for name, shape in input_shape.items()}
        return ARCHITECTURES[architecture](shapes, int(outputs), **sizes)
    return ARCHITECTURES[architecture](tuple(int(size) for size in input_shape), int(outputs), **sizes)


__all__ = [
    "ARCHITECTURES",
    "CompileSettings",
    "ModelSettings",
    "OptimizerSettings",
    "build_architecture",
    "compile_model",
    "make_optimizer",
    "trainable_count",
]
