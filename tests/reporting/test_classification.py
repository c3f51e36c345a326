"""Classification figures: what they draw is checked against the numbers they were given."""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest

from neural_pipelines.reporting.classification import (
    binary_metrics,
    binary_predictions,
    confusion_matrix_figure,
    feature_maps_figure,
    filters_figure,
    first_conv_layer,
    image_grid,
    layer_activations,
    misclassified_grid,
    misclassified_indices,
    rgb_channels_figure,
    tile,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_confusion_matrix_annotates_every_count_and_the_implied_accuracy() -> None:
    matrix = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 4]])
    figure = confusion_matrix_figure(matrix, ["cat", "dog", "bird"], title="test")
    axis = figure.axes[0]
    np.testing.assert_array_equal(axis.images[0].get_array(), matrix)
    counts = [int(text.get_text()) for text in axis.texts]
    assert counts == matrix.ravel().tolist()  # row by row: true class, then predicted
    assert "accuracy 80.00% of 15" in axis.get_title()  # (5+3+4)/15
    assert [label.get_text() for label in axis.get_xticklabels()] == ["cat", "dog", "bird"]
    assert axis.get_xlabel() == "predicted class" and axis.get_ylabel() == "true class"


def test_tile_places_each_image_at_its_origin_with_blank_gaps() -> None:
    images = np.stack([np.full((2, 3), value, np.uint8) for value in (10, 20, 30)])
    mosaic, origins = tile(images, ncols=2, gap=1, caption_rows=2)
    assert mosaic.shape == (2 * (2 + 2 + 1) - 1, 2 * (3 + 1) - 1)
    assert origins.tolist() == [[2, 0], [2, 4], [7, 0]]
    for image, (top, left) in zip(images, origins, strict=True):
        np.testing.assert_array_equal(mosaic[top : top + 2, left : left + 3], image)
    assert np.isnan(mosaic[:2]).all()  # caption rows
    assert np.isnan(mosaic[:, 3]).all()  # gap column
    assert np.isnan(mosaic[7:, 4:]).all()  # the empty fourth cell


def test_image_grid_captions_each_image() -> None:
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    figure = image_grid(images, [f"img {i}" for i in range(5)], ncols=3, title="grid")
    axis = figure.axes[0]
    assert [text.get_text() for text in axis.texts] == [f"img {i}" for i in range(5)]
    assert axis.images[0].get_clim() == (0, 255)
    with pytest.raises(ValueError, match="5 images but 4 titles"):
        image_grid(images, ["a"] * 4)


def test_misclassified_indices_are_the_wrong_ones_most_confident_first() -> None:
    y_true = np.array([0, 1, 2, 0, 1, 2])
    y_pred = np.array([0, 2, 2, 1, 0, 2])
    confidence = np.array([0.9, 0.6, 0.9, 0.95, 0.7, 0.8])
    assert misclassified_indices(y_true, y_pred).tolist() == [1, 3, 4]
    assert misclassified_indices(y_true, y_pred, confidence).tolist() == [3, 4, 1]
    assert misclassified_indices(y_true, y_pred, confidence, limit=2).tolist() == [3, 4]


def test_misclassified_grid_shows_predicted_and_true_class_of_each_mistake() -> None:
    images = np.zeros((4, 28, 28), np.uint8)
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4]])
    figure = misclassified_grid(images, np.array([0, 0, 1, 1]), probabilities.argmax(1), ["shoe", "bag"], probabilities=probabilities)
    axis = figure.axes[0]
    assert [text.get_text() for text in axis.texts] == ["pred bag (70%)\ntrue shoe", "pred shoe (60%)\ntrue bag"]
    assert "2 of 2 shown" in axis.get_title()


def test_filters_figure_draws_the_kernel_weights_on_a_shared_symmetric_scale() -> None:
    kernel = np.arange(3 * 3 * 1 * 4, dtype=np.float32).reshape(3, 3, 1, 4) - 10
    figure = filters_figure(kernel, ncols=2)
    image = figure.axes[0].images[0]
    mosaic = np.asarray(image.get_array().filled(np.nan))
    for index in range(4):
        row, column = divmod(index, 2)
        np.testing.assert_array_equal(mosaic[row * 4 : row * 4 + 3, column * 4 : column * 4 + 3], kernel[:, :, 0, index])
    assert image.get_clim() == (-25.0, 25.0)  # max |weight| = 35 - 10
    assert "4 filters 3×3" in figure.axes[0].get_title()


