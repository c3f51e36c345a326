"""``DownloadedFileDataset`` against a small HTTP server on loopback (no internet involved)."""

from __future__ import annotations

import gzip
import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from kedro.io import DatasetError

from neural_pipelines.datasets import DownloadedFileDataset
from tests.datasets.http_server import QuietHandler, serving

CSV_GZ = gzip.compress(b"date_time,traffic_volume\n2016-10-01 00:00:00,1195\n2016-10-01 01:00:00,776\n", mtime=0)
SHA256 = hashlib.sha256(CSV_GZ).hexdigest()


class Handler(QuietHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Handler.requests.append(self.path)
        if self.path == "/traffic.csv.gz":
            self.send_response(200)
            self.send_header("Content-Length", str(len(CSV_GZ)))
            self.end_headers()
            self.wfile.write(CSV_GZ)
        elif self.path == "/truncated.csv.gz":  # promises the whole file, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(CSV_GZ)))
            self.end_headers()
            self.wfile.write(CSV_GZ[: len(CSV_GZ) // 2])
            self.close_connection = True
        else:
            self.send_error(404)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


def dataset(url: str, target: Path, sha256: str | None = SHA256) -> DownloadedFileDataset:
    return DownloadedFileDataset(url=url, filepath=str(target), sha256=sha256, timeout=5, dataset={"type": "pandas.CSVDataset"})


def test_downloads_once_checks_and_reads(server: str, tmp_path: Path) -> None:
    target = tmp_path / "raw" / "traffic.csv.gz"
    Handler.requests.clear()
    frame = dataset(f"{server}/traffic.csv.gz", target).load()
    assert frame["traffic_volume"].tolist() == [1195, 776]
    assert target.read_bytes() == CSV_GZ
    dataset(f"{server}/traffic.csv.gz", target).load()  # second load reads the cache
    assert Handler.requests == ["/traffic.csv.gz"]


def test_checksum_mismatch_keeps_nothing(server: str, tmp_path: Path) -> None:
    target = tmp_path / "traffic.csv.gz"
    with pytest.raises(DatasetError, match=f"expected {'0' * 64}; nothing was kept"):
        dataset(f"{server}/traffic.csv.gz", target, sha256="0" * 64).load()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_keeps_nothing_and_a_rerun_recovers(server: str, tmp_path: Path) -> None:
    target = tmp_path / "traffic.csv.gz"
    with pytest.raises(DatasetError, match=r"Could not download .*truncated"):
        dataset(f"{server}/truncated.csv.gz", target, sha256=None).load()
    assert list(tmp_path.iterdir()) == []
    assert dataset(f"{server}/traffic.csv.gz", target).load()["traffic_volume"].sum() == 1971


def test_a_corrupt_cached_file_is_refused_not_trusted(server: str, tmp_path: Path) -> None:
    target = tmp_path / "traffic.csv.gz"
    target.write_bytes(b"not what was downloaded")
    with pytest.raises(DatasetError, match=r"does not match sha256 .* delete it to download it again"):
        dataset(f"{server}/traffic.csv.gz", target).load()


def test_offline_fails_fast_saying_what_to_place_where(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = tmp_path / "raw" / "Metro.csv.gz"
    with pytest.raises(DatasetError) as error:
        dataset(f"http://127.0.0.1:{port}/Metro.csv.gz", target).load()
    message = str(error.value)
    assert f"Download http://127.0.0.1:{port}/Metro.csv.gz yourself and place it at {target}" in message
    assert f"(sha256 {SHA256})" in message
    assert not target.exists()
