"""``ImageFolderDataset``: a manifest of ``<split>/<class>/<file>`` images; atomic PNG saves that decode to the same pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kedro.io import DatasetError
from PIL import Image

from neural_pipelines.datasets import ImageFolderDataset


def pixels(seed: int, shape: tuple[int, ...] = (6, 5, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def write(path: Path, content: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_save_writes_pngs_that_decode_to_the_same_arrays_and_load_lists_them_sorted(tmp_path: Path) -> None:
    images = {
        "validation/humans/b.png": pixels(1),
        "train/humans/h1.png": pixels(2),
        "train/horses/h2.png": pixels(3),
        "train/horses/h1.png": pixels(4),
    }
    dataset = ImageFolderDataset(str(tmp_path / "sample"))
    dataset.save(images)
    for key, array in images.items():
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "sample" / key)), array)
    manifest = dataset.load()
    assert list(manifest.columns) == ["split", "class_name", "filepath"]
    assert manifest[["split", "class_name"]].values.tolist() == [
        ["train", "horses"],
        ["train", "horses"],
        ["train", "humans"],
        ["validation", "humans"],
    ]
    assert [Path(path).name for path in manifest["filepath"]] == ["h1.png", "h2.png", "h1.png", "b.png"]
    assert manifest.attrs["source"] == str(tmp_path / "sample")


def test_save_replaces_the_whole_folder_and_leaves_no_staging_folders(tmp_path: Path) -> None:
    dataset = ImageFolderDataset(str(tmp_path / "sample"))
    dataset.save({"train/a/old.png": pixels(1)})
    dataset.save({"train/b/new.png": pixels(2)})
    assert [Path(path).name for path in dataset.load()["filepath"]] == ["new.png"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sample"]


def test_a_failed_save_keeps_the_previous_folder_untouched(tmp_path: Path) -> None:
    dataset = ImageFolderDataset(str(tmp_path / "sample"))
    dataset.save({"train/a/old.png": pixels(1)})
    with pytest.raises(DatasetError, match="float64"):
        dataset.save({"train/a/new.png": pixels(2), "train/a/bad.png": np.zeros((4, 4, 3))})
    assert [Path(path).name for path in dataset.load()["filepath"]] == ["old.png"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sample"]


@pytest.mark.parametrize("key", ["horses/a.png", "train/horses/a.jpg", "../train/horses/a.png", "/train/horses/a.png"])
def test_save_refuses_keys_that_load_would_not_find(tmp_path: Path, key: str) -> None:
    with pytest.raises(DatasetError, match=r"saves keys like <split>/<class>/<name>\.png"):
        ImageFolderDataset(str(tmp_path / "sample")).save({key: pixels(1)})


def test_same_arrays_give_byte_identical_files(tmp_path: Path) -> None:
    images = {"a.png": pixels(7, (20, 30, 3))}
    ImageFolderDataset(str(tmp_path / "one"), layout="flat").save(images)
    ImageFolderDataset(str(tmp_path / "two"), layout="flat").save(images)
    assert (tmp_path / "one" / "a.png").read_bytes() == (tmp_path / "two" / "a.png").read_bytes()


def test_load_takes_case_insensitive_extensions_and_ignores_other_files(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for name in ("train/cats/a.JPG", "train/cats/b.jpeg", "train/dogs/c.Png"):
        write(root / name)
    for name in ("train/cats/notes.txt", "README.png", "train/stray.png", "train/.ipynb_checkpoints/d.png", "train/cats/deep/e.png"):
        write(root / name)
    manifest = ImageFolderDataset(str(root)).load()
    assert [Path(path).name for path in manifest["filepath"]] == ["a.JPG", "b.jpeg", "c.Png"]
    assert list(manifest["class_name"]) == ["cats", "cats", "dogs"]


def test_flat_layout_lists_the_files_without_split_or_class(tmp_path: Path) -> None:
    for name in ("b.png", "a.jpg", "sub/c.png"):
        write(tmp_path / "new" / name)
    manifest = ImageFolderDataset(str(tmp_path / "new"), layout="flat").load()
    assert [Path(path).name for path in manifest["filepath"]] == ["a.jpg", "b.png"]
    assert manifest["split"].isna().all() and manifest["class_name"].isna().all()


def test_missing_or_empty_folder_names_the_path_and_the_hint(tmp_path: Path) -> None:
    hint = "run `kedro run --pipeline=sample_images` first"
    with pytest.raises(DatasetError, match=rf"{tmp_path / 'absent'} does not exist\. Fix: run `kedro run"):
        ImageFolderDataset(str(tmp_path / "absent"), missing_hint=hint).load()
    write(tmp_path / "empty" / "train" / "cats" / "notes.txt")
    with pytest.raises(DatasetError, match=r"has no images laid out as <split>/<class>/<image>.*\(1 other files\)\. Fix: run"):
        ImageFolderDataset(str(tmp_path / "empty"), missing_hint=hint).load()


def test_downloaded_folders_are_read_only(tmp_path: Path) -> None:
    archives = [{"url": "https://example.org/x.zip", "sha256": None, "extract_to": "train", "strip_prefix": None}]
    dataset = ImageFolderDataset(str(tmp_path / "full"), archives=archives)
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save({"train/a/x.png": pixels(1)})
    assert not (tmp_path / "full").exists()


def test_unknown_layout_is_refused() -> None:
    with pytest.raises(DatasetError, match="layout must be one of splits, flat"):
        ImageFolderDataset("x", layout="nested")
