"""Turn a fit and an evaluation into MLflow metric histories and one flat summary row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MetricHistory = dict[str, list[dict[str, float | int]]]


def mlflow_metric_history(
    per_epoch: Mapping[str, Sequence[float]] | None = None,
    final: Mapping[str, float] | None = None,
    per_step: Mapping[str, Sequence[float]] | None = None,
) -> MetricHistory:
    """Metrics in the format of kedro-mlflow's ``MlflowMetricsHistoryDataset``.

    ``per_epoch`` curves get ``step`` = epoch (1-based, as Keras prints it); ``per_step``
    series (e.g. MAE per forecast hour) get ``step`` = position (1-based); ``final``
    values are logged once at step 0.
    """
    history: MetricHistory = {}
    for series in (per_epoch or {}, per_step or {}):
        for name, values in series.items():
            history[name] = [{"value": float(value), "step": step} for step, value in enumerate(values, start=1)]
    for name, value in (final or {}).items():
        history[name] = [{"value": float(value), "step": 0}]
    return history
