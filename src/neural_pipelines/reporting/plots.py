"""Matplotlib figures used by several pipelines' reports (and logged to MLflow)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # reports are rendered headless, in CI as on a laptop

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def learning_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str = "loss",
    log_scale: bool = True,
    kept_epochs: Mapping[str, int] | None = None,
) -> Figure:
    """One panel per model: training and validation ``metric`` per epoch.

    ``kept_epochs`` marks the epoch whose weights each model kept (early stopping's restored
    epoch); without it, the epoch with the lowest validation value is marked.
    """
    histories = {name: history for name, history in histories.items() if history.get(metric)}
    figure, axes = plt.subplots(1, max(len(histories), 1), figsize=(4.2 * max(len(histories), 1), 3.4), squeeze=False)
    for axis, (name, history) in zip(axes[0], histories.items(), strict=False):
        epochs = range(1, len(history[metric]) + 1)
        axis.plot(epochs, history[metric], label=f"train {metric}")
        validation = history.get(f"val_{metric}")
        if validation:
            axis.plot(epochs, validation, label=f"validation {metric}")
            kept = (kept_epochs or {}).get(name) or min(range(len(validation)), key=validation.__getitem__) + 1
            axis.axvline(kept, color="grey", linestyle=":", label=f"kept epoch {kept}")
        axis.set(title=name, xlabel="epoch", ylabel=metric)
        if log_scale:
            axis.set_yscale("log")
        axis.legend(fontsize="small")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def lines_by_step(series: Mapping[str, Sequence[float]], title: str, xlabel: str, ylabel: str, first_step: int = 1) -> Figure:
    """One line per model over a shared step axis (e.g. error by forecast hour)."""
    figure, axis = plt.subplots(figsize=(7.5, 4))
    for name, values in series.items():
        axis.plot(range(first_step, first_step + len(values)), values, marker="o", markersize=3, label=name)
    axis.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure
