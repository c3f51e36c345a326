"""``ScikitLearnDataset``: iris from the wheel with no network; California housing in scikit-learn's own cache
format read with no network, fetched once by scikit-learn's loader, and refused at once offline naming the file and folder.

Everything runs against loopback (a closed port, a tiny HTTP server); no test reaches the internet.
"""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import time
import urllib.request
from pathlib import Path

import joblib
import numpy as np
import pytest
import yaml
from kedro.io import DatasetError
from sklearn.datasets import _california_housing
from sklearn.datasets._base import RemoteFileMetadata, _pkl_filepath

from neural_pipelines.datasets import ScikitLearnDataset
from neural_pipelines.validation import source_of
from tests.conftest import PROJECT_ROOT
from tests.datasets.http_server import QuietHandler, serving

FULL_ENTRY = yaml.safe_load((PROJECT_ROOT / "conf/full/catalog_fundamentals.yml").read_text())["fundamentals.raw_regression"]
FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]

# Three districts as the original cal_housing.data stores them: longitude, latitude, median age,
# total rooms, total bedrooms, population, households, median income, median house value ($).
DISTRICTS = np.array(
    [
        [-122.23, 37.88, 41.0, 880.0, 129.0, 322.0, 126.0, 8.3252, 452600.0],
        [-122.22, 37.86, 21.0, 7099.0, 1106.0, 2401.0, 1138.0, 8.3014, 358500.0],
        [-118.24, 34.05, 52.0, 1467.0, 190.0, 496.0, 177.0, 7.2574, 352100.0],
    ]
)


def cache_rows(districts: np.ndarray) -> np.ndarray:
    """The districts in the column order of scikit-learn's cache: value, income, age, rooms, bedrooms, population, households, lat, lon."""
    return districts[:, [8, 7, 2, 3, 4, 5, 6, 1, 0]]


def write_cache(folder: Path) -> Path:
    """A small cal_housing_py3.pkz exactly as fetch_california_housing writes it (joblib, compress=6)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FULL_ENTRY["cache_file"]
    joblib.dump(cache_rows(DISTRICTS), path, compress=6)
    return path


def california(folder: Path, url: str, timeout: float = 5) -> ScikitLearnDataset:
    return ScikitLearnDataset(
        loader="fetch_california_housing", data_home=str(folder), cache_file=FULL_ENTRY["cache_file"], url=url, timeout=timeout
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens here once the socket is closed


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(urllib.request, "urlretrieve", refuse)


def test_iris_comes_from_the_wheel_with_class_names_and_no_network(no_network: None) -> None:
    iris = ScikitLearnDataset(loader="load_iris").load()
    assert iris.shape == (150, 6)
    assert list(iris.columns[-2:]) == ["target", "target_name"]
    assert iris.groupby("target_name")["target"].first().to_dict() == {"setosa": 0, "versicolor": 1, "virginica": 2}
    assert iris["target_name"].value_counts().tolist() == [50, 50, 50]
    assert source_of(iris) == "sklearn.datasets.load_iris"


def test_california_in_the_loaders_own_cache_format_is_read_with_no_network(tmp_path: Path, no_network: None) -> None:
    folder = tmp_path / "data/01_raw/fundamentals/scikit_learn_data"
    cache = write_cache(folder)
    frame = california(folder, "https://unreachable.invalid/cal_housing.tgz").load()
    assert list(frame.columns) == [*FEATURES, "MedHouseVal"]
    first = DISTRICTS[0]
    # scikit-learn's own derivations: per-household rooms, bedrooms and occupancy; value in $100,000
    np.testing.assert_allclose(
        frame.iloc[0].to_numpy(),
        [first[7], first[2], first[3] / first[6], first[4] / first[6], first[5], first[5] / first[6], first[1], first[0], 4.526],
    )
    assert source_of(frame) == str(cache)  # validation errors name the file


def test_offline_it_fails_at_once_naming_the_file_and_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data/01_raw/fundamentals/scikit_learn_data"
    started = time.perf_counter()
    with pytest.raises(DatasetError) as error:
        california(folder, f"http://127.0.0.1:{closed_port()}/cal_housing.tgz").load()
    assert time.perf_counter() - started < 3
    message = str(error.value)
    assert f"{folder / 'cal_housing_py3.pkz'} is not there" in message
    assert "is not reachable" in message
    assert f"copy scikit_learn_data/cal_housing_py3.pkz into {folder}/" in message
    assert "fetch_california_housing(data_home='scikit_learn_data')" in message
    assert not folder.exists()  # asked before anything is created


def test_reachable_it_is_fetched_once_by_scikit_learns_loader_then_read_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        content = "\n".join(",".join(f"{value:g}" for value in row) for row in DISTRICTS).encode()
        member = tarfile.TarInfo("CaliforniaHousing/cal_housing.data")
        member.size = len(content)
        tar.addfile(member, io.BytesIO(content))
    payload = archive.getvalue()

    class Archive(QuietHandler):
        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()

        def do_GET(self) -> None:
            self.do_HEAD()
            self.wfile.write(payload)

    folder = tmp_path / "scikit_learn_data"
    with serving(Archive) as base:
        url = f"{base}/cal_housing.tgz"
        # scikit-learn downloads from its own ARCHIVE, checksum and all: point it at the loopback copy
        monkeypatch.setattr(_california_housing, "ARCHIVE", RemoteFileMetadata("cal_housing.tgz", url, hashlib.sha256(payload).hexdigest()))
        fetched = california(folder, url).load()
    assert (folder / "cal_housing_py3.pkz").is_file() and not (folder / "cal_housing.tgz").exists()
    assert fetched["MedHouseVal"].tolist() == pytest.approx([4.526, 3.585, 3.521])
    again = california(folder, f"http://127.0.0.1:{closed_port()}/").load()  # the cache now: no network needed
    assert again.equals(fetched)


def test_the_full_catalog_names_what_scikit_learn_keeps_and_where_it_downloads_from() -> None:
    assert FULL_ENTRY["cache_file"] == Path(_pkl_filepath("/", "cal_housing.pkz")).name
    assert FULL_ENTRY["url"] == _california_housing.ARCHIVE.url
    assert FULL_ENTRY["loader"] == "fetch_california_housing"


def test_only_scikit_learn_loaders_and_fetched_data_with_its_cache_and_origin() -> None:
    with pytest.raises(DatasetError, match="not a scikit-learn dataset loader"):
        ScikitLearnDataset(loader="clear_data_home")
    with pytest.raises(DatasetError, match="needs cache_file"):
        ScikitLearnDataset(loader="fetch_california_housing", data_home="data/01_raw")
