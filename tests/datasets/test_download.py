"""``DownloadedFileDataset`` against a small HTTP server on loopback (no internet involved)."""

from __future__ import annotations

import email.message
import gzip
import hashlib
import http.client
import io
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from kedro.io import DatasetError

from neural_pipelines.datasets import DownloadedFileDataset
from neural_pipelines.datasets.download import DowngradeRedirectError, RefuseDowngradeRedirects, download_checked, refuse_downgrade
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
        elif self.path in REDIRECTS:
            scheme, target = REDIRECTS[self.path]
            self.send_response(302)
            self.send_header("Location", f"{scheme}://127.0.0.1:{self.server.server_address[1]}{target}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_error(404)


#: path → (scheme, path) it redirects to, on this server
REDIRECTS = {
    "/moved.csv.gz": ("http", "/traffic.csv.gz"),
    "/to-http.csv.gz": ("http", "/traffic.csv.gz"),
    "/to-https.csv.gz": ("https", "/traffic.csv.gz"),
    "/via-https-to-http.csv.gz": ("https", "/to-http.csv.gz"),
}


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


# --- redirects from https to plain http are refused ---------------------------------------------


@pytest.mark.parametrize(
    ("url", "redirected_to"),
    [("https://example.org/a.zip", "http://example.org/a.zip"), ("HTTPS://example.org/a", "ftp://mirror.example.org/a")],
)
def test_refuse_downgrade_refuses_https_to_an_unencrypted_url(url: str, redirected_to: str) -> None:
    with pytest.raises(DowngradeRedirectError) as error:
        refuse_downgrade(url, redirected_to)
    assert f"{url} redirects to {redirected_to}, which is not https" in str(error.value)
    assert (error.value.url, error.value.redirected_to) == (url, redirected_to)


@pytest.mark.parametrize(
    ("url", "redirected_to"),
    [
        ("https://example.org/a.zip", "https://cdn.example.org/a.zip"),
        ("http://example.org/a.zip", "http://mirror.example.org/a.zip"),
        ("http://example.org/a.zip", "https://example.org/a.zip"),
    ],
)
def test_refuse_downgrade_lets_other_redirects_through(url: str, redirected_to: str) -> None:
    refuse_downgrade(url, redirected_to)  # no error


def redirect(url: str, redirected_to: str, response: io.BytesIO) -> urllib.request.Request | None:
    """``RefuseDowngradeRedirects``' decision on a 302 from ``url`` to ``redirected_to``."""
    return RefuseDowngradeRedirects().redirect_request(
        urllib.request.Request(url), response, 302, "Found", email.message.Message(), redirected_to
    )


def test_the_redirect_handler_raises_for_https_to_http_and_closes_the_response() -> None:
    response = io.BytesIO(b"")
    with pytest.raises(DowngradeRedirectError) as error:
        redirect("https://example.org/a.zip", "http://example.org/a.zip", response)
    assert "https://example.org/a.zip redirects to http://example.org/a.zip, which is not https" in str(error.value)
    assert response.closed


@pytest.mark.parametrize(("url", "redirected_to"), [("https://a.org/x", "https://b.org/x"), ("http://a.org/x", "http://b.org/x")])
def test_the_redirect_handler_follows_https_to_https_and_http_to_http(url: str, redirected_to: str) -> None:
    followed = redirect(url, redirected_to, io.BytesIO(b""))
    assert followed is not None
    assert followed.full_url == redirected_to


def test_an_http_redirect_to_http_is_followed(server: str, tmp_path: Path) -> None:
    target = tmp_path / "traffic.csv.gz"
    Handler.requests.clear()
    assert dataset(f"{server}/moved.csv.gz", target).load()["traffic_volume"].tolist() == [1195, 776]
    assert Handler.requests == ["/moved.csv.gz", "/traffic.csv.gz"]


@pytest.fixture
def https_without_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    """``https://`` URLs reach the loopback server over plain HTTP: only TLS is left out, redirects are handled as for https."""
    monkeypatch.setattr(urllib.request.HTTPSHandler, "https_open", lambda handler, req: handler.do_open(http.client.HTTPConnection, req))


@pytest.mark.usefixtures("https_without_tls")
def test_an_https_download_redirected_to_http_is_refused_keeping_nothing(server: str, tmp_path: Path) -> None:
    url = f"{server.replace('http://', 'https://')}/to-http.csv.gz"
    target = tmp_path / "raw" / "traffic.csv.gz"
    Handler.requests.clear()
    with pytest.raises(DatasetError) as error:
        dataset(url, target).load()
    message = str(error.value)
    assert f"Refused to download {url}: it redirects to {server}/traffic.csv.gz, which is not https" in message
    assert "nothing was kept" in message
    assert f"Download {url} yourself over https and place it at {target} (sha256 {SHA256}), then run again." in message
    assert Handler.requests == ["/to-http.csv.gz"]  # the http URL was never requested
    assert list(target.parent.iterdir()) == []  # neither the file nor a .part


@pytest.mark.usefixtures("https_without_tls")
def test_https_redirects_are_followed_until_one_leads_to_http(server: str, tmp_path: Path) -> None:
    https = server.replace("http://", "https://")
    target = tmp_path / "traffic.csv.gz"
    Handler.requests.clear()
    assert download_checked(f"{https}/to-https.csv.gz", target, SHA256, timeout=5) == SHA256  # https → https: followed
    assert target.read_bytes() == CSV_GZ
    assert Handler.requests == ["/to-https.csv.gz", "/traffic.csv.gz"]
    other = tmp_path / "other" / "traffic.csv.gz"
    with pytest.raises(DatasetError) as error:  # https → https → http: refused at the last hop; no hint given
        download_checked(f"{https}/via-https-to-http.csv.gz", other, SHA256, timeout=5)
    message = str(error.value)
    assert f"it redirects to {server}/traffic.csv.gz, which is not https" in message
    assert f"Download {https}/via-https-to-http.csv.gz yourself over https and place it at {other}, then run again." in message
    assert list(other.parent.iterdir()) == []
