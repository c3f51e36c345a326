"""DepthPool: the maximum of each group of channels, refused channel counts, and a safe-mode round trip."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from neural_pipelines.models.layers import DepthPool


def test_each_pair_of_consecutive_channels_becomes_its_maximum() -> None:
    pixel = np.array([1, 5, 2, 3], np.float32).reshape(1, 1, 1, 4)  # one pixel, four channels
    np.testing.assert_array_equal(np.asarray(DepthPool(2)(pixel)), np.array([5, 3], np.float32).reshape(1, 1, 1, 2))


def test_groups_are_consecutive_channels_at_every_pixel_and_image() -> None:
    # two images of 1×2 pixels with six channels; groups of three: channels 0–2 and 3–5
    images = np.array([[[[0, 9, 1, -4, -2, -3], [7, 7, 7, 0, 0, 8]]], [[[-1, -2, -3, 4, 6, 5], [2, 0, 1, 3, 1, 2]]]], np.float32)
    expected = np.array([[[[9, -2], [7, 8]]], [[[-1, 6], [2, 3]]]], np.float32)
    np.testing.assert_array_equal(np.asarray(DepthPool(3)(images)), expected)


def test_output_shape_divides_the_channels_and_keeps_unknown_sizes() -> None:
    layer = DepthPool(4)
    assert layer.compute_output_shape((None, 13, 13, 32)) == (None, 13, 13, 8)
    model = keras.Sequential([keras.Input((None, None, 8)), DepthPool(2)])
    assert model.output_shape == (None, None, None, 4)
    assert np.asarray(model(np.zeros((3, 5, 7, 8), np.float32))).shape == (3, 5, 7, 4)


def test_a_channel_count_that_is_not_a_multiple_of_the_pool_size_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match=r"30 input channels cannot be split into groups of pool_size=4"):
        keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(30, 3), DepthPool(4)])


@pytest.mark.parametrize("pool_size", [0, -2, 1.5, True])
def test_pool_size_must_be_a_whole_number_of_channels(pool_size: object) -> None:
    with pytest.raises(ValueError, match=r"pool_size must be a whole number of channels"):
        DepthPool(pool_size)  # type: ignore[arg-type]  # the wrong types are the point


def test_a_model_with_depth_pooling_saves_and_reloads_in_safe_mode_with_identical_predictions(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((10, 10, 1)),
            keras.layers.Conv2D(6, 3, activation="relu"),
            DepthPool(3),
            keras.layers.Flatten(),
            keras.layers.Dense(4),
        ]
    )
    images = np.random.default_rng(0).random((5, 10, 10, 1), dtype=np.float32)
    path = tmp_path / "depth_pool.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    layer = reloaded.layers[1]
    assert isinstance(layer, DepthPool) and layer.pool_size == 3
    assert keras.saving.get_registered_name(DepthPool) == "neural_pipelines>DepthPool"
    np.testing.assert_array_equal(reloaded.predict(images, verbose=0), model.predict(images, verbose=0))
