"""The objective every Keras variant can be tuned with: build and train it as its pipeline does, with a trial's values.

A trial's values and the tuning block's ``fixed`` ones replace those of the variant's
``model``, ``optimizer``, ``compile`` and ``training`` blocks; the network is built and trained
by the shared steps (seeded, as in the variant's own run) on the data it is given, and the
monitored value of the epoch whose weights training kept is the trial's score. The caller
decides which data that is: an experiment hands it its training and validation windows
only, so no trial ever sees a test value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras

from neural_pipelines.models import CompileSettings, ModelSettings, OptimizerSettings
from neural_pipelines.training import steps
from neural_pipelines.training.fit import TrainingSettings
from neural_pipelines.tuning.search import check_paths, merge_suggestions
from neural_pipelines.tuning.settings import TuningSettings
from neural_pipelines.tuning.study import Objective, TrialReporter

#: The blocks of a Keras variant a trial may change.
KERAS_BLOCKS = ("model", "optimizer", "compile", "training")

#: Blocks a variant may also have, which a trial may change too (what data the network reads).
OPTIONAL_BLOCKS = ("features",)

#: Turns a trial's complete parameters into the data it trains on and the shapes its network is built for.
DataForTrial = Callable[[Mapping[str, Any]], tuple[Mapping[str, Any], dict[str, Any]]]


def keras_base_parameters(variant: Mapping[str, Any]) -> dict[str, Any]:
    """A Keras variant's parameter blocks as plain dicts: ``model``, ``optimizer``, ``compile``, ``training`` (and ``features``)."""
    missing = [block for block in KERAS_BLOCKS if block not in variant]
    if missing:
        raise ValueError(f"The tuned variant has no {', '.join(missing)} block: only a Keras variant (a block with model) can be tuned.")
    return {block: dict(variant[block]) for block in (*KERAS_BLOCKS, *OPTIONAL_BLOCKS) if block in variant}


def keras_objective(variant: Mapping[str, Any], data_for_trial: DataForTrial, seed: int, tuning: TuningSettings) -> Objective:
    """An objective for :func:`run_study`: train ``variant`` with the trial's values, return its kept epoch's monitor.

    ``data_for_trial(params)`` gives the data :func:`steps.train_model` takes (``x_train``,
    ``y_train``, ``x_validation``, ``y_validation`` or ``tf.data`` pipelines) and the network's
    shapes, for the trial's complete parameters: a trial that changes ``features`` (a longer
    history, say) trains on other inputs. Paths of the search space and of ``fixed`` are
    checked against the variant before any trial.
    """
    base = keras_base_parameters(variant)
    check_paths(base, [*tuning.search_space, *tuning.fixed], where="the tuned variant's parameters")

    def objective(values: dict[str, Any], reporter: TrialReporter) -> float:
        params = merge_suggestions(base, {**tuning.fixed, **values})
        training = TrainingSettings.model_validate(params["training"])
        data, shapes = data_for_trial(params)
        keras.backend.clear_session()  # each trial starts from an empty graph; the seed makes it start from the same weights
        model = steps.build_model(
            ModelSettings.model_validate(params["model"]),
            OptimizerSettings.model_validate(params["optimizer"]),
            CompileSettings.model_validate(params["compile"]),
            training,
            shapes,
            seed,
        )
        _, record = steps.train_model(model, data, training, seed, callbacks=[reporter.keras_callback()])
        monitored = record["history"].get(tuning.monitor)
        if not monitored:
            raise KeyError(f"Training logged no {tuning.monitor!r} (it logged {', '.join(record['history'])}); set tuning.monitor.")
        return float(monitored[record["best_epoch"] - 1])

    return objective
