"""Figures for image classifiers: confusion matrix, image grids, colour channels, convolution filters and feature maps;
and the metrics of binary (one sigmoid output) classifiers.

Shared by the image pipelines (``image_cnn``, ``horse_or_human``, ``vgg16_finetune``), so
nothing here knows a dataset: images are ``(n, height, width)`` grayscale or
``(n, height, width, 3)`` RGB arrays, uint8 (0–255) or float (0–1); labels are integer
class indices into ``class_names``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import matplotlib

matplotlib.use("Agg")  # reports are rendered headless, in CI as on a laptop

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from sklearn.metrics import log_loss, precision_recall_fscore_support, roc_auc_score

MAX_ANNOTATED_CLASSES = 20
CORRECT_COLOR, WRONG_COLOR = "tab:green", "tab:red"
RGB_CHANNELS = (("red", (1.0, 0.0, 0.0)), ("green", (0.0, 1.0, 0.0)), ("blue", (0.0, 0.0, 1.0)))  # name, full-intensity colour


def _pixel_range(images: np.ndarray) -> tuple[float | None, float | None]:
    """Fixed display range for uint8 (0–255) images; matplotlib's autoscaling otherwise."""
    return (0, 255) if images.dtype == np.uint8 else (None, None)


def _drop_channel(images: np.ndarray) -> np.ndarray:
    """``(…, height, width, 1)`` → ``(…, height, width)``; RGB and grayscale stay as they are."""
    return images[..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images


def tile(images: np.ndarray, ncols: int, gap: int = 1, caption_rows: int = 0, fill: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
    """Lay ``(n, height, width[, 3])`` images out as one mosaic, row by row, ``ncols`` wide.

    Tiles are separated by ``gap`` pixels, with ``caption_rows`` empty pixel rows above
    each for a caption, all filled with ``fill`` (matplotlib leaves NaN blank). Returns the
    float32 mosaic and each tile's ``(top, left)`` pixel. One mosaic draws far faster than
    one matplotlib axes per image.
    """
    images = _drop_channel(np.asarray(images, dtype=np.float32))
    count, height, width = images.shape[:3]
    ncols = max(1, min(ncols, count))
    nrows = max(1, math.ceil(count / ncols))
    cell_height, cell_width = caption_rows + height + gap, width + gap
    mosaic = np.full((nrows * cell_height - gap, ncols * cell_width - gap, *images.shape[3:]), fill, dtype=np.float32)
    rows, columns = np.divmod(np.arange(count), ncols)
    origins = np.stack([rows * cell_height + caption_rows, columns * cell_width], axis=1)
    for image, (top, left) in zip(images, origins, strict=True):
        mosaic[top : top + height, left : left + width] = image
    return mosaic, origins


def _mosaic_figure(mosaic: np.ndarray, width_inches: float) -> tuple[Figure, plt.Axes]:
    """A figure with one frameless axes sized to the mosaic's aspect ratio (plus room for a title)."""
    height_inches = width_inches * mosaic.shape[0] / mosaic.shape[1] + 0.6
    figure, axis = plt.subplots(figsize=(width_inches, height_inches))
    axis.set_xticks([])
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)
    return figure, axis


def confusion_matrix_figure(
    matrix: np.ndarray | Sequence[Sequence[int]], class_names: Sequence[str], title: str = "Confusion matrix"
) -> Figure:
    """Counts of (true class row, predicted class column), each cell annotated with its count.

    The title adds the accuracy the matrix implies (diagonal / total).
    """
    matrix = np.asarray(matrix)
    total = int(matrix.sum())
    accuracy = np.trace(matrix) / total if total else float("nan")
    size = 1.6 + 0.55 * len(class_names)
    figure, axis = plt.subplots(figsize=(size + 1.2, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, labels=list(class_names), rotation=45, ha="right")
    axis.set_yticks(ticks, labels=list(class_names))
    axis.set(xlabel="predicted class", ylabel="true class", title=f"{title} (accuracy {accuracy:.2%} of {total})")
    if len(class_names) <= MAX_ANNOTATED_CLASSES:
        threshold = matrix.max() / 2 if matrix.size else 0
        for (row, column), count in np.ndenumerate(matrix):
            axis.text(column, row, str(int(count)), ha="center", va="center", fontsize=8, color="white" if count > threshold else "black")
    figure.tight_layout()
    return figure


def image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    *,
    ncols: int = 8,
    title: str | None = None,
    title_colors: Sequence[str] | None = None,
    cell_inches: float = 1.4,
) -> Figure:
    """The images in a grid, each captioned above with its title (coloured by ``title_colors``)."""
    images = np.asarray(images)
    if len(images) != len(titles):
        raise ValueError(f"{len(images)} images but {len(titles)} titles.")
    height, width = images.shape[1:3]
    caption_rows = round(0.5 * height)  # two short lines of 7-point text at cell_inches per image
    rgb = images.ndim == 4 and images.shape[-1] == 3
    if rgb:
        # matplotlib ignores vmin/vmax for colour images and clips floats to 0..1 (NaN
        # would draw black), so uint8 RGB is scaled to 0..1 here and the gaps are white.
        scaled = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images
        mosaic, origins = tile(scaled, ncols, gap=max(1, height // 10), caption_rows=caption_rows, fill=1.0)
    else:
        mosaic, origins = tile(images, ncols, gap=max(1, height // 10), caption_rows=caption_rows)
    figure, axis = _mosaic_figure(mosaic, cell_inches * min(ncols, len(images)))
    if rgb:
        axis.imshow(np.clip(mosaic, 0.0, 1.0), interpolation="nearest")
    else:
        vmin, vmax = _pixel_range(images)
        axis.imshow(mosaic, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    for index, ((top, left), caption) in enumerate(zip(origins, titles, strict=True)):
        color = title_colors[index] if title_colors else "black"
        axis.text(left + width / 2, top - 1, caption, ha="center", va="bottom", fontsize=7, color=color)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def misclassified_indices(y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray | None = None, limit: int = 24) -> np.ndarray:
    """Positions of wrong predictions, the most confident mistakes first (else in order), at most ``limit``."""
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))
    if confidence is not None:
        wrong = wrong[np.argsort(-np.asarray(confidence)[wrong], kind="stable")]
    return wrong[:limit]


def misclassified_grid(  # noqa: PLR0913 (images, labels, predictions and how to show them)
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    *,
    probabilities: np.ndarray | None = None,
    limit: int = 24,
    ncols: int = 8,
    title: str = "Misclassified test images",
) -> Figure:
    """A grid of wrongly classified images captioned ``pred <class> / true <class>``.

    With ``probabilities`` (n, classes), the most confident mistakes come first and each
    caption adds the predicted class' probability. A binary classifier's sigmoid output,
    ``(n,)`` or ``(n, 1)`` = P(class 1), is read as the two columns ``1 - p, p``.
    """
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.ndim == 1 or probabilities.shape[1] == 1:
            positive = probabilities.reshape(-1)
            probabilities = np.column_stack([1.0 - positive, positive])
    confidence = None if probabilities is None else probabilities[np.arange(len(probabilities)), np.asarray(y_pred, dtype=np.int64)]
    chosen = misclassified_indices(y_true, y_pred, confidence, limit)
    n_wrong = int((np.asarray(y_true) != np.asarray(y_pred)).sum())
    if len(chosen) == 0:
        figure, axis = plt.subplots(figsize=(4, 1))
        axis.axis("off")
        axis.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return figure
    titles = [
        f"pred {class_names[y_pred[i]]}" + ("" if confidence is None else f" ({confidence[i]:.0%})") + f"\ntrue {class_names[y_true[i]]}"
        for i in chosen
    ]
    return image_grid(
        np.asarray(images)[chosen],
        titles,
        ncols=ncols,
        title=f"{title}: {len(chosen)} of {n_wrong} shown",
        title_colors=[WRONG_COLOR] * len(chosen),
    )


def first_conv_layer(model: keras.Model) -> keras.layers.Layer | None:
    """The model's first ``Conv2D`` layer (None for a network without convolutions)."""
    return next((layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)), None)


def layer_activations(model: keras.Model, layer: keras.layers.Layer, images: np.ndarray) -> np.ndarray:
    """What ``layer`` outputs when the model sees ``images`` (already scaled as the model expects)."""
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs=inputs, outputs=layer.output)
    return np.asarray(probe(np.asarray(images), training=False))


def filters_figure(kernel: np.ndarray, title: str = "First-layer filters", ncols: int = 16, cell_inches: float = 0.6) -> Figure:
    """Each convolution filter of a ``(height, width, in_channels, filters)`` kernel as a small image.

    One input channel (or many): the weights (averaged over input channels) on a diverging
    scale shared by all filters: red positive, blue negative, white zero. Three input
    channels: an RGB image, min–max scaled per filter. Filters run left to right, top down.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    n_filters = kernel.shape[-1]
    filters = np.moveaxis(kernel, -1, 0)  # (filters, height, width, in_channels)
    ncols = max(1, min(ncols, n_filters))
    if filters.shape[-1] == 3:
        low = filters.min(axis=(1, 2, 3), keepdims=True)
        span = np.ptp(filters, axis=(1, 2, 3), keepdims=True)
        mosaic, _ = tile((filters - low) / np.where(span > 0, span, 1.0), ncols, fill=1.0)
        figure, axis = _mosaic_figure(mosaic, cell_inches * ncols)
        axis.imshow(mosaic, interpolation="nearest")
    else:
        limit = float(np.abs(kernel).max()) or 1.0
        mosaic, _ = tile(filters.mean(axis=-1), ncols)
        figure, axis = _mosaic_figure(mosaic, cell_inches * ncols)
        image = axis.imshow(mosaic, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        figure.colorbar(image, ax=axis, fraction=0.03, pad=0.02, label="weight")
    axis.set_title(f"{title}: {n_filters} filters {kernel.shape[0]}×{kernel.shape[1]}")
    figure.tight_layout()
    return figure


def feature_maps_figure(
    image: np.ndarray, maps: np.ndarray, title: str = "Feature maps", ncols: int = 16, max_maps: int = 64, cell_inches: float = 0.7
) -> Figure:
    """The input image (left) and each channel of ``maps`` (height, width, channels), up to ``max_maps``.

    Each map is scaled to its own maximum, so a weakly firing filter's pattern stays visible.
    """
    maps = np.asarray(maps, dtype=np.float32)
    shown = min(maps.shape[-1], max_maps)
    channels = np.moveaxis(maps[..., :shown], -1, 0)
    peaks = np.abs(channels).max(axis=(1, 2), keepdims=True)
    mosaic, _ = tile(channels / np.where(peaks > 0, peaks, 1.0), min(ncols, shown))
    ncols = max(1, min(ncols, shown))
    nrows = math.ceil(shown / ncols)
    width = cell_inches * ncols
    figure, (input_axis, axis) = plt.subplots(
        1, 2, figsize=(width + 2.2, max(2.0, width * mosaic.shape[0] / mosaic.shape[1]) + 0.6), width_ratios=[1.6, width]
    )
    image = _drop_channel(np.asarray(image)[None])[0]
    input_axis.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=_pixel_range(image)[0], vmax=_pixel_range(image)[1])
    input_axis.set_title("input", fontsize=9)
    axis.imshow(mosaic, cmap="viridis", vmin=0 if channels.min() >= 0 else None, interpolation="nearest")
    axis.set_title(f"{title}: {shown} of {maps.shape[-1]} channels, {maps.shape[0]}×{maps.shape[1]} ({nrows}×{ncols} grid)")
    for panel in (input_axis, axis):
        panel.set_xticks([])
        panel.set_yticks([])
    figure.tight_layout()
    return figure


def rgb_channels_figure(
    images: np.ndarray, labels: Sequence[int], class_names: Sequence[str], n: int = 4, cell_inches: float = 1.5
) -> Figure:
    """The first ``n`` images, one per row: the image, then its red, green and blue channel side by side.

    Each channel is drawn from black (0) to its own colour (full intensity) on the same fixed
    scale, so a bright panel means much of that colour there and the three panels of one
    image compare directly. Grayscale images (``(n, height, width)`` or a single channel)
    have no colours to separate: the title says so and each image is shown as its one channel.
    """
    images = np.asarray(images)
    shown = min(int(n), len(images))
    if shown < 1:
        raise ValueError("rgb_channels_figure needs at least one image.")
    images = _drop_channel(images[:shown])
    rgb = images.ndim == 4  # (images, height, width, channels) after _drop_channel: colour
    if rgb and images.shape[-1] != len(RGB_CHANNELS):
        raise ValueError(f"rgb_channels_figure shows grayscale or RGB images; these have shape {images.shape[1:]}.")
    high = 255 if images.dtype == np.uint8 else 1.0
    height, width = images.shape[1:3]
    if rgb:
        columns = [("image", None), *((name, LinearSegmentedColormap.from_list(name, ["black", color])) for name, color in RGB_CHANNELS)]
        title = f"{shown} images ({height}×{width}) and their red, green and blue channels"
    else:
        columns = [("its one channel", "gray")]
        title = f"{shown} grayscale images ({height}×{width}):\none channel, no red, green and blue to separate"
    figure, axes = plt.subplots(
        shown, len(columns), figsize=(max(cell_inches * len(columns), 4.0), cell_inches * shown + 0.8), squeeze=False
    )
    for row, image in enumerate(images):
        planes = [image, *np.moveaxis(image, -1, 0)] if rgb else [image]  # the image itself, then R, G, B
        for axis, plane, (name, cmap) in zip(axes[row], planes, columns, strict=True):
            axis.imshow(plane, cmap=cmap, vmin=0, vmax=high, interpolation="nearest")  # RGB: vmin, vmax unused
            axis.set(xticks=[], yticks=[])
            if row == 0:
                axis.set_title(name, fontsize=9)
        axes[row, 0].set_ylabel(class_names[int(labels[row])], fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


# --- binary classifiers (one sigmoid output) ----------------------------------------


def binary_predictions(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class 1 where the sigmoid output P(class 1) is at least ``threshold``, else 0 (int64)."""
    return (np.asarray(probabilities, dtype=np.float64).reshape(-1) >= threshold).astype(np.int64)


def binary_metrics(y_true: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, ROC AUC, log loss, precision, recall and F1 of a binary classifier.

    ``probabilities`` is the sigmoid output P(class 1), shape ``(n,)`` or ``(n, 1)``;
    a prediction is class 1 at ``threshold`` or above. ``loss`` is the binary
    cross-entropy (sklearn's ``log_loss``, the mean over images, as Keras reports it).
    Precision, recall and F1 are those of class 1. With only one class among ``y_true``
    the AUC is undefined and reported as NaN.
    """
    y_true = np.asarray(y_true).reshape(-1).astype(np.int64)
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if len(y_true) != len(p):
        raise ValueError(f"{len(y_true)} labels but {len(p)} probabilities.")
    if not len(y_true):
        raise ValueError("binary_metrics needs at least one image.")
    if not set(np.unique(y_true)) <= {0, 1}:
        raise ValueError(f"binary labels must be 0 or 1, got {sorted(set(np.unique(y_true).tolist()))}.")
    y_pred = binary_predictions(p, threshold)
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", pos_label=1, zero_division=0)
    both_classes = len(np.unique(y_true)) == 2
    return {
        "accuracy": float(np.mean(y_pred == y_true)),
        "auc": float(roc_auc_score(y_true, p)) if both_classes else float("nan"),
        "loss": float(log_loss(y_true, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }
