"""A save that fails midway (here: the disk fills up after a few bytes) never becomes the newest version."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro.io.core import Version

from neural_pipelines.datasets import NpzDataset
from neural_pipelines.datasets.atomic import CSVDataset, JSONDataset, MatplotlibDataset, ParquetDataset, PickleDataset, TextDataset

FIRST, SECOND = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"


def figure(height: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, height])
    return fig


# dataset class, file name, first value, second value, how to compare what loads back
CASES: list[tuple[type, str, Any, Any, Callable[[Any], Any]]] = [
    (JSONDataset, "scores.json", {"mae": 1.0}, {"mae": 2.0, "by_hour": list(range(2000))}, lambda value: value),
    (CSVDataset, "table.csv", pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": range(5000)}), lambda frame: frame["a"].tolist()),
    (ParquetDataset, "table.parquet", pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": range(5000)}), lambda frame: frame["a"].tolist()),
    (PickleDataset, "object.pkl", {"weights": [1, 2]}, {"weights": list(range(5000))}, lambda value: value),
    (TextDataset, "report.html", "<p>first</p>", "<p>second</p>" * 500, lambda text: text),
    (NpzDataset, "arrays.npz", {"x": np.arange(3)}, {"x": np.random.default_rng(0).random(5000)}, lambda arrays: arrays["x"].tolist()),
]


class FullDisk:
    """A file that takes ``room`` bytes (or characters), then fails as a full disk does."""

    def __init__(self, target: Any, room: int) -> None:
        self._target, self._room = target, room

    def write(self, data: bytes | str) -> int:
        if len(data) > self._room:
            self._target.write(data[: self._room])
            self._target.flush()
            raise OSError(28, "No space left on device")
        self._room -= len(data)
        return self._target.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def fill_the_disk_while_saving(dataset: Any, monkeypatch: pytest.MonkeyPatch, room: int = 20) -> None:
    """Every file the dataset opens for writing fails after ``room`` bytes (what reached it stays on disk)."""
    real_open = dataset._fs.open

    class Opened:
        def __init__(self, path: str, mode: str = "rb", **kwargs: Any) -> None:
            self._file = real_open(path, mode, **kwargs)
            self._wrapped = FullDisk(self._file, room) if "w" in mode else self._file

        def __enter__(self) -> Any:
            return self._wrapped

        def __exit__(self, *exc: object) -> None:
            self._file.close()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._wrapped, name)

    monkeypatch.setattr(dataset._fs, "open", Opened)


def files_under(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize(("dataset_class", "name", "first", "second", "comparable"), CASES, ids=[case[0].__name__ for case in CASES])
def test_a_write_that_fails_midway_leaves_the_previous_version_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dataset_class: type, name: str, first: Any, second: Any, comparable: Callable
) -> None:
    filepath = str(tmp_path / name)
    dataset_class(filepath=filepath, version=Version(None, FIRST)).save(first)
    failing = dataset_class(filepath=filepath, version=Version(None, SECOND))
    fill_the_disk_while_saving(failing, monkeypatch)
    with pytest.raises(DatasetError, match="No space left on device"):
        failing.save(second)
    monkeypatch.undo()
    assert files_under(tmp_path) == [f"{name}/{FIRST}/{name}"]  # no truncated newest version, no .partial left
    assert comparable(dataset_class(filepath=filepath, version=Version(None, None)).load()) == comparable(first)

    dataset_class(filepath=filepath, version=Version(None, SECOND)).save(second)  # a save that succeeds is the newest
    assert comparable(dataset_class(filepath=filepath, version=Version(None, None)).load()) == comparable(second)
    assert files_under(tmp_path) == [f"{name}/{FIRST}/{name}", f"{name}/{SECOND}/{name}"]


def test_a_figure_that_fails_midway_leaves_the_previous_version_newest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    filepath = str(tmp_path / "curves.png")
    MatplotlibDataset(filepath=filepath, version=Version(None, FIRST)).save(figure(1.0))
    failing = MatplotlibDataset(filepath=filepath, version=Version(None, SECOND))
    fill_the_disk_while_saving(failing, monkeypatch, room=100)
    with pytest.raises(DatasetError, match="No space left on device"):
        failing.save(figure(2.0))
    monkeypatch.undo()
    assert files_under(tmp_path) == [f"curves.png/{FIRST}/curves.png"]
    assert (tmp_path / "curves.png" / FIRST / "curves.png").read_bytes().startswith(b"\x89PNG")
