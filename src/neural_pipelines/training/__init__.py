"""Shared training mechanics: seeding, the fit loop, history → metrics, image arrays and files → tf.data."""

from neural_pipelines.training.fit import EpochLogger, FitResult, TrainingSettings, fit_from_params, fit_model, seed_everything
from neural_pipelines.training.metrics import mlflow_metric_history
from neural_pipelines.training.tfdata import image_dataset, image_file_dataset, load_image_array, scale_pixels

__all__ = [
    "EpochLogger",
    "FitResult",
    "TrainingSettings",
    "fit_from_params",
    "fit_model",
    "image_dataset",
    "image_file_dataset",
    "load_image_array",
    "mlflow_metric_history",
    "scale_pixels",
    "seed_everything",
]
