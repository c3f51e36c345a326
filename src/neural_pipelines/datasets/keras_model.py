"""``KerasModelDataset``: a versioned ``.keras`` file that is also logged to MLflow.

Saving writes the model in the Keras 3 ``.keras`` format (versioned, so no run overwrites
another) and, while an MLflow run is active, logs it in the ``mlflow.keras`` flavor with a
signature read off the model's own input and output shapes, so ``mlflow.keras.load_model``
and the MLflow UI know what it takes and returns. Loading always uses Keras safe mode.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import tensorflow as tf
from kedro_datasets.tensorflow import TensorFlowModelDataset
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from neural_pipelines.datasets.atomic import AtomicSaveMixin
from neural_pipelines.models.compile import trainable_count

logger = logging.getLogger(__name__)


def keras_signature(model: Any) -> ModelSignature:
    """An MLflow tensor signature with the model's input and output shapes (batch dim = -1).

    A model with several inputs (or outputs) names each by its Keras name: MLflow accepts
    several tensors only when they are named.
    """

    def spec(tensor: Any, named: bool) -> TensorSpec:
        shape = tuple(-1 if dim is None else int(dim) for dim in tensor.shape)
        return TensorSpec(np.dtype(tensor.dtype), shape, tensor.name if named else None)

    def schema(tensors: list[Any]) -> Schema:
        return Schema([spec(tensor, named=len(tensors) > 1) for tensor in tensors])

    return ModelSignature(inputs=schema(model.inputs), outputs=schema(model.outputs))


def model_summary(model: keras.Model) -> str:
    """What ``model.summary()`` says, as plain text: one line per layer (name, type, output shape, parameters), then totals.

    Written here rather than captured from ``summary()``, whose Rich table is cut at the
    console's width when no terminal is attached (a ``kedro run`` in CI or under nohup).
    """
    rows = [("layer", "type", "output shape", "parameters")]
    for layer in model.layers:
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):  # a layer without one defined output (shared, or not built)
            shape = "?"
        rows.append((layer.name, type(layer).__name__, shape, f"{layer.count_params():,}"))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [f"Model: {model.name}", ""]
    lines += [
        "  ".join(
            cell.rjust(width) if column == 3 else cell.ljust(width) for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    trainable = trainable_count(model)
    lines += [
        "",
        f"Total params: {model.count_params():,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {model.count_params() - trainable:,}",
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def log_architecture_diagram(model: keras.Model, artifact_file: str) -> bool:
    """Log ``keras.utils.plot_model``'s diagram where pydot and Graphviz are installed; never required.

    Returns whether a diagram was logged; without them the summary text is the record.
    """
    if importlib.util.find_spec("pydot") is None or shutil.which("dot") is None:
        logger.debug("No architecture diagram for %s: pydot or Graphviz's dot is not installed", model.name)
        return False
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / artifact_file
        try:
            keras.utils.plot_model(model, to_file=str(path), show_shapes=True, show_layer_names=True)
        except (ImportError, OSError) as err:  # Keras raises ImportError without pydot or Graphviz
            logger.debug("No architecture diagram for %s: %s", model.name, err)
            return False
        if not path.exists():
            return False
        mlflow.log_artifact(str(path))
    return True


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
            mlflow.log_text(model_summary(data), f"{self._mlflow_name}_summary.txt")
            log_architecture_diagram(data, f"{self._mlflow_name}_architecture.png")
            logger.info("MLflow: logged model '%s' to run %s", self._mlflow_name, mlflow.active_run().info.run_id)
