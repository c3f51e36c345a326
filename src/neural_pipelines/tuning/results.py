"""What a finished study tells a user: the best parameters as a file for ``conf/local``, a trials table, two figures.

The figures are Optuna's own matplotlib visualizations (optimization history, parameter
importances). Importances need at least two complete trials; with fewer the figure says so
instead of failing the report.
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import optuna
import pandas as pd
import yaml
from matplotlib.figure import Figure
from optuna.trial import TrialState

from neural_pipelines.tuning.search import nest


def best_parameters(study: optuna.Study, prefix: str) -> dict:
    """The best trial's values nested under ``prefix``: ``{"traffic_lstm": {"lstm": {"model": {"units": 32}}}}``.

    Raises ``ValueError`` when no trial completed (there is no best one).
    """
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ValueError(f"Study {study.study_name!r} has no complete trial yet, so no best parameters: raise tuning.n_trials or timeout.")
    return nest(study.best_trial.params, prefix)


def local_parameters_file(prefix: str) -> str:
    """Where the best parameters go in a project: ``conf/local/parameters_<pipeline>_tuned.yml``."""
    return f"conf/local/parameters_{prefix.split('.', maxsplit=1)[0]}_tuned.yml"


def best_parameters_yaml(study: optuna.Study, prefix: str) -> str:
    """:func:`best_parameters` as a parameters file, its header saying where it came from and where to copy it."""
    values = best_parameters(study, prefix)  # first: it explains a study without a complete trial
    best = study.best_trial
    header = [
        f"# Best trial {best.number} of the Optuna study {study.study_name!r}: objective {best.value:.6g} "
        f"({study.direction.name.lower()}d).",
        f"# To train with these values, copy this file to {local_parameters_file(prefix)}",
        "# (conf/local overrides conf/base key by key; if conf/local already sets these blocks, merge them by hand).",
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(values, sort_keys=False)


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, objective value, duration, the values it tried and its MLflow run."""
    table = study.trials_dataframe(attrs=("number", "state", "value", "duration", "params", "user_attrs"))
    if "duration" in table:
        table["duration"] = table["duration"].dt.total_seconds().round(2)
        table = table.rename(columns={"duration": "seconds"})
    keep = [column for column in table.columns if not column.startswith("user_attrs_process.")]
    return table[keep].rename(columns=lambda column: column.removeprefix("params_").removeprefix("user_attrs_"))


def message_figure(title: str, message: str) -> Figure:
    """A small figure that says why the real one could not be drawn."""
    figure, axis = plt.subplots(figsize=(7, 2))
    axis.axis("off")
    axis.set_title(title)
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return figure


def optimization_history_figure(study: optuna.Study) -> Figure:
    """Optuna's optimization history: each trial's objective and the best so far."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axis = optuna.visualization.matplotlib.plot_optimization_history(study)
    figure = axis.figure
    figure.set_size_inches(8, 4)
    figure.tight_layout()
    return figure


def param_importances_figure(study: optuna.Study) -> Figure:
    """Optuna's parameter importances (fANOVA), or a message figure when fewer than two trials completed."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    title = "Hyperparameter importances"
    if len(complete) < 2:
        return message_figure(title, f"{len(complete)} complete trial(s): importances need at least 2.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            axis = optuna.visualization.matplotlib.plot_param_importances(study)
    except (ValueError, RuntimeError) as err:  # e.g. every complete trial has the same values
        return message_figure(title, f"Importances could not be computed: {err}")
    figure = axis.figure
    figure.set_size_inches(8, 3)
    figure.tight_layout()
    return figure
