"""Tiny CIFAR-10 archives in the real format: ``cifar-10-python.tar.gz`` holding ``cifar-10-batches-py/``'s pickled batches.

CIFAR's batches were pickled by Python 2 (protocol 2) with numpy 1.x: strings are Python 2
``str`` (``SHORT_BINSTRING`` opcodes, read back as bytes with ``encoding="bytes"``) and the
array is rebuilt by ``numpy.core.multiarray._reconstruct``. ``py2_pickle`` writes the same
opcodes from Python 3, so the reader is tested on what the real files contain, not on what
Python 3's pickle would write.
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from pathlib import Path
from typing import ClassVar

import numpy as np

from neural_pipelines.datasets.keras_arrays import CIFAR_BATCHES, CIFAR_FOLDER

_RECONSTRUCT = np.empty(0, np.uint8).__reduce__()[0]
SHORT_STRING_LIMIT = 256


class _Python2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table can be extended
    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def save_python2_str(self, obj: str | bytes) -> None:
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < SHORT_STRING_LIMIT:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_python2_str
    dispatch[bytes] = save_python2_str

    def save_global(self, obj: object, name: str | None = None) -> None:
        if obj is _RECONSTRUCT:  # numpy 2 calls it numpy._core.multiarray; numpy 1.x wrote numpy.core.multiarray
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def py2_pickle(obj: object) -> bytes:
    """``obj`` pickled as Python 2's cPickle (protocol 2) with numpy 1.x wrote CIFAR's batches."""
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def cifar_batch(images: np.ndarray, labels: np.ndarray, name: str) -> bytes:
    """One batch: ``images`` (n, 32, 32, 3) uint8 stored as CIFAR does, one channel-first 3,072-byte row each."""
    rows = np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), -1)
    return py2_pickle(
        {
            "batch_label": name,
            "labels": [int(label) for label in labels],
            "data": rows,
            "filenames": [f"image_{index}.png" for index in range(len(images))],
        }
    )


def write_cifar_archive(path: Path, arrays: dict[str, np.ndarray], replace: dict[str, bytes] | None = None) -> Path:
    """``cifar-10-python.tar.gz`` at ``path``: the training images spread over data_batch_1 … 5, the test images in test_batch.

    ``replace`` maps a batch name to the bytes to store instead (a tampered batch).
    """
    members: dict[str, bytes] = {}
    for split, batches in CIFAR_BATCHES.items():
        parts = np.array_split(np.arange(len(arrays[f"y_{split}"])), len(batches))
        for batch, part in zip(batches, parts, strict=True):
            members[batch] = cifar_batch(arrays[f"x_{split}"][part], arrays[f"y_{split}"][part], batch)
    members.update(replace or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for batch, content in members.items():
            info = tarfile.TarInfo(f"{CIFAR_FOLDER}/{batch}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def tiny_cifar(n_train: int = 10, n_test: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Random uint8 images (n, 32, 32, 3) and labels 0–9, as ``keras.datasets.cifar10.load_data`` returns them (labels flat)."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
        "y_test": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
