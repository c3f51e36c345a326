"""``validate_image_folder``: folders as configured, every file decoded (in a format TensorFlow
reads) and within ``max_pixels``, bad files named (or skipped, logged); PIL's warnings logged."""

from __future__ import annotations

import logging
import re
import struct
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
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


# --- max_pixels: sizes read from the header, PIL's own bomb check and warnings --------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def save_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that announces ``width``×``height`` but holds almost no pixel data: huge to decode, tiny on disk.

    Decoding it fails (truncated), so when it is reported as too large, its size was read
    from the header and no pixel was decoded.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    path.write_bytes(PNG_SIGNATURE + header + png_chunk(b"IDAT", zlib.compress(b"\0" * 10)) + png_chunk(b"IEND", b""))
    return path


def save_invalid_apng(path: Path) -> Path:
    """A 4×4 PNG with an acTL chunk of 0 frames: PIL warns "Invalid APNG" while opening it, then reads it as a PNG."""
    save_png(path, np.full((4, 4, 3), 50, np.uint8))
    data = path.read_bytes()
    end_of_ihdr = len(PNG_SIGNATURE) + 25  # length, type, 13 bytes, CRC
    path.write_bytes(data[:end_of_ihdr] + png_chunk(b"acTL", struct.pack(">II", 0, 0)) + data[end_of_ihdr:])
    return path


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SETTING = "`horse_or_human.ingest.max_pixels` in conf/base/parameters_horse_or_human.yml"


def warning_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def test_an_image_above_max_pixels_stops_the_run_naming_it_its_size_the_limit_and_the_fix(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data")  # 4×4 = 16 pixels each: exactly at the limit, they pass
    wide = root / "train" / "horses" / "wide.png"
    save_png(wide, np.zeros((4, 5, 3), np.uint8))  # 5×4 = 20 pixels
    with pytest.raises(DataValidationError) as caught:
        validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=False, max_pixels=16, max_pixels_setting=SETTING)
    message = str(caught.value)
    assert f"1 image(s) larger than max_pixels = 16 pixels (width × height): {wide} (5×4 = 20 pixels)" in message
    assert "cannot be decoded" not in message
    assert f"resize those images to at most 16 pixels, or raise {SETTING} (or override it in conf/local/; null: no limit)" in message
    assert "skip_corrupt: true" in message


def test_a_huge_image_is_refused_from_its_header_without_decoding_or_pil_bomb_warning(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # 10000×10000 passed before max_pixels, with PIL's DecompressionBombWarning on stderr
    root = make_folder(tmp_path / "data")
    huge = save_png_header(root / "validation" / "humans" / "huge.png", 10_000, 10_000)
    with warnings.catch_warnings(record=True) as raised, pytest.raises(DataValidationError) as caught:
        warnings.simplefilter("always")
        validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=False)  # the default limit: 25 megapixels
    message = str(caught.value)
    assert f"larger than max_pixels = 25,000,000 pixels (width × height): {huge} (10000×10000 = 100,000,000 pixels)" in message
    assert "truncated" not in message  # never decoded
    assert "decompression bomb" not in message.lower()
    assert [str(warning.message) for warning in raised] == []
    assert "DecompressionBomb" not in capfd.readouterr().err


def test_skip_corrupt_leaves_out_an_image_above_max_pixels_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = make_folder(tmp_path / "data")
    huge = save_png_header(root / "train" / "humans" / "huge.png", 6000, 5000)
    with caplog.at_level(logging.WARNING, logger="neural_pipelines.validation"):
        checked = validate_image_folder(manifest(root), CLASSES, SPLITS, skip_corrupt=True, max_pixels_setting=SETTING)
    assert sorted(manifest(root)["filepath"]) == sorted([*checked["filepath"], str(huge)])
    assert warning_messages(caplog) == [
        f"Skipping image {huge}: 6000×5000 = 30,000,000 pixels, more than max_pixels (25,000,000), set by {SETTING} (skip_corrupt is true)"
    ]


def test_an_image_at_max_pixels_passes_and_null_is_no_limit_even_beyond_pil_s_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_folder(tmp_path / "data")
    save_png(root / "train" / "horses" / "wide.png", np.zeros((4, 5, 3), np.uint8))
    assert len(validate_image_folder(manifest(root), CLASSES, SPLITS, max_pixels=20)) == 9
    # PIL's own limit set so low that every image here would warn (> 8 pixels) or be refused (> 16):
    # it does not apply during validation, and is restored afterwards
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 8)
    with caplog.at_level(logging.WARNING, logger="neural_pipelines.validation"):
        assert len(validate_image_folder(manifest(root), CLASSES, SPLITS, max_pixels=None)) == 9
        assert len(validate_image_folder(manifest(root), CLASSES, SPLITS, max_pixels=20)) == 9
    assert warning_messages(caplog) == []
    assert Image.MAX_IMAGE_PIXELS == 8