def test_rgb_filters_are_shown_as_colour_images_scaled_per_filter() -> None:
    kernel = np.random.default_rng(0).normal(size=(5, 5, 3, 2)).astype(np.float32)
    mosaic = np.asarray(filters_figure(kernel).axes[0].images[0].get_array())
    first = mosaic[:5, :5]
    assert first.shape == (5, 5, 3)
    assert first.min() == pytest.approx(0.0) and first.max() == pytest.approx(1.0)


def tiny_cnn() -> keras.Model:
    """One 3×3 convolution with two filters: the identity (centre weight 1) and its negative."""
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    kernel = np.zeros((3, 3, 1, 2), np.float32)
    kernel[1, 1, 0] = [1.0, -1.0]
    model.layers[0].set_weights([kernel, np.zeros(2, np.float32)])
    return model


def test_feature_maps_are_the_first_convolution_outputs() -> None:
    model = tiny_cnn()
    layer = first_conv_layer(model)
    assert layer is model.layers[0]
    image = np.linspace(-1, 1, 36, dtype=np.float32).reshape(1, 6, 6, 1)
    maps = layer_activations(model, layer, image)[0]
    np.testing.assert_allclose(maps[..., 0], np.maximum(image[0, ..., 0], 0), atol=1e-6)  # relu(identity)
    np.testing.assert_allclose(maps[..., 1], np.maximum(-image[0, ..., 0], 0), atol=1e-6)  # relu(negative)
    figure = feature_maps_figure(image[0], maps)
    mosaic = np.asarray(figure.axes[1].images[0].get_array().filled(np.nan))
    np.testing.assert_allclose(mosaic[:, :6], maps[..., 0] / maps[..., 0].max(), atol=1e-6)  # each map scaled to its peak
    assert "2 of 2 channels, 6×6" in figure.axes[1].get_title()


def test_a_dense_network_has_no_first_convolution() -> None:
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    assert first_conv_layer(model) is None


def drawn_colour(axis: plt.Axes, row: int, column: int) -> tuple[float, float, float]:
    """The RGB colour an axes' image shows at one pixel (after its colour map and scale)."""
    image = axis.images[0]
    return tuple(round(float(value), 3) for value in image.to_rgba(image.get_array())[row, column, :3])


def test_rgb_channels_draws_each_channel_bright_in_its_own_colour() -> None:
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[0, ..., 0] = 255  # pure red
    images[1, 2, 3] = [10, 128, 255]  # one pixel with a different value in each channel
    figure = rgb_channels_figure(images, [3, 1], ["airplane", "automobile", "bird", "cat"], n=4)
    axes = np.array(figure.axes).reshape(2, 4)  # one row per image: image, red, green, blue
    assert [axis.get_title() for axis in axes[0]] == ["image", "red", "green", "blue"]
    assert [row[0].get_ylabel() for row in axes] == ["cat", "automobile"]
    assert drawn_colour(axes[0, 1], 0, 0) == (1.0, 0.0, 0.0)  # the red panel of a red image is bright red
    assert drawn_colour(axes[0, 2], 0, 0) == drawn_colour(axes[0, 3], 0, 0) == (0.0, 0.0, 0.0)  # green, blue: dark
    assert [int(axis.images[0].get_array()[2, 3]) for axis in axes[1, 1:]] == [10, 128, 255]  # R, G, B in that order
    assert drawn_colour(axes[1, 3], 2, 3) == (0.0, 0.0, 1.0) and drawn_colour(axes[1, 3], 0, 0) == (0.0, 0.0, 0.0)
    assert "2 images (4×4) and their red, green and blue channels" in figure.get_suptitle()


