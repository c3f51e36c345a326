"""``MlflowBatchedMetricsHistoryDataset`` sends what kedro-mlflow's dataset sends — names, values, steps — in a few
``log_batch`` calls (the client is recorded, not a store: creating a SQLite store takes seconds)."""

from __future__ import annotations

import mlflow
import pytest
from kedro_mlflow.io.metrics import MlflowMetricsHistoryDataset

from neural_pipelines.datasets import mlflow_metrics
from neural_pipelines.datasets.mlflow_metrics import MlflowBatchedMetricsHistoryDataset
from neural_pipelines.training.metrics import mlflow_metric_history

HISTORY = mlflow_metric_history(
    per_epoch={"loss": [1 / epoch for epoch in range(1, 11)], "val_loss": [2 / epoch for epoch in range(1, 11)]}, final={"test_rmse": 0.5}
)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """What the MLflow client is asked to log: log_metric calls and log_batch calls, as (run, key, value, step)."""
    calls: dict[str, list] = {"log_metric": [], "log_batch": []}

    def log_metric(self: mlflow.MlflowClient, run_id: str, key: str, value: float, step: int | None = None, **_: object) -> None:
        calls["log_metric"].append([(run_id, key, value, step)])

    def log_batch(self: mlflow.MlflowClient, run_id: str, metrics: list, **_: object) -> None:
        calls["log_batch"].append([(run_id, metric.key, metric.value, metric.step) for metric in metrics])

    monkeypatch.setattr(mlflow.MlflowClient, "log_metric", log_metric)
    monkeypatch.setattr(mlflow.MlflowClient, "log_batch", log_batch)
    return calls


def test_the_same_points_as_kedro_mlflow_in_a_few_calls(sent: dict[str, list], monkeypatch: pytest.MonkeyPatch) -> None:
    MlflowMetricsHistoryDataset(run_id="run", prefix="").save(HISTORY)
    one_by_one = [point for call in sent["log_metric"] for point in call]
    monkeypatch.setattr(mlflow_metrics, "MAX_METRICS_PER_BATCH", 8)  # as MLflow's 1,000, on 21 points
    MlflowBatchedMetricsHistoryDataset(run_id="run", prefix="").save(HISTORY)
    assert [len(call) for call in sent["log_batch"]] == [8, 8, 5]
    batched = [point for call in sent["log_batch"] for point in call]
    assert batched == one_by_one and len(batched) == 21
    assert batched[:2] == [("run", "loss", 1.0, 1), ("run", "loss", 0.5, 2)] and ("run", "test_rmse", 0.5, 0) in batched


def test_logging_switched_off_sends_nothing(sent: dict[str, list]) -> None:
    dataset = MlflowBatchedMetricsHistoryDataset(run_id="run", prefix="")
    dataset._logging_activated = False  # what kedro-mlflow does when tracking is off for a pipeline
    dataset.save(HISTORY)
    assert sent == {"log_metric": [], "log_batch": []}