@pytest.mark.parametrize("value", [0, -1, 2.5e7, "25M", True])
def test_a_max_pixels_that_is_not_a_positive_whole_number_is_refused_naming_the_setting(tmp_path: Path, value: object) -> None:
    root = make_folder(tmp_path / "data")
    with pytest.raises(ValueError, match=rf"{re.escape(SETTING)} is {re.escape(repr(value))}: it must be a whole number of pixels"):
        validate_image_folder(manifest(root), CLASSES, SPLITS, max_pixels=value, max_pixels_setting=SETTING)  # type: ignore[arg-type]


def test_pil_warnings_are_logged_with_the_file_not_printed_and_warning_state_is_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "data")
    odd = save_invalid_apng(root / "train" / "horses" / "odd.png")
    filters, showwarning = list(warnings.filters), warnings.showwarning
    with caplog.at_level(logging.WARNING, logger="neural_pipelines.validation"), warnings.catch_warnings(record=True) as raised:
        checked = validate_image_folder(manifest(root), CLASSES, SPLITS)
    assert str(odd) in set(checked["filepath"])  # PIL reads it as a plain PNG
    assert warning_messages(caplog) == [f"{odd}: UserWarning while opening it: Invalid APNG, will use default PNG image if possible"]
    assert caplog.records[0].name == "neural_pipelines.validation"
    assert raised == []
    assert "Invalid APNG" not in capfd.readouterr().err
    assert (warnings.filters, warnings.showwarning) == (filters, showwarning)


def test_concurrent_validations_log_each_warning_with_its_own_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # the warning capture is process-wide: validations in several threads at once (e.g. Kedro's
    # ThreadRunner) must each get their own files' warnings, and leave the warning state as it was
    folders = [make_folder(tmp_path / f"data{index}", per_class=3) for index in range(4)]
    odd = [save_invalid_apng(folder / "validation" / "humans" / f"odd{index}.png") for index, folder in enumerate(folders)]
    filters, showwarning, limit = list(warnings.filters), warnings.showwarning, Image.MAX_IMAGE_PIXELS
    with caplog.at_level(logging.WARNING, logger="neural_pipelines.validation"), ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda folder: validate_image_folder(manifest(folder), CLASSES, SPLITS), folders * 3))
    assert [len(result) for result in results] == [13] * 12
    expected = [f"{path}: UserWarning while opening it: Invalid APNG, will use default PNG image if possible" for path in odd]
    assert sorted(warning_messages(caplog)) == sorted(expected * 3)
    assert (warnings.filters, warnings.showwarning, Image.MAX_IMAGE_PIXELS) == (filters, showwarning, limit)


def test_the_ingest_nodes_pass_max_pixels_and_name_their_setting(tmp_path: Path) -> None:
    from neural_pipelines.pipelines.horse_or_human import nodes as horse_or_human
    from neural_pipelines.pipelines.vgg16_finetune import nodes as vgg16_finetune

    root = make_folder(tmp_path / "data")
    save_png(root / "train" / "horses" / "wide.png", np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(
        DataValidationError, match=r"raise `horse_or_human\.ingest\.max_pixels` in conf/base/parameters_horse_or_human\.yml"
    ):
        horse_or_human.validate_images(manifest(root), CLASSES, SPLITS, {"skip_corrupt": False, "max_pixels": 16})
    assert len(horse_or_human.validate_images(manifest(root), CLASSES, SPLITS, {"skip_corrupt": False, "max_pixels": None})) == 9
    roles = {"train": "train", "test": "validation"}
    with pytest.raises(
        DataValidationError, match=r"raise `vgg16_finetune\.ingest\.max_pixels` in conf/base/parameters_vgg16_finetune\.yml"
    ):
        vgg16_finetune.validate_images(manifest(root), CLASSES, roles, {"max_pixels": 16})
    assert len(vgg16_finetune.validate_images(manifest(root), CLASSES, roles, {})) == 9  # the default: 25 megapixels
    new = tmp_path / "new"
    save_png(new / "a.png", np.zeros((4, 4, 3), np.uint8))
    save_png_header(new / "huge.png", 6000, 5000)
    with pytest.raises(
        DataValidationError, match=r"raise `vgg16_finetune\.predict\.max_pixels` in conf/base/parameters_vgg16_finetune\.yml"
    ):
        vgg16_finetune.validate_new_images(manifest(new, layout="flat"), {})
    assert vgg16_finetune.validate_new_images(manifest(new, layout="flat"), {"skip_corrupt": True})["file"].tolist() == ["a.png"]
