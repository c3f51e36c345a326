"""``KerasModelDataset``: a versioned ``.keras`` file that is also logged to MLflow.

Saving writes the model in the Keras 3 ``.keras`` format (versioned, so no run overwrites
another) and, while an MLflow run is active, logs it in the ``mlflow.keras`` flavor with a
signature read off the model's own input and output shapes, so ``mlflow.keras.load_model``
and the MLflow UI know what it takes and returns. Loading always uses Keras safe mode.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import mlflow
import numpy as np
import tensorflow as tf
from kedro_datasets.tensorflow import TensorFlowModelDataset
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from neural_pipelines.datasets.atomic import AtomicSaveMixin

logger = logging.getLogger(__name__)


def keras_signature(model: Any) -> ModelSignature:
    """An MLflow tensor signature with the model's input and output shapes (batch dim = -1)."""

    def spec(tensor: Any) -> TensorSpec:
        shape = tuple(-1 if dim is None else int(dim) for dim in tensor.shape)
        return TensorSpec(np.dtype(tensor.dtype), shape)

    return ModelSignature(
        inputs=Schema([spec(tensor) for tensor in model.inputs]), outputs=Schema([spec(tensor) for tensor in model.outputs])
    )


class KerasModelDataset(AtomicSaveMixin, TensorFlowModelDataset):
    """``tensorflow.TensorFlowModelDataset`` for ``.keras`` files, plus MLflow model logging.

    Args:
        mlflow_name: name of the logged model inside the active MLflow run (``null`` turns
            MLflow logging off for this entry).
        Everything else as ``kedro_datasets.tensorflow.TensorFlowModelDataset``.
    """

    def __init__(self, *, mlflow_name: str | None = "model", **kwargs: Any) -> None:
        load_args = {"safe_mode": True, **(kwargs.pop("load_args", None) or {})}
        super().__init__(load_args=load_args, **kwargs)
        self._mlflow_name = mlflow_name
        # kedro-mlflow flips this on every dataset whose class name starts with "Mlflow";
        # ours follows the same switch by hand in `save`.
        self._logging_activated = True

    def save(self, data: Any) -> None:
        super().save(data)  # the .keras file, all-or-nothing (AtomicSaveMixin)
        if self._mlflow_name and self._logging_activated and mlflow.active_run() is not None:
            mlflow.keras.log_model(
                data,
                name=self._mlflow_name,
                signature=keras_signature(data),
                # Stated, not inferred: inference reloads the model in a subprocess (~10 s a model).
                pip_requirements=[f"tensorflow=={tf.__version__}", f"keras=={keras.__version__}"],
            )
            logger.info("MLflow: logged model '%s' to run %s", self._mlflow_name, mlflow.active_run().info.run_id)
