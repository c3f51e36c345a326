"""Fingerprints of datasets, and the ``.fingerprint.json`` records kept beside a node's outputs.

A node's output on disk gets a record next to it once it is saved: the node's fingerprint,
the version it was saved under, its size, modification time and SHA-256, and the MLflow run
that was active. For a versioned output the record sits in the version's folder
(``data/06_models/traffic_lstm/lstm.keras/<version>/lstm.keras.fingerprint.json``), so every
version keeps its own and a later run can reuse exactly the version whose fingerprint matches;
Kedro's version lookup (``<file>/*/<name>``) never matches the record. For an unversioned output
it is ``<file>.fingerprint.json``. A record whose output changed since (another run rewrote it:
a different size and time, and a different hash) does not count.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io.core import PROTOCOL_DELIMITER, AbstractDataset, Version

from neural_pipelines.incremental.code import NotFingerprintable

logger = logging.getLogger(__name__)

#: Format of the records; a record of another format is ignored (the node runs).
FORMAT = 1
SUFFIX = ".fingerprint.json"
#: kedro-mlflow datasets that log into the active MLflow run and keep nothing on disk; a reused variant run copies them.
MLFLOW_LOGGING = ("MlflowMetricsHistoryDataset", "MlflowMetricDataset", "MlflowMetricHistoryDataset")


def kind(dataset: AbstractDataset) -> str:
    """``memory`` (lives only within one run), ``mlflow`` (logged into the run), ``file`` (a local file or folder), else ``unknown``."""
    if getattr(dataset, "_EPHEMERAL", False):
        return "memory"
    if any(cls.__name__ in MLFLOW_LOGGING for cls in type(dataset).__mro__):
        return "mlflow"
    filepath = getattr(dataset, "_filepath", None)
    protocol = getattr(dataset, "_protocol", "file")
    if filepath is not None and protocol in ("file", None) and PROTOCOL_DELIMITER not in str(filepath):
        return "file"
    return "unknown"


def versioned(dataset: AbstractDataset) -> bool:
    return getattr(dataset, "_version", None) is not None


def version_path(dataset: AbstractDataset, version: str) -> Path:
    return Path(str(dataset._get_versioned_path(version)))  # type: ignore[attr-defined]  # versioned datasets have it


def load_path(dataset: AbstractDataset) -> Path:
    """Where the dataset loads from now (the newest version, or the pinned one)."""
    if versioned(dataset):
        return Path(str(dataset._get_load_path()))  # type: ignore[attr-defined]  # versioned datasets have it
    return Path(str(dataset._filepath))  # type: ignore[attr-defined]  # kind() == "file"


def record_path(dataset: AbstractDataset, version: str | None) -> Path:
    path = version_path(dataset, version) if version else Path(str(dataset._filepath))  # type: ignore[attr-defined]  # kind() == "file"
    return path.with_name(path.name + SUFFIX)


def stat_signature(path: Path) -> list[list[Any]]:
    """Size and modification time of a file, or of every file in a folder (relative paths, sorted)."""
    if path.is_file():
        stat = path.stat()
        return [["", stat.st_size, stat.st_mtime_ns]]
    files = sorted(item for item in path.rglob("*") if item.is_file())
    return [[str(item.relative_to(path)), item.stat().st_size, item.stat().st_mtime_ns] for item in files]


def content_digest(path: Path) -> str:
    """SHA-256 of a file, or of a folder's relative paths and file contents."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(item for item in path.rglob("*") if item.is_file())
    if not files and not path.is_dir():
        raise FileNotFoundError(path)
    for item in files:
        digest.update(str(item.relative_to(path) if item != path else "").encode() + b"\0")
        with item.open("rb") as handle:
            for block in iter(lambda handle=handle: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def describe(dataset: AbstractDataset) -> str:
    """The dataset's configuration (class, path, load/save arguments) without its version, as stable text."""
    try:
        description = dict(dataset._describe())  # type: ignore[attr-defined]  # every AbstractDataset has it
    except Exception as err:  # a dataset that cannot describe itself
        raise NotFingerprintable(f"{type(dataset).__name__} cannot describe itself: {err}") from err
    description.pop("version", None)
    text = json.dumps(description, sort_keys=True, default=str)
    if " at 0x" in text:
        raise NotFingerprintable(f"{type(dataset).__name__}'s configuration holds an object without a stable description")
    return f"{type(dataset).__module__}.{type(dataset).__qualname__} {text}"


def input_digest(name: str, dataset: AbstractDataset) -> str:
    """Fingerprint of a dataset no node of this run writes: its content where it is a local file or folder.

    A dataset without a file can say what it is itself with a ``fingerprint()`` method (e.g. a table
    bundled in a package: the package's version); one that raises there counts by its file.
    """
    own = getattr(dataset, "fingerprint", None)
    if callable(own):
        try:
            return f"{type(dataset).__qualname__} {own()}"
        except Exception:  # the dataset declines: its file, if any, decides
            pass
    if kind(dataset) != "file":
        raise NotFingerprintable(f"input '{name}' ({type(dataset).__name__}) is not a local file")
    path = load_path(dataset)
    if not path.exists():
        raise NotFingerprintable(f"input '{name}' has no file at {path}")
    return content_digest(path)


@dataclass(frozen=True)
class Record:
    """What the record beside one output says."""

    node: str
    fingerprint: str
    version: str | None
    mlflow_run_id: str | None
    parts: dict[str, str]


def write_record(dataset: AbstractDataset, node: str, fingerprint: str, parts: dict[str, str], mlflow_run_id: str | None) -> None:
    """Record that ``node`` with ``fingerprint`` (made of ``parts``) just saved ``dataset``; written to a temporary file, then renamed."""
    version = dataset.resolve_save_version() if versioned(dataset) else None  # type: ignore[attr-defined]  # versioned
    output = version_path(dataset, version) if version else Path(str(dataset._filepath))  # type: ignore[attr-defined]  # kind() == "file"
    record = {
        "format": FORMAT,
        "node": node,
        "fingerprint": fingerprint,
        "version": version,
        "mlflow_run_id": mlflow_run_id,
        "parts": parts,
        "stat": stat_signature(output),
        "sha256": content_digest(output),
    }
    path = record_path(dataset, version)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=1))
    os.replace(partial, path)


