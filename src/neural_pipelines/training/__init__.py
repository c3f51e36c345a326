"""Shared training mechanics: seeding, the fit loop, history → metrics, image arrays → tf.data."""

from neural_pipelines.training.fit import EpochLogger, FitResult, fit_from_params, fit_model, seed_everything
from neural_pipelines.training.metrics import mlflow_metric_history
from neural_pipelines.training.tfdata import image_dataset, scale_pixels

__all__ = ["EpochLogger", "FitResult", "fit_from_params", "fit_model", "image_dataset", "mlflow_metric_history", "scale_pixels", "seed_everything"]
