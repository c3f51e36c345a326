"""Shared training mechanics: seeding, the fit loop, history → metrics."""

from neural_pipelines.training.fit import EpochLogger, FitResult, fit_model, seed_everything
from neural_pipelines.training.metrics import mlflow_metric_history

__all__ = ["EpochLogger", "FitResult", "fit_model", "mlflow_metric_history", "seed_everything"]
