"""``KerasArraysDataset``: local files are read with no network; offline it fails at once, naming every file.

Everything runs against loopback (a closed port, a silent socket, a tiny HTTP server);
no test reaches the internet.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import socket
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from kedro.io import DatasetError

from neural_pipelines.datasets import KerasArraysDataset
from neural_pipelines.datasets.keras_arrays import idx_bytes, read_idx
from neural_pipelines.validation import source_of
from tests.conftest import PROJECT_ROOT
from tests.datasets.cifar_files import cifar_batch, py2_pickle, tiny_cifar, write_cifar_archive

# The file names the full environment's catalog gives keras.datasets' Fashion-MNIST files.
FASHION_FILES = yaml.safe_load((PROJECT_ROOT / "conf/full/catalog_image_cnn.yml").read_text())["_image_cnn_keras_datasets"][
    "fashion_mnist"
]["files"]


def tiny_fashion(folder: Path) -> dict[str, np.ndarray]:
    """Writes the four gzipped IDX files for 6 training and 4 test images; returns the arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "y_train": np.array([0, 1, 2, 9, 9, 3], dtype=np.uint8),
        "x_test": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "y_test": np.array([5, 6, 7, 8], dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for file, name in FASHION_FILES.items():
        (folder / file).write_bytes(gzip.compress(idx_bytes(arrays[name]), mtime=0))
    return arrays


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens here once the socket is closed


def dataset(folder: Path, origin: str, **kwargs) -> KerasArraysDataset:
    return KerasArraysDataset(origin=origin, folder=str(folder), files=FASHION_FILES, name="Fashion-MNIST", **kwargs)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(keras.utils, "get_file", refuse)


def test_files_already_in_the_folder_are_read_without_any_network_access(tmp_path: Path, no_network: None) -> None:
    folder = tmp_path / "data/01_raw/image_cnn/fashion-mnist"
    expected = tiny_fashion(folder)
    loaded = dataset(folder, "https://unreachable.invalid/").load()
    assert set(loaded) == {"x_train", "y_train", "x_test", "y_test"}
    for name, array in expected.items():
        assert loaded[name].dtype == np.uint8
        np.testing.assert_array_equal(loaded[name], array)
    assert source_of(loaded) == str(folder)  # validation errors name the folder


def test_offline_it_fails_at_once_naming_all_four_files_and_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data/01_raw/image_cnn/fashion-mnist"
    started = time.perf_counter()
    with pytest.raises(DatasetError) as error:
        dataset(folder, f"http://127.0.0.1:{closed_port()}/", timeout=5).load()
    assert time.perf_counter() - started < 3
    message = str(error.value)
    assert "is not reachable" in message
    for file in FASHION_FILES:
        assert file in message
    assert f"put them in {folder}/" in message
    assert not folder.exists()  # probed before anything is created


def test_a_server_that_never_answers_fails_after_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts connections, never replies
        port = silent.getsockname()[1]
        started = time.perf_counter()
        with pytest.raises(DatasetError, match=r"not reachable .*train-images-idx3-ubyte\.gz"):
            dataset(tmp_path / "fashion", f"http://127.0.0.1:{port}/", timeout=0.5).load()
        assert time.perf_counter() - started < 3


def test_missing_files_are_named_when_only_some_are_there(tmp_path: Path) -> None:
    folder = tmp_path / "fashion"
    tiny_fashion(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"missing now: t10k-labels-idx1-ubyte\.gz\)"):
        dataset(folder, f"http://127.0.0.1:{closed_port()}/").load()


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    served = tmp_path / "served"
    tiny_fashion(served)

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_missing_files_are_fetched_with_keras_get_file_into_the_folder(tmp_path: Path, file_server: str) -> None:
    folder = tmp_path / "data/01_raw/image_cnn/fashion-mnist"
    loaded = dataset(folder, file_server).load()
    assert sorted(path.name for path in folder.iterdir()) == sorted(FASHION_FILES)
    np.testing.assert_array_equal(loaded["y_train"], [0, 1, 2, 9, 9, 3])


def test_a_checksum_mismatch_stops_instead_of_silently_downloading_again(tmp_path: Path, no_network: None) -> None:
    folder = tmp_path / "fashion"
    tiny_fashion(folder)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz does not match its checksum 0{32}"):
        dataset(folder, "https://unreachable.invalid/", file_hashes={"train-images-idx3-ubyte.gz": "0" * 32}).load()


def test_a_corrupt_file_is_named_with_the_fix(tmp_path: Path, no_network: None) -> None:
    folder = tmp_path / "fashion"
    tiny_fashion(folder)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x09" + b"\x01" * 3))
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte\.gz cannot be read .*9.*Delete it"):
        dataset(folder, "https://unreachable.invalid/").load()


def test_an_npz_archive_gives_all_its_arrays(tmp_path: Path, no_network: None) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    np.savez(folder / "mnist.npz", x_train=np.ones((2, 28, 28), np.uint8), y_train=np.array([3, 4], np.uint8))
    loaded = KerasArraysDataset(origin="https://unreachable.invalid", folder=str(folder), files={"mnist.npz": None}).load()
    assert set(loaded) == {"x_train", "y_train"}
    np.testing.assert_array_equal(loaded["y_train"], [3, 4])


def test_read_idx_decodes_the_header_dimensions(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path), array)
    path.write_bytes(b"PK\x03\x04not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)


# --- CIFAR-10: cifar-10-python.tar.gz of pickled python batches ------------------------

CIFAR_FILES = {"cifar-10-python.tar.gz": None}


class RunsACommand:
    """Unpickling this calls os.system (through ``__reduce__``): what a tampered batch would do."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def cifar_dataset(folder: Path, origin: str = "https://unreachable.invalid/", **kwargs) -> KerasArraysDataset:
    return KerasArraysDataset(origin=origin, folder=str(folder), files=CIFAR_FILES, name="CIFAR-10", **kwargs)


def test_cifar_batches_come_back_channel_last_with_their_labels(tmp_path: Path, no_network: None) -> None:
    arrays = tiny_cifar(n_train=10, n_test=4)
    arrays["x_train"][3, 5, 7] = [200, 100, 50]  # image 3, row 5, column 7: R, G, B
    folder = tmp_path / "data/01_raw/image_cnn/cifar-10"
    write_cifar_archive(folder / "cifar-10-python.tar.gz", arrays)
    loaded = cifar_dataset(folder).load()
    assert {name: (array.shape, array.dtype) for name, array in loaded.items()} == {
        "x_train": ((10, 32, 32, 3), np.uint8),
        "y_train": ((10,), np.uint8),
        "x_test": ((4, 32, 32, 3), np.uint8),
        "y_test": ((4,), np.uint8),
    }
    assert loaded["x_train"][3, 5, 7].tolist() == [200, 100, 50]
    np.testing.assert_array_equal(loaded["y_train"], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])  # data_batch_1 … 5 in order
    np.testing.assert_array_equal(loaded["y_test"], [3, 2, 1, 0])
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded[name], array)
    assert source_of(loaded) == str(folder)


def test_a_cifar_row_is_read_as_the_red_plane_then_green_then_blue() -> None:
    image = np.zeros((1, 32, 32, 3), np.uint8)
    image[0, 0, 1] = [11, 22, 33]
    row = pickle.loads(cifar_batch(image, np.array([0]), "b"), encoding="bytes")[b"data"][0]
    assert (row[1], row[1024 + 1], row[2048 + 1]) == (11, 22, 33)  # the file's layout: channel-first planes


def test_offline_cifar_fails_at_once_naming_the_archive_and_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data/01_raw/image_cnn/cifar-10"
    port = closed_port()
    with pytest.raises(DatasetError) as error:
        cifar_dataset(folder, f"http://127.0.0.1:{port}/", timeout=5).load()
    message = str(error.value)
    assert message.startswith(f"CIFAR-10: http://127.0.0.1:{port}/ is not reachable")
    assert f"Download the file of CIFAR-10 (cifar-10-python.tar.gz) from http://127.0.0.1:{port}/ and put it in {folder}/" in message
    assert message.endswith("Nothing is downloaded once it is there.")


def test_a_tampered_cifar_batch_is_refused_without_running_its_code(tmp_path: Path, no_network: None) -> None:
    marker = tmp_path / "code_ran"
    tampered = py2_pickle({"data": RunsACommand(f"touch {marker}"), "labels": [0]})
    assert pickle.loads(tampered, encoding="bytes")[b"data"] == 0 and marker.exists()  # a plain unpickler runs it
    marker.unlink()
    folder = tmp_path / "cifar-10"
    write_cifar_archive(folder / "cifar-10-python.tar.gz", tiny_cifar(), replace={"data_batch_2": tampered})
    with pytest.raises(DatasetError, match=r"cifar-10-batches-py/data_batch_2: refused to unpickle posix\.system") as error:
        cifar_dataset(folder).load()
    assert "Delete it to download it again" in str(error.value)
    assert not marker.exists()


def test_a_cifar_batch_that_is_not_a_cifar_batch_is_named_with_the_fix(tmp_path: Path, no_network: None) -> None:
    folder = tmp_path / "cifar-10"
    archive = folder / "cifar-10-python.tar.gz"
    write_cifar_archive(archive, tiny_cifar(), replace={"test_batch": py2_pickle({"data": np.zeros((1, 784), np.uint8), "labels": [0]})})
    with pytest.raises(DatasetError, match=r"test_batch: b'data' should be a uint8 array with one 3072-byte row per image"):
        cifar_dataset(folder).load()
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"\x80\x02}"))
    with pytest.raises(DatasetError, match=r"data_batch_1: Ran out of input\). Delete it"):
        cifar_dataset(folder).load()
    archive.write_bytes(gzip.compress(b"not a tar file"))
    with pytest.raises(DatasetError, match=r"cifar-10-python\.tar\.gz cannot be read"):
        cifar_dataset(folder).load()


def test_a_cifar_archive_missing_batches_names_them(tmp_path: Path, no_network: None) -> None:
    folder = tmp_path / "cifar-10"
    archive = folder / "cifar-10-python.tar.gz"
    folder.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        content = cifar_batch(np.zeros((1, 32, 32, 3), np.uint8), np.array([0]), "data_batch_1")
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    with pytest.raises(DatasetError, match=r"no cifar-10-batches-py/data_batch_2, .*, cifar-10-batches-py/test_batch"):
        cifar_dataset(folder).load()
