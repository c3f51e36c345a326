"""The convolution demo and the filter patterns: kernels checked on hand-made bars, the ascent on seeded tiny CNNs."""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
from keras import layers

from neural_pipelines.models.transfer import build_vgg16_transfer, split_at
from neural_pipelines.reporting.filters import (
    KERNELS,
    RANDOM_WEIGHTS_NOTE,
    conv_layer_names,
    convolution_demo_figure,
    convolve,
    filter_ascents,
    filter_extractor,
    filter_pattern,
    filter_patterns_figure,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def bar(orientation: str, size: int = 9) -> np.ndarray:
    """A black ``size``×``size`` image with one white bar, one pixel wide, through the middle."""
    image = np.zeros((size, size), dtype=np.float32)
    if orientation == "vertical":
        image[:, size // 2] = 1.0
    else:
        image[size // 2, :] = 1.0
    return image


def test_the_vertical_edge_kernel_fires_on_both_sides_of_a_vertical_bar_and_not_at_all_on_a_horizontal_one() -> None:
    # Window columns left minus right: +3 with the bar in the left column, -3 in the right.
    expected_row = [0, 0, -3, 0, 3, 0, 0]
    np.testing.assert_array_equal(convolve(bar("vertical"), KERNELS["vertical edges"]), [expected_row] * 7)
    np.testing.assert_array_equal(convolve(bar("horizontal"), KERNELS["vertical edges"]), np.zeros((7, 7)))


def test_the_horizontal_edge_kernel_fires_on_a_horizontal_bar_and_not_at_all_on_a_vertical_one() -> None:
    expected_column = np.array([0, 0, -3, 0, 3, 0, 0], dtype=np.float32)[:, None]
    np.testing.assert_array_equal(convolve(bar("horizontal"), KERNELS["horizontal edges"]), np.repeat(expected_column, 7, axis=1))
    np.testing.assert_array_equal(convolve(bar("vertical"), KERNELS["horizontal edges"]), np.zeros((7, 7)))


def test_uint8_pixels_are_scaled_to_0_1_first() -> None:
    pixels = (bar("vertical") * 255).astype(np.uint8)
    np.testing.assert_array_equal(convolve(pixels, KERNELS["vertical edges"]), convolve(bar("vertical"), KERNELS["vertical edges"]))


def test_blur_keeps_a_constant_image_constant() -> None:
    blurred = convolve(np.full((10, 10), 0.6, dtype=np.float32), KERNELS["blur"])
    np.testing.assert_allclose(blurred, np.full((8, 8), 0.6), rtol=1e-6)


def test_stride_2_halves_the_map_by_keeping_every_second_position() -> None:
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    for kernel in KERNELS.values():
        full, strided = convolve(image, kernel, 1), convolve(image, kernel, 2)
        assert full.shape == (26, 26) and strided.shape == (13, 13)
        np.testing.assert_allclose(strided, full[::2, ::2], rtol=1e-6)


def test_the_kernels_cannot_be_changed_by_accident() -> None:
    with pytest.raises(ValueError, match="read-only"):
        KERNELS["blur"][0, 0] = 1.0


def test_the_demo_figure_shows_the_image_and_each_kernel_with_its_maps_and_their_shapes() -> None:
    figure = convolution_demo_figure((bar("vertical", 28) * 255).astype(np.uint8))
    assert len(figure.axes) == 1 + 3 * 3  # the image, then per kernel: its weights, stride 1, stride 2
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[0] == "input 28×28"
    assert titles.count("stride 1: 26×26") == 3 and titles.count("stride 2: 13×13") == 3
    assert [title for title in titles if title.endswith("kernel")] == [f"{name} kernel" for name in KERNELS]


# --- gradient ascent ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_cnn() -> keras.Model:
    """A seeded Sequential CNN on 12×12 grayscale images in 0..1, convolutions named ``low`` and ``high``."""
    keras.utils.set_random_seed(7)
    return keras.Sequential(
        [
            keras.Input(shape=(12, 12, 1)),
            layers.Conv2D(4, 3, activation="relu", name="low"),
            layers.MaxPooling2D(2),
            layers.Conv2D(6, 3, activation="relu", name="high"),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ],
        name="tiny_cnn",
    )


@pytest.fixture(scope="module")
def nested_model() -> keras.Model:
    """image (raw 0..255) → Rescaling → a nested Sequential ``base`` of two convolutions → head, as the transfer models are built."""
    keras.utils.set_random_seed(3)
    base = keras.Sequential(
        [keras.Input(shape=(16, 16, 3)), layers.Conv2D(4, 3, activation="relu", name="base_conv1"), layers.Conv2D(5, 3, name="base_conv2")],
        name="base",
    )
    image = keras.Input(shape=(16, 16, 3), name="image")
    features = base(layers.Rescaling(1 / 255, name="preprocess")(image))
    model = keras.Model(image, layers.Dense(1, activation="sigmoid")(layers.Flatten()(features)), name="nested")
    base(keras.Input(shape=(16, 16, 3)))  # the base called in a second graph too, as transfer.split_at does
    return model


def test_gradient_ascent_raises_the_chosen_filters_mean_activation_severalfold(tiny_cnn: keras.Model) -> None:
    ascents = filter_ascents(tiny_cnn, "high", range(6), steps=15)
    active = [ascent for ascent in ascents if ascent.activation_before > 0]
    assert len(active) >= 3
    for ascent in active:
        assert ascent.activation_after > 2 * ascent.activation_before + 0.05, ascent
    assert all(ascent.activation_after >= ascent.activation_before for ascent in ascents)


def test_a_pattern_is_a_reproducible_display_image_whatever_else_shares_the_batch(tiny_cnn: keras.Model) -> None:
    pattern = filter_pattern(tiny_cnn, "low", 1, steps=5, seed=4)
    assert pattern.shape == (12, 12, 1) and pattern.min() >= 0.0 and pattern.max() <= 1.0
    assert pattern.std() > 0.05  # contrast stretched for display, not a flat gray
    np.testing.assert_allclose(filter_pattern(tiny_cnn, "low", 1, steps=5, seed=4), pattern)
    np.testing.assert_allclose(filter_ascents(tiny_cnn, "low", [0, 1, 3], steps=5, seed=4)[1].pattern, pattern, atol=1e-5)


def test_a_nested_layer_is_read_through_the_models_own_preprocessing(nested_model: keras.Model) -> None:
    pixels = np.random.default_rng(1).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    base = nested_model.get_layer("base")
    inner = keras.Model(base.inputs[0], base.get_layer("base_conv2").output)
    np.testing.assert_allclose(filter_extractor(nested_model, "base_conv2")(pixels), inner(pixels / 255), rtol=1e-5, atol=1e-6)


def test_gradient_ascent_on_raw_pixels_raises_a_nested_filters_activation(nested_model: keras.Model) -> None:
    (ascent,) = filter_ascents(nested_model, "base_conv2", [2], input_range=(0, 255))
    assert ascent.pattern.shape == (16, 16, 3)
    assert ascent.activation_after > 2 * ascent.activation_before + 0.05, ascent


def test_vgg16s_block_convolutions_are_reached_inside_the_transfer_model() -> None:
    model = build_vgg16_transfer((32, 32, 3), weights=None)  # random weights: 0.2 s to build at 32×32
    split_at(model, "block4_pool")  # as the pipeline does before training; the base then sits in two graphs
    assert conv_layer_names(model)[:3] == ["block1_conv1", "block1_conv2", "block2_conv1"]
    assert conv_layer_names(model)[-1] == "block5_conv3"
    assert filter_extractor(model, "block3_conv1").output.shape == (None, 8, 8, 256)
    (ascent,) = filter_ascents(model, "block2_conv1", [5], input_range=(0, 255), steps=5)
    assert ascent.activation_after > 2 * ascent.activation_before


def test_an_unknown_layer_or_filter_is_refused_with_what_exists(tiny_cnn: keras.Model) -> None:
    with pytest.raises(ValueError, match="no layer 'conv9'; its convolutions: low, high"):
        filter_pattern(tiny_cnn, "conv9", 0)
    with pytest.raises(ValueError, match=r"high has 6 filters \(0–5\); no filter \[6\]"):
        filter_pattern(tiny_cnn, "high", 6)
    with pytest.raises(ValueError, match="not a convolution"):
        filter_pattern(tiny_cnn, tiny_cnn.layers[-1].name, 0)


def test_the_patterns_figure_has_a_row_per_layer_and_a_column_per_filter(tiny_cnn: keras.Model) -> None:
    figure = filter_patterns_figure(tiny_cnn, ["low", "high"], n_filters=5, steps=3)
    assert len(figure.axes) == 2 * 5
    assert [len(axis.images) for axis in figure.axes] == [1, 1, 1, 1, 0] + [1] * 5  # "low" has 4 filters: one cell blank
    assert [figure.axes[0].get_ylabel(), figure.axes[5].get_ylabel()] == ["low", "high"]
    assert figure.get_suptitle().startswith("tiny_cnn: what 5 filters per layer respond to")
    assert RANDOM_WEIGHTS_NOTE not in figure.get_suptitle()


def test_a_randomly_initialised_network_is_said_to_give_meaningless_patterns(nested_model: keras.Model) -> None:
    figure = filter_patterns_figure(nested_model, ["base_conv1"], n_filters=2, input_range=(0, 255), steps=2, random_weights=True)
    assert len(figure.axes) == 2
    assert "randomly initialised" in figure.get_suptitle() and "meaningless" in figure.get_suptitle()
