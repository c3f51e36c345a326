"""``MlflowBatchedMetricsHistoryDataset`` logs what kedro-mlflow's dataset logs — names, values, steps — in batches (one MLflow store for
the whole module: creating a SQLite store takes seconds)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from kedro_mlflow.io.metrics import MlflowMetricsHistoryDataset

from neural_pipelines.datasets import mlflow_metrics
from neural_pipelines.datasets.mlflow_metrics import MlflowBatchedMetricsHistoryDataset
from neural_pipelines.training.metrics import mlflow_metric_history


def logged(run_id: str) -> dict[str, list[tuple[int, float]]]:
    client = mlflow.MlflowClient()
    return {
        name: sorted((point.step, point.value) for point in client.get_metric_history(run_id, name))
        for name in client.get_run(run_id).data.metrics
    }


def test_the_same_points_as_kedro_mlflow_in_a_few_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    history = mlflow_metric_history(
        per_epoch={"loss": [1 / epoch for epoch in range(1, 11)], "val_loss": [2 / epoch for epoch in range(1, 11)]},
        final={"test_rmse": 0.5},
    )
    with mlflow.start_run() as reference:  # one log_metric call per point
        MlflowMetricsHistoryDataset(prefix="").save(history)
    calls = []
    original = mlflow.MlflowClient.log_batch
    monkeypatch.setattr(
        mlflow.MlflowClient, "log_batch", lambda self, run_id, **kwargs: calls.append(1) or original(self, run_id, **kwargs)
    )
    monkeypatch.setattr(mlflow_metrics, "MAX_METRICS_PER_BATCH", 8)  # as MLflow's 1,000, on 21 points
    with mlflow.start_run() as batched:
        MlflowBatchedMetricsHistoryDataset(prefix="").save(history)
    assert logged(batched.info.run_id) == logged(reference.info.run_id)
    assert logged(batched.info.run_id)["loss"][:2] == [(1, 1.0), (2, 0.5)] and logged(batched.info.run_id)["test_rmse"] == [(0, 0.5)]
    assert len(calls) == 3  # 8 + 8 + 5 points

    switched_off = MlflowBatchedMetricsHistoryDataset(prefix="")
    switched_off._logging_activated = False  # what kedro-mlflow does when tracking is off for a pipeline
    with mlflow.start_run() as silent:
        switched_off.save(history)
    assert logged(silent.info.run_id) == {}
