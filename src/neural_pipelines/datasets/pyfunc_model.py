"""``MlflowPyfuncModelDataset``: a versioned local MLflow pyfunc model that is also logged to MLflow.

For models that are more than one Keras network, e.g. fitted preprocessing + regressor +
inverse target transform that together turn a raw table row into a prediction. Saving
writes an MLflow model folder (``mlflow.pyfunc.save_model``: ``MLmodel``, the pickled
``PythonModel``, requirements) under a versioned path, so no run overwrites another, and,
while an MLflow run is active, logs the same model to it (``mlflow.pyfunc.log_model``).
Loading returns ``mlflow.pyfunc.load_model`` of the local copy: exactly what a user gets
from ``mlflow.pyfunc.load_model("runs:/<run_id>/<name>")``.

A ``PythonModel`` that has a ``mlflow_signature()`` method gets that signature.
"""

from __future__ import annotations

import logging
from importlib import metadata as importlib_metadata
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import mlflow
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version, get_protocol_and_path

from neural_pipelines.datasets.atomic import AtomicSaveMixin

logger = logging.getLogger(__name__)

#: Stated, not inferred: MLflow infers requirements by reloading the model in a subprocess (slow).
DEFAULT_REQUIREMENTS = ("mlflow", "scikit-learn", "pandas", "numpy", "tensorflow", "keras")


def pinned(packages: tuple[str, ...] | list[str]) -> list[str]:
    """``name==installed version`` for each installed package (others are left out)."""
    requirements = []
    for package in packages:
        try:
            requirements.append(f"{package}=={importlib_metadata.version(package)}")
        except importlib_metadata.PackageNotFoundError:
            continue
    return requirements


class _MlflowPyfuncModelDataset(AbstractVersionedDataset[mlflow.pyfunc.PythonModel, Any]):
    """Saves an ``mlflow.pyfunc.PythonModel`` as a versioned local MLflow model and logs it to the active run.

    Example catalog entry::

        "house_prices.{variant}.price_model":
          type: neural_pipelines.datasets.pyfunc_model.MlflowPyfuncModelDataset
          filepath: data/06_models/house_prices/{variant}/price_model
          versioned: true
          mlflow_name: price_model

    Args:
        filepath: local folder of the model (local file system only: MLflow writes it).
        mlflow_name: name of the logged model in the active run; ``null`` turns logging off.
        requirements: packages whose installed versions are pinned in the model's requirements.
    """

    def __init__(
        self,
        *,
        filepath: str,
        mlflow_name: str | None = "model",
        requirements: list[str] | None = None,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        if protocol != "file":
            raise DatasetError(f"MlflowPyfuncModelDataset writes local folders only; got {filepath!r}.")
        self._protocol, self._fs = protocol, fsspec.filesystem(protocol)
        super().__init__(filepath=PurePosixPath(path), version=version, exists_function=self._fs.exists, glob_function=self._fs.glob)
        self._mlflow_name = mlflow_name
        self._requirements = pinned(list(requirements or DEFAULT_REQUIREMENTS))
        self.metadata = metadata
        # kedro-mlflow flips this on datasets whose class name starts with "Mlflow" (off for
        # `kedro run` with tracking disabled); `save` honours it.
        self._logging_activated = True

    def load(self) -> Any:
        return mlflow.pyfunc.load_model(str(self._get_load_path()))

    def save(self, data: mlflow.pyfunc.PythonModel) -> None:
        if not isinstance(data, mlflow.pyfunc.PythonModel):
            raise DatasetError(f"MlflowPyfuncModelDataset saves mlflow.pyfunc.PythonModel objects, got {type(data).__name__}.")
        signature = data.mlflow_signature() if hasattr(data, "mlflow_signature") else None
        save_path = Path(str(self._get_save_path()))
        save_path.parent.mkdir(parents=True, exist_ok=True)
        mlflow.pyfunc.save_model(str(save_path), python_model=data, signature=signature, pip_requirements=self._requirements)
        if self._mlflow_name and self._logging_activated and mlflow.active_run() is not None:
            mlflow.pyfunc.log_model(name=self._mlflow_name, python_model=data, signature=signature, pip_requirements=self._requirements)
            logger.info("MLflow: logged pyfunc model '%s' to run %s", self._mlflow_name, mlflow.active_run().info.run_id)

    def _exists(self) -> bool:
        try:
            path = self._get_load_path()
        except DatasetError:
            return False
        return self._fs.exists(str(path))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "mlflow_name": self._mlflow_name, "version": self._version}


class MlflowPyfuncModelDataset(AtomicSaveMixin, _MlflowPyfuncModelDataset):
    __doc__ = _MlflowPyfuncModelDataset.__doc__  # the version appears complete or not at all (datasets/atomic.py)
