"""``DownloadedFileDataset``: a file fetched once from a URL, checked, then read like any local file.

Used by the ``full`` environment for the course's full-size data. The download streams into
``<file>.part`` and is renamed into place only when complete and (if ``sha256`` is given)
matching, so an interrupted or corrupt download never leaves a file that a later run would
trust. Offline, loading fails at once with the URL and the exact path to place the file at.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from copy import deepcopy
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import parse_dataset_definition

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DownloadedFileDataset(AbstractDataset[None, Any]):
    """Downloads ``url`` to ``filepath`` on first load, then loads it with the wrapped ``dataset``.

    Example catalog entry::

        traffic_lstm.raw_traffic:
          type: neural_pipelines.datasets.DownloadedFileDataset
          url: https://example.org/traffic.csv.gz
          sha256: 3f5a…            # optional; null skips the check (logged)
          filepath: data/01_raw/traffic_lstm/traffic.csv.gz
          dataset: {type: pandas.CSVDataset}
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        url: str,
        filepath: str,
        dataset: str | dict[str, Any],
        sha256: str | None = None,
        timeout: float = 30.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._url = url
        self._filepath = Path(filepath)
        self._sha256 = sha256.lower() if sha256 else None
        self._timeout = timeout
        self._dataset_config = {"type": dataset} if isinstance(dataset, str) else deepcopy(dataset)
        self.metadata = metadata

    def _place_it_yourself(self) -> str:
        checksum = f" (sha256 {self._sha256})" if self._sha256 else ""
        return f"Download {self._url} yourself and place it at {self._filepath}{checksum}, then run again."

    def _download(self) -> None:
        partial = self._filepath.with_name(self._filepath.name + ".part")
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        logger.info("Downloading %s to %s", self._url, self._filepath)
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(self._url, timeout=self._timeout) as response, partial.open("wb") as file:  # noqa: S310
                expected = response.headers.get("Content-Length")
                received = 0
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    file.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
            if expected is not None and received != int(expected):
                raise OSError(f"connection closed after {received} of {expected} bytes")
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            partial.unlink(missing_ok=True)
            raise DatasetError(f"Could not download {self._url}: {err}. {self._place_it_yourself()}") from err
        if self._sha256 and digest.hexdigest() != self._sha256:
            partial.unlink(missing_ok=True)
            raise DatasetError(
                f"{self._url} downloaded with sha256 {digest.hexdigest()}, expected {self._sha256}; "
                f"nothing was kept. {self._place_it_yourself()}"
            )
        if not self._sha256:
            logger.warning("%s has no sha256 in the catalog; downloaded file's sha256 is %s", self._url, digest.hexdigest())
        os.replace(partial, self._filepath)

    def load(self) -> Any:
        if not self._filepath.is_file():
            self._download()
        elif self._sha256 and sha256_of(self._filepath) != self._sha256:
            raise DatasetError(
                f"{self._filepath} does not match sha256 {self._sha256}: delete it to download it again, "
                f"or replace it. {self._place_it_yourself()}"
            )
        dataset_class, dataset_args = parse_dataset_definition(self._dataset_config)
        return dataset_class(**{**dataset_args, "filepath": str(self._filepath)}).load()

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._filepath} is downloaded from {self._url}; it is read-only.")

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"url": self._url, "filepath": str(self._filepath), "sha256": self._sha256}
