"""Project configuration: model variants and the settings they train with.

A model variant is a block of a pipeline's parameters with a ``model`` or ``baseline``
block (``traffic_lstm.lstm: {model: {...}}``). The pipeline-level ``training``,
``optimizer``, ``compile`` and ``features`` blocks are every variant's defaults: the config
loader merges each variant's own block (from any environment or ``--params``) over them, so
``--params=traffic_lstm.lstm.training.max_epochs=3`` changes that one setting of that one
variant and every variant node reads complete settings of its own. Light on purpose: Kedro
imports it (through ``settings.py``) for every command.

:class:`ProjectContext` makes Kedro's parameter validation (``parameters.py``) name the
file to edit.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from kedro.config import OmegaConfigLoader
from kedro.framework.context import KedroContext
from kedro.validation.exceptions import ParameterValidationError

#: Entries that make a parameter block a model variant.
VARIANT_KINDS = ("model", "baseline")

#: Pipeline-level blocks that are defaults of every variant's own block of the same name.
VARIANT_SETTINGS = ("training", "optimizer", "compile", "features")


def is_variant(block: Any) -> bool:
    """Whether a parameter block defines a model variant: it has a ``model`` or ``baseline`` block.

    (``vgg16_finetune.predict.model: null``, which names a variant, does not make ``predict`` one.)
    """
    return isinstance(block, Mapping) and any(isinstance(block.get(kind), Mapping) for kind in VARIANT_KINDS)


def merge(into: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` merged into ``into`` key by key, nested blocks too (lists and values replace), as Kedro's soft merge."""
    for key, value in update.items():
        both_blocks = isinstance(value, Mapping) and isinstance(into.get(key), Mapping)
        into[key] = merge(dict(into[key]), value) if both_blocks else value
    return into


def with_variant_settings(parameters: dict[str, Any]) -> dict[str, Any]:
    """Every variant's ``training`` / ``optimizer`` / ``compile`` / ``features``: the pipeline's, with its own merged over."""
    for pipeline in parameters.values():
        if not isinstance(pipeline, dict):
            continue
        defaults = {key: pipeline[key] for key in VARIANT_SETTINGS if isinstance(pipeline.get(key), Mapping)}
        for block in pipeline.values():
            if is_variant(block):
                for key, default in defaults.items():
                    block[key] = merge(copy.deepcopy(dict(default)), block.get(key) or {})
    return parameters


class ProjectConfigLoader(OmegaConfigLoader):
    """Kedro's ``OmegaConfigLoader``, whose parameters give every variant its complete settings."""

    def __getitem__(self, key: str) -> dict[str, Any]:
        config = super().__getitem__(key)
        return with_variant_settings(config) if key == "parameters" else config


class ProjectContext(KedroContext):
    """Kedro's context, whose parameter validation errors also say which file to edit."""

    def _get_validated_params(self) -> dict[str, Any]:
        try:
            return super()._get_validated_params()
        except ParameterValidationError as err:
            pipelines = sorted({key.split(".")[0] for key in re.findall(r"Parameter '([^']+)'", str(err))})
            files = ", ".join(f"conf/base/parameters_{pipeline}.yml" for pipeline in pipelines)
            raise ParameterValidationError(
                f"{err}\nFix: correct these values in {files or 'conf/base/parameters_<pipeline>.yml'}, "
                f"or wherever you override them (conf/{self.env or 'local'}/, --params)."
            ) from None
