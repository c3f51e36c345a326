"""``ScikitLearnDataset``: a table from one of scikit-learn's dataset loaders, as one DataFrame.

Two kinds of loader, one dataset:

- bundled (``load_iris``, ``load_diabetes`` …): the data ships inside the scikit-learn wheel,
  so loading never touches the network;
- fetched (``fetch_california_housing`` …): scikit-learn downloads the data once and keeps it
  in its own cache format in ``data_home`` (for California: ``cal_housing_py3.pkz``, a
  joblib file). With ``data_home`` set, this dataset reads that cache when the file is
  there (no network at all); otherwise it first asks the origin with a short timeout, and
  an unreachable origin stops the run at once naming the file and the folder to put it in
  (scikit-learn itself would retry with no timeout). A reachable one is downloaded by
  scikit-learn's own loader, which checks the archive's checksum.

The cache is a pickle (joblib): loading it runs code. Place only a file scikit-learn wrote.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import sklearn.datasets
from kedro.io import AbstractDataset, DatasetError

from neural_pipelines.datasets.keras_arrays import probe

logger = logging.getLogger(__name__)

#: The column a classification bundle's class names go to (next to its integer ``target``).
TARGET_NAME_COLUMN = "target_name"


class ScikitLearnDataset(AbstractDataset[None, pd.DataFrame]):
    """``sklearn.datasets.<loader>(as_frame=True).frame``: feature columns and the target.

    Example catalog entries::

        fundamentals.raw_iris:              # bundled in the wheel
          type: neural_pipelines.datasets.ScikitLearnDataset
          loader: load_iris

        fundamentals.raw_regression:        # fetched once into data_home
          type: neural_pipelines.datasets.ScikitLearnDataset
          loader: fetch_california_housing
          data_home: data/01_raw/fundamentals/scikit_learn_data
          cache_file: cal_housing_py3.pkz   # the file scikit-learn keeps there
          url: https://…                    # where scikit-learn downloads from: probed first
          timeout: 10

    A classification bundle (integer target, ``target_names``) also gets a
    ``target_name`` column with each row's class name.
    """

    def __init__(
        self,
        *,
        loader: str,
        data_home: str | None = None,
        cache_file: str | None = None,
        url: str | None = None,
        timeout: float = 10.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not loader.startswith(("load_", "fetch_")) or not callable(getattr(sklearn.datasets, loader, None)):
            raise DatasetError(f"loader {loader!r} is not a scikit-learn dataset loader (sklearn.datasets.load_* or fetch_*).")
        if data_home is not None and not (cache_file and url):
            raise DatasetError(f"{loader} with data_home needs cache_file (the file scikit-learn keeps there) and url (its origin).")
        self._loader = loader
        self._data_home = Path(data_home) if data_home is not None else None
        self._cache_file = cache_file
        self._url = url
        self._timeout = float(timeout)
        self._filepath = self._data_home / cache_file if self._data_home is not None and cache_file else None
        self.metadata = metadata

    def _place_it_yourself(self) -> str:
        return (
            f'On a machine with internet access run `python -c "from sklearn.datasets import {self._loader}; '
            f"{self._loader}(data_home='scikit_learn_data')\"`, then copy scikit_learn_data/{self._cache_file} into "
            f"{self._data_home}/ and run again. Nothing is downloaded once {self._cache_file} is there."
        )

    def _arguments(self) -> dict[str, Any]:
        """The loader's arguments: fetched data is read from (or downloaded into) ``data_home``."""
        if self._data_home is None:
            return {"as_frame": True}
        if not self._filepath.is_file():
            reason = probe(self._url, self._timeout)
            if reason is not None:
                raise DatasetError(
                    f"{self._loader}: {self._filepath} is not there and {self._url} is not reachable ({reason}). "
                    + self._place_it_yourself()
                )
            self._data_home.mkdir(parents=True, exist_ok=True)
            logger.info("%s: downloading into %s", self._loader, self._data_home)
        return {"as_frame": True, "data_home": str(self._data_home), "download_if_missing": True}

    def load(self) -> pd.DataFrame:
        try:
            bunch = getattr(sklearn.datasets, self._loader)(**self._arguments())
        except DatasetError:
            raise
        except Exception as err:  # the download or the cache file failed: say what to do by hand
            if self._filepath is None:
                raise DatasetError(f"sklearn.datasets.{self._loader} failed ({err}).") from err
            raise DatasetError(f"{self._loader}: could not load {self._filepath} ({err}). {self._place_it_yourself()}") from err
        frame = bunch.frame.copy()
        target_names = bunch.get("target_names")
        if "target" in frame and pd.api.types.is_integer_dtype(frame["target"]) and target_names is not None:
            frame[TARGET_NAME_COLUMN] = [str(target_names[code]) for code in frame["target"]]
        frame.attrs["source"] = str(self._filepath) if self._filepath else f"sklearn.datasets.{self._loader}"
        logger.info("%s: %d rows x %d columns from %s", self._loader, len(frame), frame.shape[1], frame.attrs["source"])
        return frame

    def save(self, data: None) -> None:
        raise DatasetError(f"sklearn.datasets.{self._loader} is read-only.")

    def _exists(self) -> bool:
        return self._filepath is None or self._filepath.is_file()

    def fingerprint(self) -> str:
        """What the data is, for ``IncrementalRunner``: a bundled table is fixed by the scikit-learn version that ships it."""
        if self._filepath is not None:
            raise DatasetError(f"{self._filepath} is fingerprinted by its content")
        return f"sklearn.datasets.{self._loader} of scikit-learn {sklearn.__version__}"

    def _describe(self) -> dict[str, Any]:
        return {"loader": self._loader, "data_home": str(self._data_home) if self._data_home else None, "url": self._url}