def test_rgb_channels_of_grayscale_images_says_there_is_one_channel() -> None:
    images = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    figure = rgb_channels_figure(images, [0, 1, 2], ["0", "1", "2"], n=2)
    axes = figure.axes  # one panel per image: its one channel
    assert len(axes) == 2 and axes[0].get_title() == "its one channel"
    np.testing.assert_array_equal(axes[1].images[0].get_array(), images[1])
    assert axes[1].images[0].get_clim() == (0, 255)
    assert "2 grayscale images (4×4):\none channel" in figure.get_suptitle()
    with pytest.raises(ValueError, match="grayscale or RGB images"):
        rgb_channels_figure(np.zeros((1, 4, 4, 4), np.uint8), [0], ["0"])


# --- RGB grids and binary classifiers ---------------------------------------------------


def test_rgb_uint8_images_are_drawn_in_their_colours_with_white_gaps() -> None:
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[0, ..., 0] = 255  # pure red
    images[1, ..., 2] = 128  # half blue
    figure = image_grid(images, ["red", "blue"], ncols=2)
    mosaic = np.asarray(figure.axes[0].images[0].get_array())
    assert mosaic.shape[-1] == 3 and mosaic.max() <= 1.0  # matplotlib's float RGB scale, nothing clipped to white
    (top, left) = (2, 0)  # caption_rows = round(0.5 * 4)
    np.testing.assert_allclose(mosaic[top, left], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(mosaic[top, left + 5], [0.0, 0.0, 128 / 255], rtol=1e-6)  # second tile after a 1-pixel gap
    np.testing.assert_allclose(mosaic[top, 4], [1.0, 1.0, 1.0])  # the gap is white, not NaN (black)


def test_misclassified_grid_reads_a_sigmoid_output_as_the_probability_of_class_one() -> None:
    images = np.zeros((4, 8, 8, 3), np.uint8)
    p = np.array([0.9, 0.2, 0.4, 0.7])  # P(class 1)
    y_true = np.array([0, 1, 1, 1])
    figure = misclassified_grid(images, y_true, binary_predictions(p), ["horses", "humans"], probabilities=p[:, None])
    texts = [text.get_text() for text in figure.axes[0].texts]
    # most confident mistake first: image 0 (P(humans) 0.9), image 1 (P(horses) 0.8), image 2 (0.6)
    assert texts == ["pred humans (90%)\ntrue horses", "pred horses (80%)\ntrue humans", "pred horses (60%)\ntrue humans"]


def test_binary_metrics_match_hand_computed_values() -> None:
    y_true = np.array([0, 0, 1, 1, 1])
    p = np.array([0.1, 0.6, 0.8, 0.4, 0.5])
    metrics = binary_metrics(y_true, p[:, None])
    assert binary_predictions(p).tolist() == [0, 1, 1, 0, 1]  # 0.5 counts as class 1
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["precision"] == pytest.approx(2 / 3)  # predicted 1: images 2, 3, 5; right: 3, 5
    assert metrics["recall"] == pytest.approx(2 / 3)  # true 1: images 3, 4, 5; found: 3, 5
    assert metrics["f1"] == pytest.approx(2 / 3)
    # AUC: of the 6 (positive, negative) pairs the positive scores higher in 4 (0.4 and 0.5 lose to 0.6)
    assert metrics["auc"] == pytest.approx(4 / 6)
    expected_loss = -np.mean([np.log(0.9), np.log(0.4), np.log(0.8), np.log(0.4), np.log(0.5)])
    assert metrics["loss"] == pytest.approx(expected_loss)
    assert binary_metrics(y_true, p, threshold=0.55)["accuracy"] == pytest.approx(2 / 5)


def test_binary_metrics_agree_with_keras_and_handle_one_class() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 50)
    p = rng.random(50).astype(np.float32)
    keras_loss = float(keras.losses.binary_crossentropy(y_true[:, None].astype(np.float32), p[:, None]).numpy().mean())
    assert binary_metrics(y_true, p)["loss"] == pytest.approx(keras_loss, rel=1e-4)
    assert np.isnan(binary_metrics(np.ones(3), np.array([0.2, 0.7, 0.9]))["auc"])
    with pytest.raises(ValueError, match="0 or 1"):
        binary_metrics(np.array([0, 2]), np.array([0.1, 0.9]))
    with pytest.raises(ValueError, match="3 labels but 2"):
        binary_metrics(np.array([0, 1, 1]), np.array([0.1, 0.9]))
