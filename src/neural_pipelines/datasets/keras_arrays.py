"""``KerasArraysDataset``: the arrays of a ``keras.datasets`` dataset, cached in a project folder.

``keras.datasets.fashion_mnist.load_data()`` downloads four IDX files into ``~/.keras`` with
no timeout, so offline it hangs or fails with a bare URL error. This dataset fetches the same
files from the same origin with the same Keras machinery (``keras.utils.get_file``), but:

- into a folder the catalog names (``data/01_raw/...``), so a run's raw data sits with the
  project and can be placed there by hand;
- if every file is already there, they are read directly: no network access at all;
- otherwise the origin is probed first with a short timeout, and an unreachable origin
  stops the run at once with a message naming every file and the folder to put it in.

Three file formats, told apart by the name: gzipped IDX files (``*-idx3-ubyte.gz``: one array
each, named in ``files``), ``.npz`` archives (all their arrays, e.g. Keras' ``mnist.npz``) and
CIFAR-10's ``.tar.gz`` of pickled python batches (``x_train, y_train, x_test, y_test``, see
:func:`read_cifar_batches`). CIFAR's pickles are read with :class:`CifarUnpickler`, which builds
numpy arrays and nothing else, so a tampered file cannot run code.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import pickle
import socket
import struct
import tarfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

import keras
import numpy as np
from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
MD5_HEX_LENGTH = 32
UINT8_MAX = 255

CIFAR_SUFFIXES = (".tar.gz", ".tgz")
CIFAR_FOLDER = "cifar-10-batches-py"  # the one folder inside cifar-10-python.tar.gz
CIFAR_BATCHES = {"train": tuple(f"data_batch_{number}" for number in range(1, 6)), "test": ("test_batch",)}
CIFAR_IMAGE = (3, 32, 32)  # a row of b"data": 1,024 red bytes, then green, then blue, each plane row by row
_RECONSTRUCT = np.empty(0, np.uint8).__reduce__()[0]  # the function a pickled ndarray is rebuilt with
CIFAR_PICKLE_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,  # the name numpy 1.x wrote (CIFAR's own files)
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # the name numpy 2 writes
}


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


class CifarUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild CIFAR-10's python batches and nothing else.

    A batch is a dict of bytes keys to a uint8 array (``b"data"``), a list of ints
    (``b"labels"``) and bytes (``b"batch_label"``, ``b"filenames"``), pickled by Python 2 with
    numpy 1.x. Dicts, lists, bytes and ints need no global at all; the array needs exactly
    ``CIFAR_PICKLE_GLOBALS`` (numpy's ndarray, dtype and array-rebuilding function, the same set
    Keras' own CIFAR loader allows). Any other global (``os.system``, ``builtins.eval``, a class
    whose ``__reduce__`` runs a command) is refused before it is even imported.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return CIFAR_PICKLE_GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to unpickle {module}.{name}: a CIFAR-10 batch holds only dicts, lists, bytes and numpy arrays, "
                "so this file is corrupt or has been tampered with"
            ) from None


def _cifar_batch(file: IO[bytes], name: str) -> tuple[np.ndarray, np.ndarray]:
    """One python batch → uint8 images ``(n, 32, 32, 3)`` (channel-last) and uint8 labels ``(n,)``."""
    try:
        batch = CifarUnpickler(file, encoding="bytes").load()  # Python 2's str → bytes, as Keras reads it
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
        raise ValueError(f"{name}: {err}") from err
    batch = batch if isinstance(batch, dict) else {}
    data, labels = batch.get(b"data"), np.asarray(batch.get(b"labels"))
    row = int(np.prod(CIFAR_IMAGE))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.shape[1:] == (row,)):
        found = f"a {data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{name}: b'data' should be a uint8 array with one {row}-byte row per image (3×32×32), found {found}")
    if not (labels.shape == (len(data),) and np.issubdtype(labels.dtype, np.integer) and ((labels >= 0) & (labels <= UINT8_MAX)).all()):
        raise ValueError(
            f"{name}: b'labels' should be one integer 0–{UINT8_MAX} per image ({len(data)}), found {labels.dtype} {labels.shape}"
        )
    images = data.reshape(-1, *CIFAR_IMAGE).transpose(0, 2, 3, 1)  # channel-first rows → (n, height, width, RGB)
    return images, labels.astype(np.uint8)


def read_cifar_batches(path: Path) -> dict[str, np.ndarray]:
    """``x_train, y_train, x_test, y_test`` from ``cifar-10-python.tar.gz``, as ``keras.datasets.cifar10.load_data`` gives them.

    Images are uint8 ``(n, 32, 32, 3)``, channel-last (Keras' default layout); labels are
    uint8 class indices ``(n,)`` (Keras adds a trailing axis of 1). The training images are
    ``cifar-10-batches-py/data_batch_1`` … ``_5`` in that order, the test images ``test_batch``.
    They are read straight from the archive in one pass, never extracted: no half-extracted
    folder can be left behind, and a pinned checksum covers exactly what is read.
    """
    wanted = {f"{CIFAR_FOLDER}/{batch}": batch for batches in CIFAR_BATCHES.values() for batch in batches}
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with tarfile.open(path, mode="r|gz") as archive:  # a stream: members are read in the archive's order
        for member in archive:
            if member.name in wanted and member.isfile():
                with archive.extractfile(member) as file:
                    found[wanted[member.name]] = _cifar_batch(file, member.name)
    missing = [member for member, batch in wanted.items() if batch not in found]
    if missing:
        raise ValueError(f"the archive has no {', '.join(missing)} (CIFAR-10's python batches)")
    arrays: dict[str, np.ndarray] = {}
    for split, batches in CIFAR_BATCHES.items():
        arrays[f"x_{split}"] = np.concatenate([found[batch][0] for batch in batches])
        arrays[f"y_{split}"] = np.concatenate([found[batch][1] for batch in batches])
    return arrays


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

    Example catalog entry (Fashion-MNIST, as ``keras.datasets.fashion_mnist`` fetches it;
    CIFAR-10 is one archive, ``files: {cifar-10-python.tar.gz: null}``)::

        image_cnn.raw_images:
          type: neural_pipelines.datasets.KerasArraysDataset
          origin: https://storage.googleapis.com/tensorflow/tf-keras-datasets/
          folder: data/01_raw/image_cnn/fashion-mnist
          files:                      # file name -> array name (null for an .npz or CIFAR archive)
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
        one = len(self._files) == 1
        files, them, there = ("the file", "it", "it is") if one else (f"the {len(self._files)} files", "them", "all of them are")
        return (
            f"Download {files} of {self._name} ({listed}) from {self._origin} "
            f"and put {them} in {self._folder}/ (missing now: {', '.join(missing)}); then run again. "
            f"Nothing is downloaded once {there} there."
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
            if file.endswith(CIFAR_SUFFIXES):
                return read_cifar_batches(path)
            return {array_name or Path(file).stem: read_idx(path)}
        except (OSError, ValueError, EOFError, tarfile.TarError) as err:
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
