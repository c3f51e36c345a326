"""Hyperparameter tuning any experiment can use: Optuna studies whose trials are nested MLflow runs.

- :class:`TuningSettings`: the ``tuning`` parameter block (search space, budget, seed, storage).
- :func:`suggest` / :func:`merge_suggestions`: a trial's values, written into the tuned parameters.
- :func:`run_study`: create or resume the stored study and run what the budget allows, each
  trial a nested MLflow run with per-epoch values reported through a :class:`TrialReporter`.
- :func:`best_parameters_yaml`, :func:`trials_table` and the figures: what a report shows.

An experiment supplies the objective: train with the merged parameters on its training
data, report each epoch, return the validation score.
"""

from neural_pipelines.tuning.results import (
    best_parameters,
    best_parameters_yaml,
    local_parameters_file,
    optimization_history_figure,
    param_importances_figure,
    trials_table,
)
from neural_pipelines.tuning.search import check_paths, merge_suggestions, nest, suggest
from neural_pipelines.tuning.settings import Distribution, PrunerSettings, TuningSettings
from neural_pipelines.tuning.study import TrialReporter, create_study, fingerprint_of, requeue_interrupted, run_study

__all__ = [
    "Distribution",
    "PrunerSettings",
    "TrialReporter",
    "TuningSettings",
    "best_parameters",
    "best_parameters_yaml",
    "check_paths",
    "create_study",
    "fingerprint_of",
    "local_parameters_file",
    "merge_suggestions",
    "nest",
    "optimization_history_figure",
    "param_importances_figure",
    "requeue_interrupted",
    "run_study",
    "suggest",
    "trials_table",
]
