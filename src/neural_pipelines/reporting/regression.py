"""Regression diagnostics shared by tabular pipelines: predicted vs actual, residuals, importance bars.

``permutation_importance`` works on any ``predict(frame) -> values`` function, so it can
rank *raw* columns (``Neighborhood``) through a model's whole preprocessing, instead of the
one-hot columns a scikit-learn estimator sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")  # reports are rendered headless, in CI as on a laptop

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def predicted_vs_actual(actual: Sequence[float], predicted: Sequence[float], title: str, unit: str = "$") -> Figure:
    """Scatter of predicted against actual values, with the diagonal of perfect predictions."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    figure, axis = plt.subplots(figsize=(5.5, 5))
    axis.scatter(actual, predicted, s=8, alpha=0.5)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    axis.plot([low, high], [low, high], color="black", linewidth=1, label="perfect prediction")
    axis.set(title=title, xlabel=f"actual ({unit})", ylabel=f"predicted ({unit})")
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def residuals_vs_predicted(actual: Sequence[float], predicted: Sequence[float], title: str, unit: str = "$") -> Figure:
    """Residuals (actual - predicted) against the prediction, with the zero line and a histogram."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    residuals = actual - predicted
    figure, (scatter, histogram) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [2, 1]})
    scatter.scatter(predicted, residuals, s=8, alpha=0.5)
    scatter.axhline(0, color="black", linewidth=1)
    scatter.set(title=title, xlabel=f"predicted ({unit})", ylabel=f"residual ({unit})")
    scatter.grid(alpha=0.3)
    histogram.hist(residuals, bins=40)
    histogram.axvline(0, color="black", linewidth=1)
    histogram.set(title="distribution of residuals", xlabel=f"residual ({unit})", ylabel="rows")
    figure.tight_layout()
    return figure


def horizontal_bars(values: pd.Series, title: str, xlabel: str, errors: pd.Series | None = None) -> Figure:
    """One horizontal bar per label (largest on top), with optional error bars."""
    figure, axis = plt.subplots(figsize=(7.5, 0.32 * len(values) + 1.2))
    positions = np.arange(len(values))[::-1]
    axis.barh(positions, values.to_numpy(), xerr=None if errors is None else errors.to_numpy(), color="tab:blue", alpha=0.8)
    axis.set_yticks(positions, [str(label) for label in values.index])
    axis.set(title=title, xlabel=xlabel)
    axis.grid(alpha=0.3, axis="x")
    figure.tight_layout()
    return figure


def permutation_importance(
    predict: Callable[[pd.DataFrame], np.ndarray],
    frame: pd.DataFrame,
    target: Sequence[float],
    n_repeats: int = 5,
    seed: int = 0,
    score: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> pd.DataFrame:
    """How much the error grows when one column's values are shuffled across rows.

    ``score(actual, predicted)`` is an error (lower is better; default: mean absolute error).
    Each column is shuffled ``n_repeats`` times with a seeded generator. Per repeat, one
    ``predict`` call prices a stacked table holding one copy of ``frame`` per column, that
    column shuffled (a model's fixed per-call cost is paid once, not once per column).
    Returns ``feature``, ``importance_mean``, ``importance_std`` (error increase), sorted,
    largest first.
    """
    score = score or (lambda actual, predicted: float(np.mean(np.abs(actual - predicted))))
    target = np.asarray(target, dtype=float)
    baseline = score(target, np.asarray(predict(frame), dtype=float))
    generator = np.random.default_rng(seed)
    n_rows, columns = len(frame), list(frame.columns)
    increases = np.zeros((len(columns), n_repeats))
    for repeat in range(n_repeats):
        stacked = pd.concat([frame] * len(columns), ignore_index=True)
        for position, column in enumerate(columns):
            values = stacked[column].to_numpy(copy=True)
            block = slice(position * n_rows, (position + 1) * n_rows)
            values[block] = frame[column].to_numpy()[generator.permutation(n_rows)]
            stacked[column] = values
        predicted = np.asarray(predict(stacked), dtype=float).reshape(len(columns), n_rows)
        increases[:, repeat] = [score(target, block) - baseline for block in predicted]
    importance = pd.DataFrame({"feature": columns, "importance_mean": increases.mean(axis=1), "importance_std": increases.std(axis=1)})
    return importance.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
