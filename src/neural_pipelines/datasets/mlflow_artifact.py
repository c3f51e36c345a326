"""``VersionedMlflowArtifactDataset``: kedro-mlflow's artifact wrapper, versioned in step with the catalog.

``kedro_mlflow.io.artifacts.MlflowArtifactDataset`` builds its wrapped dataset without the
run's save version, so a wrapped ``versioned: true`` dataset invents its own timestamp and
Kedro 1.7 refuses the catalog ("All datasets in the catalog must have the same save
version"). Here ``versioned: true`` goes on the outer entry; Kedro hands the run's version
to this class, which gives it to the wrapped dataset. Saving writes the local versioned file
and logs it to the active MLflow run, exactly as kedro-mlflow does.

What the catalog gets is kedro-mlflow's dynamic subclass of the wrapped dataset class, so the
wrapped dataset's own methods stay: ``preview()`` of ``matplotlib.MatplotlibDataset`` or
``pandas.CSVDataset`` (the newest version) is what kedro-viz shows in its side panel and in
``kedro viz build --include-previews`` (tests/datasets/test_mlflow_artifact.py, tests/test_kedro_viz.py).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from kedro.io.core import Version
from kedro_mlflow.io.artifacts import MlflowArtifactDataset


class VersionedMlflowArtifactDataset(MlflowArtifactDataset):
    """``MlflowArtifactDataset`` whose wrapped dataset uses the catalog's save/load version."""

    def __new__(
        cls,
        dataset: str | dict[str, Any],
        run_id: str | None = None,
        artifact_path: str | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        version: Version | None = None,
    ) -> Any:
        dataset = {"type": dataset} if isinstance(dataset, str) else deepcopy(dataset)
        if version is not None:
            dataset["versioned"] = True
        wrapped = super().__new__(
            cls, dataset=dataset, run_id=run_id, artifact_path=artifact_path, credentials=credentials, metadata=metadata
        )
        if version is not None:
            wrapped._version = version
        return wrapped
