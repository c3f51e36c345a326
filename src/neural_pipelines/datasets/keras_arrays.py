"""``KerasArraysDataset``: the arrays of a ``keras.datasets`` dataset, cached in a project folder.

``keras.datasets.fashion_mnist.load_data()`` downloads four IDX files into ``~/.keras`` with
no timeout, so offline it hangs or fails with a bare URL error. This dataset fetches the same
files from the same origin with the same Keras machinery (``keras.utils.get_file``), but:

- into a folder the catalog names (``data/01_raw/...``), so a run's raw data sits with the
  project and can be placed there by hand;
- if every file is already there, they are read directly: no network access at all;
- otherwise the origin is probed first with a short timeout, and an unreachable origin
  stops the run at once with a message naming every file and the folder to put it in.

Two file formats, told apart by the name: gzipped IDX files (``*-idx3-ubyte.gz``: one array
each, named in ``files``) and ``.npz`` archives (all their arrays, e.g. Keras' ``mnist.npz``).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import socket
import struct
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import keras
import numpy as np
from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
MD5_HEX_LENGTH = 32


class ArrayDict(dict):
    """A ``{name: array}`` dict that remembers where it was read from, like ``DataFrame.attrs``.

    ``neural_pipelines.validation.source_of`` reads ``attrs["source"]``, so validation errors
    on these arrays name the folder they came from.
    """

    def __init__(self, arrays: dict[str, np.ndarray], source: str) -> None:
        super().__init__(arrays)
        self.attrs = {"source": source}


def read_idx(path: Path) -> np.ndarray:
    """One array from a (gzipped) IDX file: 2 zero bytes, a dtype code, the rank, big-endian dims, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        content = file.read()
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] not in IDX_DTYPES:
        raise ValueError(f"not an IDX file (header bytes {content[:4].hex()})")
    rank = content[3]
    shape = tuple(int(dim) for dim in np.frombuffer(content, dtype=">u4", count=rank, offset=4))
    dtype = np.dtype(IDX_DTYPES[content[2]])
    expected = 4 + 4 * rank + int(np.prod(shape)) * dtype.itemsize
    if len(content) != expected:
        raise ValueError(f"header says shape {shape} ({expected} bytes) but the file has {len(content)} bytes")
    return np.frombuffer(content, dtype=dtype, offset=4 + 4 * rank).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` in the IDX format :func:`read_idx` reads (uint8 payload), as the MNIST / Fashion-MNIST files store it.

    For making files in the real format from one's own arrays (and for tests and benchmarks).
    """
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def file_digest(path: Path, expected: str) -> str:
    """The file's MD5 (for a 32-character ``expected``) or SHA-256, as Keras' ``hash_algorithm="auto"``."""
    digest = hashlib.md5(usedforsecurity=False) if len(expected) == MD5_HEX_LENGTH else hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def probe(url: str, timeout: float) -> str | None:
    """``None`` if ``url``'s server answers within ``timeout`` seconds, else why not.

    Runs in a daemon thread so that a hanging DNS lookup (which ignores socket timeouts)
    cannot hold the run up either.
    """
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
                outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # the server answered; get_file reports what it said
        except (urllib.error.URLError, OSError, ValueError) as err:
            outcome.append(str(getattr(err, "reason", err)))

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


class KerasArraysDataset(AbstractDataset[None, dict[str, np.ndarray]]):
    """Loads ``{array name: numpy array}`` from the files of a ``keras.datasets`` dataset.

    Example catalog entry (Fashion-MNIST, as ``keras.datasets.fashion_mnist`` fetches it)::

        image_cnn.raw_images:
          type: neural_pipelines.datasets.KerasArraysDataset
          origin: https://storage.googleapis.com/tensorflow/tf-keras-datasets/
          folder: data/01_raw/image_cnn/fashion-mnist
          files:                      # file name -> array name (null for an .npz archive)
            train-images-idx3-ubyte.gz: x_train
            train-labels-idx1-ubyte.gz: y_train
            t10k-images-idx3-ubyte.gz: x_test
            t10k-labels-idx1-ubyte.gz: y_test
          file_hashes: {}             # optional: file name -> MD5 or SHA-256
          timeout: 10                 # seconds to wait for the origin before giving up

    Args:
        name: what the files are, for messages (e.g. ``Fashion-MNIST``).
    """

    def __init__(
        self,
        *,
        origin: str,
        folder: str,
        files: dict[str, str | None],
        name: str = "dataset",
        file_hashes: dict[str, str] | None = None,
        timeout: float = 10.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not files:
            raise DatasetError("KerasArraysDataset needs at least one entry in 'files'.")
        self._origin = origin if origin.endswith("/") else origin + "/"
        self._folder = Path(folder)
        self._filepath = self._folder  # where DataSourceHook and error messages look
        self._files = dict(files)
        self._name = name
        self._file_hashes = {file: digest.lower() for file, digest in (file_hashes or {}).items() if digest}
        self._timeout = float(timeout)
        self.metadata = metadata

    # --- messages -------------------------------------------------------------------

    def _place_them_yourself(self, missing: list[str]) -> str:
        listed = ", ".join(self._files)
        files = "the file" if len(self._files) == 1 else f"the {len(self._files)} files"
        return (
            f"Download {files} of {self._name} ({listed}) from {self._origin} "
            f"and put them in {self._folder}/ (missing now: {', '.join(missing)}); then run again. "
            "Nothing is downloaded once all of them are there."
        )

    # --- fetching -------------------------------------------------------------------

    def _fetch(self, missing: list[str]) -> None:
        reason = probe(self._origin + missing[0], self._timeout)
        if reason is not None:
            raise DatasetError(f"{self._name}: {self._origin} is not reachable ({reason}). {self._place_them_yourself(missing)}")
        self._folder.mkdir(parents=True, exist_ok=True)
        previous_timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self._timeout)  # get_file's urlretrieve has no timeout of its own
        try:
            for file in missing:
                logger.info("Downloading %s%s into %s", self._origin, file, self._folder)
                keras.utils.get_file(
                    fname=file,
                    origin=self._origin + file,
                    file_hash=self._file_hashes.get(file),
                    cache_dir=str(self._folder.parent.resolve()),
                    cache_subdir=self._folder.name,
                )
        except Exception as err:  # get_file raises bare Exception for URL errors
            raise DatasetError(f"{self._name}: downloading failed ({err}). {self._place_them_yourself(missing)}") from err
        finally:
            socket.setdefaulttimeout(previous_timeout)

    # --- reading --------------------------------------------------------------------

    def _read(self, file: str, array_name: str | None) -> dict[str, np.ndarray]:
        path = self._folder / file
        expected = self._file_hashes.get(file)
        if expected and file_digest(path, expected) != expected:
            raise DatasetError(
                f"{path} does not match its checksum {expected} in the catalog. "
                f"Delete it to download it again, or replace it with the file from {self._origin}{file}."
            )
        try:
            if file.endswith(".npz"):
                with np.load(path, allow_pickle=False) as archive:
                    return {key: archive[key] for key in archive.files}
            return {array_name or Path(file).stem: read_idx(path)}
        except (OSError, ValueError, EOFError) as err:
            raise DatasetError(
                f"{path} cannot be read ({err}). Delete it to download it again, or replace it with the file from {self._origin}{file}."
            ) from err

    def load(self) -> ArrayDict:
        missing = [file for file in self._files if not (self._folder / file).is_file()]
        if missing:
            self._fetch(missing)
        arrays: dict[str, np.ndarray] = {}
        for file, array_name in self._files.items():
            arrays.update(self._read(file, array_name))
        logger.info("%s from %s: %s", self._name, self._folder, ", ".join(f"{key} {value.shape}" for key, value in arrays.items()))
        return ArrayDict(arrays, source=str(self._folder))

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._folder} holds files fetched from {self._origin}; it is read-only.")

    def _exists(self) -> bool:
        return all((self._folder / file).is_file() for file in self._files)

    def _describe(self) -> dict[str, Any]:
        return {"origin": self._origin, "folder": str(self._folder), "files": self._files}