def read_record(dataset: AbstractDataset, version: str | None) -> Record:
    """The record of the output at ``version``; ``ValueError`` naming why when there is none that still holds."""
    path = record_path(dataset, version)
    output = version_path(dataset, version) if version else Path(str(dataset._filepath))  # type: ignore[attr-defined]  # kind() == "file"
    if not output.exists():
        raise ValueError(f"output {output} is missing")
    try:
        record = json.loads(path.read_text())
        if record.get("format") != FORMAT or not isinstance(record.get("fingerprint"), str):
            raise ValueError("unknown format")
        if record["stat"] != stat_signature(output) and record["sha256"] != content_digest(output):
            raise ValueError(f"{output} changed since it was recorded")
        return Record(record["node"], record["fingerprint"], record.get("version"), record.get("mlflow_run_id"), dict(record["parts"]))
    except FileNotFoundError:
        raise ValueError(f"no fingerprint record {path}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"fingerprint record {path} is unusable ({err})") from None


def version_records(dataset: AbstractDataset) -> tuple[dict[str, Record], list[str]]:
    """Every version of a versioned output with a record that still holds (newest first), and why the others do not."""
    base = Path(str(dataset._filepath))  # type: ignore[attr-defined]  # kind() == "file"
    found: dict[str, Record] = {}
    problems = []
    folders = sorted((item for item in base.iterdir() if item.is_dir()), reverse=True) if base.is_dir() else []
    for folder in folders:
        try:
            found[folder.name] = read_record(dataset, folder.name)
        except ValueError as err:
            problems.append(str(err))
    return found, problems


def pin_load_version(dataset: AbstractDataset, version: str) -> None:
    """Make ``dataset`` load ``version`` (the one a skipped node's record names), not its newest."""
    current = dataset._version  # type: ignore[attr-defined]  # versioned datasets have it
    dataset._version = Version(version, current.save)  # type: ignore[attr-defined]  # versioned datasets have it
    dataset._clear_version_cache()  # type: ignore[attr-defined]  # versioned datasets have it
