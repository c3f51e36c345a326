"""``NpzDataset``: a dict of NumPy arrays in one ``.npz`` file, versioned like any Kedro dataset."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version, get_filepath_str, get_protocol_and_path

from neural_pipelines.datasets.atomic import AtomicSaveMixin

Arrays = dict[str, np.ndarray] | np.ndarray
SINGLE_ARRAY_KEY = "array"


class _NpzDataset(AbstractVersionedDataset[Arrays, Arrays]):
    """Saves ``{name: array}`` (or one array) with ``numpy.savez_compressed``; loads it back the same way.

    Arrays keep their dtype, so image tensors stay uint8 on disk. Loading never unpickles
    (``allow_pickle=False``): object arrays are refused at save time instead.
    """

    def __init__(self, *, filepath: str, version: Version | None = None, metadata: dict[str, Any] | None = None) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol)
        self.metadata = metadata
        super().__init__(filepath=PurePosixPath(path), version=version, exists_function=self._fs.exists, glob_function=self._fs.glob)

    def load(self) -> Arrays:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, mode="rb") as file, np.load(file, allow_pickle=False) as arrays:
            if arrays.files == [SINGLE_ARRAY_KEY]:
                return arrays[SINGLE_ARRAY_KEY]
            return {name: arrays[name] for name in arrays.files}

    def save(self, data: Arrays) -> None:
        if isinstance(data, np.ndarray):
            data = {SINGLE_ARRAY_KEY: data}
        object_arrays = [name for name, array in data.items() if np.asarray(array).dtype == object]
        if object_arrays:
            raise DatasetError(f"NpzDataset stores numeric arrays only; {object_arrays} have dtype=object.")
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        self._fs.makedirs(str(PurePosixPath(save_path).parent), exist_ok=True)
        with self._fs.open(save_path, mode="wb") as file:
            np.savez_compressed(file, **data)

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(load_path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}


class NpzDataset(AtomicSaveMixin, _NpzDataset):
    __doc__ = _NpzDataset.__doc__  # the version appears complete or not at all (datasets/atomic.py)
