"""``validate_image_folder``: folders as configured, every file decoded (in a format TensorFlow
reads), bad files named (or skipped, logged)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from neural_pipelines.datasets import ImageFolderDataset
from neural_pipelines.validation import DataValidationError, validate_image_folder

CLASSES = ["horses", "humans"]
SPLITS = ["train", "validation"]


def save_png(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(path)


def make_folder(root: Path, per_class: int = 2) -> Path:
    """``per_class`` RGB PNGs in every split/class folder."""
    for split in SPLITS:
        for name in CLASSES:
            for index in range(per_class):
                save_png(root / split / name / f"{index}.png", np.full((4, 4, 3), 10 * index, np.uint8))
    return root


def manifest(root: Path, layout: str = "splits") -> pd.DataFrame:
    return ImageFolderDataset(str(root), layout=layout).load()


def test_labels_follow_the_class_order_and_modes_are_recorded(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data")
    save_png(root / "train" / "humans" / "gray.png", np.zeros((4, 4), np.uint8))
    save_png(root / "train" / "horses" / "alpha.png", np.zeros((4, 4, 4), np.uint8))
    save_png(root / "validation" / "horses" / "palette.png", np.zeros((4, 4, 3), np.uint8), mode="P")
    checked = validate_image_folder(manifest(root), ["humans", "horses"], SPLITS, skip_corrupt=False)
    assert len(checked) == 11
    assert (checked["label"] == (checked["class_name"] == "horses").astype(int)).all()  # humans first → label 0
    modes = dict(zip(checked["filepath"].map(lambda path: Path(path).name), checked["mode"], strict=False))
    assert (modes["gray.png"], modes["alpha.png"], modes["palette.png"], modes["0.png"]) == ("L", "RGBA", "P", "RGB")
    assert checked.attrs["source"] == str(root)


def test_a_corrupt_file_stops_the_run_naming_it_and_the_fix(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data")
    good = (root / "train" / "horses" / "1.png").read_bytes()
    (root / "train" / "horses" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "validation" / "humans" / "text.jpg").write_bytes(b"not an image")
    with pytest.raises(DataValidationError) as caught:
        validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=False)
    message = str(caught.value)
    assert "2 file(s) cannot be decoded" in message
    assert str(root / "train" / "horses" / "truncated.png") in message
    assert str(root / "validation" / "humans" / "text.jpg") in message
    assert "skip_corrupt: true" in message


def test_skip_corrupt_drops_exactly_the_corrupt_files_with_one_warning_each(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_folder(tmp_path / "data")
    bad = root / "train" / "horses" / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with caplog.at_level(logging.WARNING, logger="neural_pipelines.validation"):
        checked = validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=True)
    assert sorted(manifest(root)["filepath"]) == sorted([*checked["filepath"], str(bad)])
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(bad) in warnings[0]


def test_a_class_left_empty_by_skipping_is_still_an_error(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", per_class=1)
    (root / "validation" / "humans" / "0.png").write_bytes(b"broken")
    with pytest.raises(DataValidationError, match=rf"no \(readable\) images in {root / 'validation' / 'humans'}/"):
        validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=True)


def test_a_class_missing_from_the_validation_split_names_the_folder(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data")
    for file in (root / "validation" / "humans").iterdir():
        file.unlink()
    with pytest.raises(DataValidationError, match=rf"{root / 'validation' / 'humans'}/.*same classes"):
        validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=False)


def test_an_unknown_class_folder_is_named(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data")
    save_png(root / "train" / "zebras" / "z.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DataValidationError, match=rf"{root / 'train' / 'zebras'}/ are not among the classes"):
        validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=False)


def test_a_missing_split_is_named_and_extra_splits_are_left_out(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data")
    save_png(root / "test" / "horses" / "t.png", np.zeros((4, 4, 3), np.uint8))
    checked = validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=False)
    assert set(checked["split"]) == set(SPLITS)
    with pytest.raises(DataValidationError, match=rf"no images in split folder\(s\) {root / 'holdout'}/"):
        validate_image_folder(manifest(root), CLASSES, ["train", "holdout"], skip_corrupt=False)


def test_a_flat_folder_is_only_decoded(tmp_path: Path) -> None:
    save_png(tmp_path / "new" / "a.png", np.zeros((4, 4, 3), np.uint8))
    save_png(tmp_path / "new" / "b.png", np.zeros((4, 4), np.uint8))
    checked = validate_image_folder(manifest(tmp_path / "new", layout="flat"), None, None, skip_corrupt=False)
    assert list(checked["mode"]) == ["RGB", "L"]
    assert "label" not in checked


def save_renamed(path: Path, image_format: str, mode: str = "RGB") -> Path:
    """An image saved in ``image_format`` under ``path`` whatever its suffix says (PIL detects formats by content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4, 3), 120, np.uint8)).convert(mode).save(path, format=image_format)
    return path


def test_a_format_tensorflow_does_not_read_is_named_even_under_a_png_or_jpg_name(tmp_path: Path) -> None:
    # PIL decodes these completely; tf.io.decode_image in training would stop fit() without naming them
    root = make_folder(tmp_path / "data")
    tiff_png = save_renamed(root / "train" / "horses" / "tiff.png", "TIFF")
    tiff_jpg = save_renamed(root / "validation" / "humans" / "tiff.jpg", "TIFF")
    with pytest.raises(DataValidationError) as caught:
        validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=False)
    message = str(caught.value)
    assert "2 file(s) cannot be decoded" in message
    assert f"2 of them in a format TensorFlow does not read: {tiff_png}, {tiff_jpg}" in message
    assert "TIFF image: not a format training reads with TensorFlow (BMP, GIF, JPEG, PNG)" in message
    assert "convert images in other formats, e.g. TIFF or WebP, to PNG or JPEG" in message
    assert "skip_corrupt: true" in message


def test_skip_corrupt_skips_a_renamed_tiff_with_a_warning_and_keeps_cmyk_jpegs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_folder(tmp_path / "data")
    tiff = save_renamed(root / "train" / "humans" / "tiff.jpg", "TIFF")
    cmyk = save_renamed(root / "train" / "horses" / "cmyk.jpg", "JPEG", mode="CMYK")  # tf.io.decode_image(channels=3) reads it
    with caplog.at_level(logging.WARNING, logger="neural_pipelines.validation"):
        checked = validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=True)
    assert sorted(manifest(root)["filepath"]) == sorted([*checked["filepath"], str(tiff)])
    assert checked.loc[checked["filepath"] == str(cmyk), "mode"].tolist() == ["CMYK"]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(tiff) in warnings[0] and "TIFF image" in warnings[0] and "skip_corrupt is true" in warnings[0]
