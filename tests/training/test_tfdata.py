"""``image_dataset``: uint8 images become float32 pixel/255 only inside tf.data, batched, cached, reproducibly shuffled."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from neural_pipelines.training.tfdata import image_dataset, scale_pixels


def digits(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    images = np.arange(n * 4 * 3, dtype=np.int64).reshape(n, 4, 3) % 256
    return images.astype(np.uint8), np.arange(n, dtype=np.uint8)


def collect(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    batches = list(dataset.as_numpy_iterator())
    return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])


def test_every_pixel_is_exactly_pixel_over_255_as_float32_with_a_channel_axis() -> None:
    images = np.arange(256, dtype=np.uint8).reshape(4, 8, 8)  # every possible value once
    x, y = collect(image_dataset(images, np.zeros(4, np.uint8), batch_size=3))
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
