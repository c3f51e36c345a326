"""``image_classify``'s folder check: each file read once, headers checked before any decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neural_pipelines.datasets import ImageFolderDataset
from neural_pipelines.datasets.image_folder import png_bytes
from neural_pipelines.pipelines.image_classify.nodes import validate_folder

EXTENSIONS = ["png", "jpg", "jpeg", "gif", "bmp"]


def manifest_of(folder: Path):
    manifest = ImageFolderDataset(str(folder), layout="flat", extensions=EXTENSIONS).load()
    manifest.attrs["source"] = str(folder)
    return manifest


def test_every_picture_once_by_file_name_with_its_bytes_and_other_files_left_out(tmp_path: Path) -> None:
    pictures = {f"{name}.png": png_bytes(np.full((8, 6), value, dtype=np.uint8)) for value, name in enumerate(["b", "a", "c"])}
    for name, data in pictures.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "notes.txt").write_text("not a picture")
    (tmp_path / ".hidden.png").write_bytes(pictures["a.png"])
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "d.png").write_bytes(pictures["a.png"])  # a flat folder: files below it are not listed

    images = validate_folder(manifest_of(tmp_path), {"max_pixels": 48})

    assert images["file"].tolist() == ["a.png", "b.png", "c.png"]
    assert images["image"].tolist() == [pictures[name] for name in ["a.png", "b.png", "c.png"]]


def test_a_picture_over_max_pixels_is_refused_from_its_header_naming_file_size_and_setting(tmp_path: Path) -> None:
    (tmp_path / "small.png").write_bytes(png_bytes(np.zeros((8, 6), dtype=np.uint8)))
    (tmp_path / "large.png").write_bytes(png_bytes(np.zeros((10, 5), dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"large\.png has 5×10 pixels, more than max_pixels=49.*parameters_image_classify\.yml"):
        validate_folder(manifest_of(tmp_path), {"max_pixels": 49})
    assert len(validate_folder(manifest_of(tmp_path), {"max_pixels": 50})) == 2


@pytest.mark.parametrize("content", [b"plain text, named like a picture", b"II*\x00" + bytes(64)], ids=["text", "tiff-header"])
def test_a_file_that_is_no_png_jpeg_gif_or_bmp_stops_the_run_naming_it(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "good.png").write_bytes(png_bytes(np.zeros((4, 4), dtype=np.uint8)))
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(ValueError, match=rf"{tmp_path}: bad\.png is not a readable image .*Fix: remove it or replace it"):
        validate_folder(manifest_of(tmp_path), {"max_pixels": None})
