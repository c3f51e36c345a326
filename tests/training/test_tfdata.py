"""``image_dataset``: uint8 images become float32 pixel/255 only inside tf.data, batched, cached, reproducibly shuffled.

``image_file_dataset`` / ``load_image_array``: image files of any mode come out as RGB, resized, float32 0..255 (uint8 for figures).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from neural_pipelines.training import image_file_dataset, load_image_array
from neural_pipelines.training.tfdata import image_dataset, scale_pixels


def digits(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    images = np.arange(n * 4 * 3, dtype=np.int64).reshape(n, 4, 3) % 256
    return images.astype(np.uint8), np.arange(n, dtype=np.uint8)


def collect(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    batches = list(dataset.as_numpy_iterator())
    return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])


def test_every_pixel_is_exactly_pixel_over_255_as_float32_with_a_channel_axis() -> None:
    images = np.arange(256, dtype=np.uint8).reshape(4, 8, 8)  # every possible value once
    x, _y = collect(image_dataset(images, np.zeros(4, np.uint8), batch_size=3))
    assert x.dtype == np.float32
    assert x.shape == (4, 8, 8, 1)
    np.testing.assert_array_equal(x[..., 0], images.astype(np.float32) / np.float32(255))
    assert x.min() == 0.0 and x.max() == 1.0


def test_rgb_images_keep_their_channels() -> None:
    images = np.full((2, 5, 5, 3), 51, dtype=np.uint8)
    x = scale_pixels(tf.constant(images[0]))
    assert x.shape == (5, 5, 3)
    np.testing.assert_array_equal(x.numpy(), np.float32(51) / np.float32(255))


def test_batches_without_a_seed_keep_the_order() -> None:
    images, labels = digits(10)
    dataset = image_dataset(images, labels, batch_size=4)
    assert [len(y) for _, y in dataset.as_numpy_iterator()] == [4, 4, 2]
    x, y = collect(dataset)
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(x[..., 0], images / np.float32(255))


def test_seeded_shuffle_is_a_new_permutation_each_epoch_and_reproducible() -> None:
    images, labels = digits(32)
    first = image_dataset(images, labels, batch_size=8, shuffle_seed=7)
    epoch_1, epoch_2 = collect(first)[1], collect(first)[1]
    assert sorted(epoch_1) == sorted(epoch_2) == list(labels)  # every image once per epoch
    assert not np.array_equal(epoch_1, epoch_2)
    again = image_dataset(images, labels, batch_size=8, shuffle_seed=7)
    np.testing.assert_array_equal(collect(again)[1], epoch_1)
    # images travel with their labels through the shuffle
    x, y = collect(image_dataset(images, labels, batch_size=8, shuffle_seed=7))
    np.testing.assert_array_equal(x[..., 0], images[y] / np.float32(255))


def test_mismatched_lengths_are_refused() -> None:
    images, labels = digits(4)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        image_dataset(images, labels[:3], batch_size=2)


# --- image files --------------------------------------------------------------------


def image_files(folder: Path) -> tuple[list[str], np.ndarray]:
    """An RGB, a grayscale, an RGBA, a palette PNG and an RGB JPEG (4×6), with the RGB each should read as."""
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3
    gray = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    rgba = np.dstack([rgb, np.full((4, 6), 7, np.uint8)])  # alpha is dropped, colours kept
    palette = Image.fromarray(np.full((4, 6, 3), (200, 30, 90), np.uint8)).convert("P", palette=Image.Palette.ADAPTIVE)
    files = [folder / "rgb.png", folder / "gray.png", folder / "rgba.png", folder / "palette.png", folder / "flat.jpg"]
    Image.fromarray(rgb).save(files[0])
    Image.fromarray(gray).save(files[1])
    Image.fromarray(rgba).save(files[2])
    palette.save(files[3])
    Image.fromarray(np.full((4, 6, 3), (40, 120, 220), np.uint8)).save(files[4], quality=100)
    expected = np.stack([rgb, np.repeat(gray[..., None], 3, axis=2), rgb, np.full((4, 6, 3), (200, 30, 90), np.uint8)])
    return [str(file) for file in files], expected


def test_files_of_every_mode_come_out_as_rgb_float32_0_to_255_with_their_labels(tmp_path: Path) -> None:
    files, expected = image_files(tmp_path)
    x, y = collect(image_file_dataset(files, [0, 1, 0, 1, 1], image_size=(4, 6), batch_size=2))
    assert x.dtype == np.float32
    assert x.shape == (5, 4, 6, 3)
    np.testing.assert_array_equal(x[:4], expected.astype(np.float32))  # same size: no resampling change
    np.testing.assert_allclose(x[4], np.broadcast_to([40, 120, 220], (4, 6, 3)), atol=3)  # JPEG: lossy
    np.testing.assert_array_equal(y, [0, 1, 0, 1, 1])


def test_resize_gives_the_requested_shape_and_keeps_a_flat_colour(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(np.full((30, 40, 3), (255, 0, 128), np.uint8)).save(path)
    images = list(image_file_dataset([str(path)] * 3, None, image_size=[16, 8], batch_size=2).as_numpy_iterator())
    assert [batch.shape for batch in images] == [(2, 16, 8, 3), (1, 16, 8, 3)]  # labels=None: images only
    assert images[0].dtype == np.float32
    np.testing.assert_array_equal(images[0][0], np.broadcast_to(np.float32([255, 0, 128]), (16, 8, 3)))


def test_seeded_shuffle_of_files_keeps_images_with_their_labels(tmp_path: Path) -> None:
    files = []
    for value in range(12):
        files.append(str(tmp_path / f"{value}.png"))
        Image.fromarray(np.full((2, 2, 3), value * 20, np.uint8)).save(files[-1])
    dataset = image_file_dataset(files, np.arange(12), image_size=(2, 2), batch_size=5, shuffle_seed=3)
    x, y = collect(dataset)
    assert sorted(y) == list(range(12)) and list(y) != list(range(12))
    np.testing.assert_array_equal(x[:, 0, 0, 0], y * 20.0)
    np.testing.assert_array_equal(collect(image_file_dataset(files, np.arange(12), image_size=(2, 2), batch_size=5, shuffle_seed=3))[1], y)


def test_load_image_array_is_uint8_rgb_as_the_models_see_it(tmp_path: Path) -> None:
    files, expected = image_files(tmp_path)
    array = load_image_array(files[:4], (4, 6))
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array, expected)
    assert load_image_array(files[:1], (8, 12)).shape == (1, 8, 12, 3)
    assert load_image_array([], (8, 12)).shape == (0, 8, 12, 3)


def test_file_and_label_counts_must_match() -> None:
    with pytest.raises(ValueError, match="2 image files but 1 labels"):
        image_file_dataset(["a.png", "b.png"], [0], image_size=(2, 2), batch_size=1)
