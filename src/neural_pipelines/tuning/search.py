"""A trial's values: drawn from the search space, then put in place in the tuned parameters.

Suggested values are flat (``{"model.units": 32}``, the names Optuna and MLflow show);
:func:`merge_suggestions` writes them into a copy of the base parameters. A path that the base
parameters do not have is refused: silently adding an ignored key would make every trial's
MLflow params claim a setting that changed nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import optuna

from neural_pipelines.tuning.settings import Distribution


def suggest(trial: optuna.Trial, search_space: Mapping[str, Distribution]) -> dict[str, Any]:
    """One value per searched path, drawn by the study's sampler: ``{"model.units": 32, …}``."""
    values: dict[str, Any] = {}
    for path, spec in search_space.items():
        if spec.type == "categorical":
            values[path] = trial.suggest_categorical(path, spec.choices)
        elif spec.type == "int":
            values[path] = trial.suggest_int(path, spec.low, spec.high, step=spec.step or 1, log=spec.log)
        else:
            values[path] = trial.suggest_float(path, float(spec.low), float(spec.high), step=spec.step, log=spec.log)
    return values


def check_paths(base: Mapping[str, Any], paths: list[str] | Mapping[str, Any], where: str = "the tuned parameters") -> None:
    """Refuse a dotted path that does not lead to a value in ``base``, naming the keys that exist at that level."""
    for path in paths:
        node: Any = base
        walked: list[str] = []
        for key in path.split("."):
            if not isinstance(node, Mapping) or key not in node:
                level = ".".join(walked) or "the top level"
                known = ", ".join(map(str, node)) if isinstance(node, Mapping) else f"a value, not a block ({node!r})"
                raise ValueError(
                    f"Search path {path!r}: {where} have no {key!r} at {level} (there: {known}). "
                    "A value the trials set must replace one the variant already has; fix the path in the tuning block."
                )
            node = node[key]
            walked.append(key)
        if isinstance(node, Mapping):
            raise ValueError(f"Search path {path!r} names a whole block of {where} ({', '.join(node)}); name one value in it.")


def merge_suggestions(base: Mapping[str, Any], flat: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with each ``flat`` value (``"model.units": 32``) in place of the one at its path."""
    check_paths(base, list(flat))
    merged = copy.deepcopy(dict(base))
    for path, value in flat.items():
        *parents, last = path.split(".")
        node = merged
        for key in parents:
            node[key] = dict(node[key])
            node = node[key]
        node[last] = value
    return merged


def nest(flat: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model.units": 32}`` with prefix ``traffic_lstm.lstm`` → ``{"traffic_lstm": {"lstm": {"model": {"units": 32}}}}``."""
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, last = [part for part in f"{prefix}.{path}".split(".") if part]
        node = nested
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return nested
