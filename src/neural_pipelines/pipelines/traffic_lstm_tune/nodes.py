"""Nodes of ``traffic_lstm_tune``: an Optuna study over one ``traffic_lstm`` network, scored on validation windows only.

The data steps are ``traffic_lstm``'s own (same split, scaler and windows); this pipeline adds
three steps: keep the training and validation windows (the test windows never reach a
trial), run the study (``tuning/``: every trial a nested MLflow run), and report it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd
from matplotlib.figure import Figure

from neural_pipelines.pipelines.traffic_lstm.nodes import TrafficFeatures, TrafficPreprocessing, window_features, window_shapes
from neural_pipelines.reporting import render_template
from neural_pipelines.training.steps import array_shapes
from neural_pipelines.tuning import (
    TuningSettings,
    best_parameters,
    best_parameters_yaml,
    fingerprint_of,
    local_parameters_file,
    optimization_history_figure,
    param_importances_figure,
    run_study,
    trials_table,
)
from neural_pipelines.tuning.keras_objective import keras_base_parameters, keras_objective

logger = logging.getLogger(__name__)

#: The windows a trial may use: it trains on the first two and is scored on the validation windows.
TUNING_SPLITS = ("train", "validation")


def validation_windows(windows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The training and validation windows only: what every trial trains and is scored on, the test windows left out."""
    return {key: array for key, array in windows.items() if key.rsplit("_", maxsplit=1)[-1] in TUNING_SPLITS}


def data_fingerprint(arrays: dict[str, np.ndarray]) -> str:
    """A short hash of the arrays a study's trials see: a stored study made on other data is not resumed."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()[:16]


def trial_data(
    windows: dict[str, np.ndarray], scaled: pd.DataFrame, preprocessing: TrafficPreprocessing
) -> Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, Any]]]:
    """What a trial trains on, for its parameters: the windows, or a calendar-aware variant's inputs made from them.

    A variant with a ``features`` block gets ``traffic_lstm``'s own :func:`window_features`
    for the trial's features (a searched ``features.history_hours`` changes the history it reads),
    on the same windows: the training and validation ones only.
    """

    def data_for(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        if "features" not in params:
            return windows, window_shapes(windows, preprocessing)
        model_input = window_features(scaled, windows, TrafficFeatures.model_validate(dict(params["features"])), preprocessing)
        return model_input, array_shapes(model_input)

    return data_for


def tune_variant(
    windows: dict[str, np.ndarray],
    scaled: pd.DataFrame,
    preprocessing: TrafficPreprocessing,
    variant_params: dict[str, Any],
    seed: int,
    tuning: TuningSettings,
    variant: str,
) -> tuple[optuna.Study, pd.DataFrame, str]:
    """Run (or resume) the study over ``traffic_lstm.<variant>``; return it, its trials table and the best parameters file.

    Every trial builds and trains the variant as ``traffic_lstm`` does (same seed, its blocks
    with the trial's values in place) on the training windows, and scores the validation
    loss of the epoch it kept. ``windows`` holds no test window.
    """
    leaked = sorted(key for key in windows if not key.endswith(TUNING_SPLITS))
    if leaked:
        raise ValueError(f"Tuning got {', '.join(leaked)}: trials see training and validation windows only.")
    objective = keras_objective(variant_params, trial_data(windows, scaled, preprocessing), seed, tuning)
    context = {"variant": variant, "parameters": keras_base_parameters(variant_params), "seed": seed, "data": data_fingerprint(windows)}
    study = run_study(objective, tuning, fingerprint=fingerprint_of(tuning, context))
    prefix = f"traffic_lstm.{variant}"
    return study, trials_table(study), best_parameters_yaml(study, prefix)


def build_report(
    study: optuna.Study, trials: pd.DataFrame, tuning: TuningSettings, variant: str, reporting: dict[str, Any]
) -> tuple[Figure, Figure, str]:
    """Optimization history and parameter importances (Optuna's figures), and the HTML report with the best values.

    ``reporting`` holds the report's title and data note.

    The report says which trial won, with which values and score, how many trials ended in
    which state, and the exact file to copy the best parameters into.
    """
    prefix = f"traffic_lstm.{variant}"
    history, importances = optimization_history_figure(study), param_importances_figure(study)
    states = trials["state"].value_counts().to_dict()
    best = study.best_trial
    html = render_template(
        "traffic_lstm_tune.html.j2",
        tuning=tuning,
        variant=variant,
        reporting=reporting,
        best={"number": best.number, "value": best.value, "params": best.params, "mlflow_run_id": best.user_attrs.get("mlflow_run_id")},
        best_parameters=best_parameters(study, prefix),
        best_parameters_yaml=best_parameters_yaml(study, prefix),
        local_file=local_parameters_file(prefix),
        states=states,
        trials=trials.drop(columns=["mlflow_run_id"], errors="ignore"),
        figures={"history": history, "importances": importances},
    )
    logger.info("Study %s: best trial %d, %s=%.5g with %s", study.study_name, best.number, tuning.monitor, best.value, best.params)
    return history, importances, html
