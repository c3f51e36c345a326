"""``DownloadedFileDataset``: a file fetched once from a URL, checked, then read like any local file.

Used by the ``full`` environment for the course's full-size data. The download streams into
``<file>.part`` and is renamed into place only when complete and (if ``sha256`` is given)
matching, so an interrupted or corrupt download never leaves a file that a later run would
trust. Offline, loading fails at once with the URL and the exact path to place the file at.
An https URL that redirects to plain http (or any other unencrypted scheme) is refused before
the unencrypted address is requested (``refuse_downgrade``), with the same instructions.

``download_checked`` is that download on its own (``archive.ensure_extracted`` uses it too).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import threading
import urllib.error
import urllib.request
from copy import deepcopy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


class DowngradeRedirectError(urllib.error.URLError):
    """An https download redirected to an unencrypted URL (e.g. plain http), refused before that URL is requested."""

    def __init__(self, url: str, redirected_to: str) -> None:
        self.url, self.redirected_to = url, redirected_to
        super().__init__(f"{url} redirects to {redirected_to}, which is not https")


def refuse_downgrade(url: str, redirected_to: str) -> None:
    """Raises ``DowngradeRedirectError`` when ``url`` is https and the redirect target is not (http, ftp …).

    Followed, such a redirect would fetch the file unencrypted: anyone on the way could read
    or replace it (a pinned ``sha256`` would catch a replaced file, an unpinned one would not).
    http → http, http → https and https → https redirects are followed as before.
    """
    if urlsplit(url).scheme.lower() == "https" and urlsplit(redirected_to).scheme.lower() != "https":
        raise DowngradeRedirectError(url, redirected_to)


class RefuseDowngradeRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling, except that a redirect from https to a non-https URL raises ``DowngradeRedirectError``.

    Checked on every hop, so https → https → http is refused at its last hop, before the
    http URL is requested.
    """

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        try:
            refuse_downgrade(req.full_url, newurl)
        except DowngradeRedirectError:
            fp.close()  # the redirect response: nothing else reads or closes it when this raises
            raise
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _open(url: str, timeout: float) -> Any:
    """``urlopen(url)``, given up on after ``timeout`` seconds even while the name is still resolving.

    A socket timeout does not cover DNS resolution, which can hang for tens of seconds on a
    machine with no network; so the request runs in a daemon thread and is abandoned when
    it has no answer in time. The response's reads keep the socket timeout. Redirects from
    https to plain http raise ``DowngradeRedirectError`` (``RefuseDowngradeRedirects``).
    """
    outcome: list[Any] = []
    opener = urllib.request.build_opener(RefuseDowngradeRedirects)  # replaces urllib's HTTPRedirectHandler

    def attempt() -> None:
        try:
            outcome.append(opener.open(url, timeout=timeout))
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=attempt, name=f"open {url}", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if not outcome:
        raise TimeoutError(f"no answer within {timeout:g} s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def download_checked(url: str, destination: Path | str, sha256: str | None = None, timeout: float = 30.0, *, hint: str = "") -> str:
    """Downloads ``url`` to ``destination`` and returns the file's SHA-256 (hex).

    The bytes stream into ``<destination>.part``, which is renamed to ``destination`` only
    when the server sent every byte it announced and (if ``sha256`` is given) the digest
    matches; otherwise the partial file is deleted and a ``DatasetError`` says why, followed
    by ``hint`` (what to do by hand). So ``destination`` either does not exist or is complete:
    a later run never finds a half-written or unverified file under that name. Without
    ``sha256`` the digest is logged as a WARNING, to be pinned in the catalog.

    ``timeout`` bounds the wait for the server (name lookup and connection included) and
    every read, so an offline machine fails within about ``timeout`` seconds.

    An https ``url`` that redirects to plain http (or another unencrypted scheme) is refused
    before the http URL is requested: a ``DatasetError`` names both URLs and says to download
    the file over https by hand (``hint``, or where to place it); nothing is written.
    """
    destination = Path(destination)
    expected_sha256 = sha256.lower() if sha256 else None
    partial = destination.with_name(destination.name + ".part")
    destination.parent.mkdir(parents=True, exist_ok=True)
    suffix = f" {hint}" if hint else ""
    logger.info("Downloading %s to %s", url, destination)
    digest = hashlib.sha256()
    try:
        with _open(url, timeout) as response, partial.open("wb") as file:
            expected = response.headers.get("Content-Length")
            received = 0
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                file.write(chunk)
                digest.update(chunk)
                received += len(chunk)
        if expected is not None and received != int(expected):
            raise OSError(f"connection closed after {received} of {expected} bytes")
    except DowngradeRedirectError as err:
        partial.unlink(missing_ok=True)
        fix = suffix or f" Download {url} yourself over https and place it at {destination}, then run again."
        raise DatasetError(
            f"Refused to download {url}: it redirects to {err.redirected_to}, which is not https, so the file would "
            f"travel unencrypted and could be read or altered on the way; nothing was kept.{fix}"
        ) from err
    except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as err:
        partial.unlink(missing_ok=True)
        raise DatasetError(f"Could not download {url}: {err}.{suffix}") from err
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    actual = digest.hexdigest()
    if expected_sha256 and actual != expected_sha256:
        partial.unlink(missing_ok=True)
        raise DatasetError(f"{url} downloaded with sha256 {actual}, expected {expected_sha256}; nothing was kept.{suffix}")
    if not expected_sha256:
        logger.warning("%s has no sha256 in the catalog; downloaded file's sha256 is %s", url, actual)
    os.replace(partial, destination)
    return actual


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

    def __init__(
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
        over = " over https" if urlsplit(self._url).scheme.lower() == "https" else ""
        return f"Download {self._url} yourself{over} and place it at {self._filepath}{checksum}, then run again."

    def _download(self) -> None:
        download_checked(self._url, self._filepath, self._sha256, self._timeout, hint=self._place_it_yourself())

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
