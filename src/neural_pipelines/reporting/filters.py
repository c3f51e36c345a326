"""What a convolution does, and what a trained filter responds to: two figures for the image reports.

* **Convolution, shown.** Three hand-set 3×3 kernels (:data:`KERNELS`: vertical edges,
  horizontal edges, blur) slid over one grayscale image with ``tf.nn.conv2d``
  (:func:`convolve`), at stride 1 and stride 2 (:func:`convolution_demo_figure`).
* **What a filter has learned.** Gradient ascent on the *input*: start from seeded noise
  around the middle of the input range and repeatedly move the image along the normalised
  gradient of one filter's mean activation (:func:`filter_ascents`, :func:`filter_pattern`,
  :func:`filter_patterns_figure`). The result is an image that filter responds to strongly.

The one non-obvious thing is where the filter lives. In a Sequential CNN its layer is one of
the model's layers; in a transfer model (``build_vgg16_transfer``) ``block3_conv1`` sits
inside the nested ``vgg16`` base. :func:`filter_extractor` handles both: it builds the
nested part from the base's *own* input and feeds it from the outer model's graph, so the
ascent always runs on the model's input (raw pixels through the model's own preprocessing).

TensorFlow and Keras are imported inside the functions, so importing ``reporting`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # reports are rendered headless, in CI as on a laptop

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    import keras


def _constant(rows: list[list[float]]) -> np.ndarray:
    array = np.array(rows, dtype=np.float32)
    array.flags.writeable = False  # a module-level kernel nobody may change by accident
    return array


#: The demo's kernels. ``tf.nn.conv2d`` does not flip kernels (cross-correlation, as Keras'
#: Conv2D), so "vertical edges" outputs left minus right: positive where brightness falls
#: from left to right, negative where it rises, 0 on anything constant along a row.
KERNELS: dict[str, np.ndarray] = {
    "vertical edges": _constant([[1, 0, -1], [1, 0, -1], [1, 0, -1]]),
    "horizontal edges": _constant([[1, 1, 1], [0, 0, 0], [-1, -1, -1]]),
    "blur": _constant([[1 / 9] * 3] * 3),
}
STRIDES = (1, 2)


def _grayscale(image: np.ndarray) -> np.ndarray:
    """``(h, w)``, ``(h, w, 1)`` or ``(h, w, 3)``, uint8 0–255 or float 0–1 → float32 ``(h, w)`` in 0–1."""
    pixels = np.asarray(image)
    scale = 255.0 if pixels.dtype == np.uint8 else 1.0
    pixels = pixels.astype(np.float32) / scale
    return pixels.mean(axis=-1) if pixels.ndim == 3 else pixels


def convolve(image: np.ndarray, kernel: np.ndarray, stride: int = 1) -> np.ndarray:
    """The feature map of one grayscale ``image`` under one 2-D ``kernel``: ``tf.nn.conv2d``, valid padding.

    Valid padding as in the course: a 3×3 kernel turns 28×28 into 26×26 at stride 1 and
    13×13 at stride 2 (it visits every second position). RGB images are averaged to gray.
    """
    import tensorflow as tf

    pixels = _grayscale(image)[None, :, :, None]
    weights = np.asarray(kernel, dtype=np.float32)[:, :, None, None]
    return tf.nn.conv2d(pixels, weights, strides=stride, padding="VALID").numpy()[0, :, :, 0]


def _show_map(axis: plt.Axes, values: np.ndarray, title: str) -> None:
    """A feature map: signed values on a diverging scale centred on 0, non-negative ones in gray."""
    if values.min() < 0:
        limit = float(np.abs(values).max()) or 1.0
        axis.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    else:
        axis.imshow(values, cmap="gray", interpolation="nearest")
    axis.set_title(title, fontsize=9)
    axis.set_xticks([])
    axis.set_yticks([])


def convolution_demo_figure(image: np.ndarray) -> Figure:
    """The image (left), then one row per kernel of :data:`KERNELS`: its weights and its feature maps at stride 1 and 2.

    1 + 3 × (1 + 2) = 10 axes; each map's title gives its shape.
    """
    pixels = _grayscale(image)
    figure = plt.figure(figsize=(10, 7.5))
    grid = figure.add_gridspec(len(KERNELS), 2 + len(STRIDES), width_ratios=[1.6, 0.8, 1, 1])
    source = figure.add_subplot(grid[:, 0])
    source.imshow(pixels, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    source.set_title(f"input {pixels.shape[0]}×{pixels.shape[1]}", fontsize=10)
    source.set_xticks([])
    source.set_yticks([])
    for row, (name, kernel) in enumerate(KERNELS.items()):
        weights = figure.add_subplot(grid[row, 1])
        weights.imshow(kernel, cmap="RdBu_r", vmin=-2, vmax=2)  # pale, so the printed weights stay legible
        for (y, x), value in np.ndenumerate(kernel):
            weights.text(x, y, f"{value:.2g}", ha="center", va="center", fontsize=8)
        weights.set_title(f"{name} kernel", fontsize=9)
        weights.set_xticks([])
        weights.set_yticks([])
        for column, stride in enumerate(STRIDES, start=2):
            feature_map = convolve(pixels, kernel, stride)
            _show_map(figure.add_subplot(grid[row, column]), feature_map, f"stride {stride}: {feature_map.shape[0]}×{feature_map.shape[1]}")
    figure.suptitle("Three hand-set 3×3 kernels slid over one image (tf.nn.conv2d, valid padding)", fontsize=11)
    figure.tight_layout()
    return figure


# --- what a filter has learned: gradient ascent on the input -------------------------


@dataclass(frozen=True)
class FilterAscent:
    """One filter's gradient ascent: the image it ended on and its mean activation before and after."""

    layer_name: str
    filter_index: int
    pattern: np.ndarray  #: ``(height, width, channels)``, rescaled to 0–1 for display (:func:`deprocess`)
    activation_before: float  #: the filter's mean activation on the starting noise
    activation_after: float  #: … and on the final image


def _layer_path(model: keras.Model, layer_name: str) -> list[keras.layers.Layer]:
    """``[layer]`` for one of ``model``'s layers, ``[base, …, layer]`` for one inside nested models."""
    import keras

    for layer in model.layers:
        if layer.name == layer_name:
            return [layer]
    for layer in model.layers:
        if isinstance(layer, keras.Model) and (path := _layer_path(layer, layer_name)):
            return [layer, *path]
    return []


def conv_layer_names(model: keras.Model) -> list[str]:
    """Every ``Conv2D`` layer's name in ``model`` and the models nested in it, in order."""
    import keras

    names: list[str] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += conv_layer_names(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            names.append(layer.name)
    return names


def _graph_node(model: keras.Model, layer: keras.layers.Layer) -> object:
    """The node at which ``model``'s own graph calls ``layer``.

    A layer called in several graphs has one inbound node per call (``transfer.split_at``
    calls a transfer model's base again), so the node is picked by membership in ``model``'s
    graph. Keras keeps both lists private (``_inbound_nodes``, ``_nodes_by_depth``) and a
    Sequential's graph in ``_functional``; there is no public way to ask this.
    """
    graph = getattr(model, "_functional", None) or model
    nodes = {id(node) for level in graph._nodes_by_depth.values() for node in level}
    node = next((node for node in layer._inbound_nodes if id(node) in nodes), None)
    if node is None:
        raise ValueError(f"{model.name}'s graph does not call its layer {layer.name}.")
    return node


def filter_extractor(model: keras.Model, layer_name: str) -> keras.Model:
    """``model``'s input → the output of ``layer_name``, a layer of ``model`` or of a model nested in it.

    A nested layer's output is reached by a model built from its base's own input, called on
    the tensor that feeds the base in ``model``'s graph (after any preprocessing layers).
    """
    import keras

    path = _layer_path(model, layer_name)
    if not path:
        raise ValueError(f"{model.name} has no layer {layer_name!r}; its convolutions: {', '.join(conv_layer_names(model)) or 'none'}.")
    if len(model.inputs) != 1:
        raise ValueError(f"{model.name} has {len(model.inputs)} inputs; gradient ascent needs a single image input.")

    def extractor(outer: keras.Model, path: list[keras.layers.Layer]) -> keras.Model:
        node = _graph_node(outer, path[0])
        if len(path) == 1:
            return keras.Model(outer.inputs[0], node.output_tensors[0])
        return keras.Model(outer.inputs[0], extractor(path[0], path[1:])(node.input_tensors[0]))

    features = extractor(model, path)
    if len(features.output.shape) != 4:
        raise ValueError(f"{layer_name} outputs shape {features.output.shape}, not (batch, height, width, filters): not a convolution.")
    if any(size is None for size in features.inputs[0].shape[1:]):
        raise ValueError(f"{model.name}'s input shape {features.inputs[0].shape} is not fixed; gradient ascent needs one image size.")
    return features


def deprocess(image: np.ndarray) -> np.ndarray:
    """An ascended image for display: centred on 0.5 with standard deviation 0.15, clipped to 0–1.

    The ascent leaves the image at an arbitrary offset and scale; only its contrast matters.
    """
    centred = np.asarray(image, dtype=np.float32) - np.mean(image)
    return np.clip(0.5 + 0.15 * centred / (centred.std() + 1e-5), 0.0, 1.0)


def _start_image(features: keras.Model, input_range: tuple[float, float], seed: int) -> np.ndarray:
    """Seeded uniform noise within ±10% of the input range around its middle, one image of the extractor's input shape."""
    low, high = input_range
    shape = tuple(features.inputs[0].shape[1:])
    return ((low + high) / 2 + (high - low) * np.random.default_rng(seed).uniform(-0.1, 0.1, shape)).astype(np.float32)


def _ascend(
    features: keras.Model, filter_indices: Sequence[int], *, input_range: tuple[float, float], steps: int, step_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient ascent of each filter's mean activation, one image per filter, all in one batch.

    Every filter starts from the same image (:func:`_start_image`), so a filter's result does
    not depend on which other filters share the batch. Each step moves each image by
    ``step_size`` × the input range along its gradient divided by the gradient's root mean
    square: steps of equal size, however steep the activation. Returns the final images and
    the mean activations before and after.
    """
    import tensorflow as tf

    span = input_range[1] - input_range[0]
    starts = np.repeat(_start_image(features, input_range, seed)[None], len(filter_indices), axis=0)
    chosen = tf.constant(list(filter_indices), dtype=tf.int32)

    def mean_activations(images: tf.Tensor) -> tf.Tensor:
        maps = features(images, training=False)  # (filters asked, height, width, channels)
        return tf.reduce_mean(tf.gather(maps, chosen, axis=-1, batch_dims=1), axis=(1, 2))  # image i, filter i

    @tf.function
    def step(images: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(images)
            total = tf.reduce_sum(mean_activations(images))  # each image only moves its own filter's term
        gradient = tape.gradient(total, images)
        rms = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=(1, 2, 3), keepdims=True))
        return images + step_size * span * gradient / (rms + 1e-8)

    images = tf.constant(starts, dtype=tf.float32)
    before = mean_activations(images).numpy()
    for _ in range(steps):
        images = step(images)
    return images.numpy(), before, mean_activations(images).numpy()


#: Ascent settings: 30 steps of 1% of the input range each (the image may end ~30% away from the noise).
ASCENT_STEPS, ASCENT_STEP_SIZE = 30, 0.01


def filter_ascents(
    model: keras.Model,
    layer_name: str,
    filter_indices: Sequence[int],
    *,
    input_range: tuple[float, float] = (0.0, 1.0),
    steps: int = ASCENT_STEPS,
    step_size: float = ASCENT_STEP_SIZE,
    seed: int = 0,
) -> list[FilterAscent]:
    """Gradient ascent for each filter in ``filter_indices`` of the convolution ``layer_name``.

    ``input_range`` is what the model's input expects (``(0, 1)`` for image_cnn's scaled
    images, ``(0, 255)`` for the transfer models' raw pixels); noise and steps scale with it.
    The filter's activation is the layer's output (after its activation function): a ReLU
    filter dead everywhere on the starting noise gets no gradient and stays at 0.
    """
    return _ascents(filter_extractor(model, layer_name), layer_name, filter_indices, input_range, steps, step_size, seed)


def _ascents(
    features: keras.Model,
    layer_name: str,
    filter_indices: Sequence[int],
    input_range: tuple[float, float],
    steps: int,
    step_size: float,
    seed: int,
) -> list[FilterAscent]:
    count = int(features.output.shape[-1])
    if bad := [index for index in filter_indices if not 0 <= index < count]:
        raise ValueError(f"{layer_name} has {count} filters (0–{count - 1}); no filter {bad}.")
    images, before, after = _ascend(features, filter_indices, input_range=input_range, steps=steps, step_size=step_size, seed=seed)
    return [
        FilterAscent(layer_name, int(index), deprocess(image), float(start), float(end))
        for index, image, start, end in zip(filter_indices, images, before, after, strict=True)
    ]


def filter_pattern(
    model: keras.Model,
    layer_name: str,
    filter_index: int,
    *,
    input_range: tuple[float, float] = (0.0, 1.0),
    steps: int = ASCENT_STEPS,
    step_size: float = ASCENT_STEP_SIZE,
    seed: int = 0,
) -> np.ndarray:
    """The image (``(height, width, channels)``, 0–1) that gradient ascent finds for one filter; see :func:`filter_ascents`."""
    settings = {"input_range": input_range, "steps": steps, "step_size": step_size, "seed": seed}
    return filter_ascents(model, layer_name, [filter_index], **settings)[0].pattern


def spread_indices(count: int, n: int) -> list[int]:
    """``n`` filter indices spread evenly over ``0 … count - 1`` (all of them when ``count ≤ n``)."""
    return sorted({round(float(index)) for index in np.linspace(0, count - 1, min(n, count))})


def _shown_filters(features: keras.Model, n_filters: int, input_range: tuple[float, float], seed: int) -> list[int]:
    """``n_filters`` filters spread over those the starting noise activates, topped up from the silent ones if too few.

    A ReLU filter whose output is 0 everywhere on the starting image gets no gradient: its
    "pattern" would be the noise itself, so it is shown only when there are not enough others.
    """
    activity = np.asarray(features(_start_image(features, input_range, seed)[None], training=False)).mean(axis=(0, 1, 2))
    active, silent = np.flatnonzero(activity > 0), np.flatnonzero(activity <= 0)
    chosen = [int(active[i]) for i in spread_indices(len(active), n_filters)]
    chosen += [int(silent[i]) for i in spread_indices(len(silent), n_filters - len(chosen))]
    return sorted(chosen)


RANDOM_WEIGHTS_NOTE = "The weights are randomly initialised: these patterns are meaningless noise, not learned features."


def filter_patterns_figure(  # noqa: PLR0913 (the model, what to show, and the ascent's settings)
    model: keras.Model,
    layer_names: Sequence[str],
    n_filters: int = 8,
    *,
    random_weights: bool = False,
    input_range: tuple[float, float] = (0.0, 1.0),
    steps: int = ASCENT_STEPS,
    step_size: float = ASCENT_STEP_SIZE,
    seed: int = 0,
    cell_inches: float = 1.3,
) -> Figure:
    """One row per layer, one column per filter: each filter's pattern (:func:`filter_ascents`).

    The ``n_filters`` filters of a layer are spread over those the starting noise activates
    (:func:`_shown_filters`), so a layer's row does not fill up with silent ReLU filters.

    Each pattern's title gives the filter and its mean activation on the starting noise →
    on the pattern. ``random_weights=True`` (a base without pretrained weights) says in the
    title that the patterns mean nothing. ``len(layer_names) × n_filters`` axes; a layer with
    fewer filters leaves its row's last cells blank.
    """
    figure, axes = plt.subplots(
        len(layer_names), n_filters, figsize=(cell_inches * n_filters + 0.8, cell_inches * 1.25 * len(layer_names) + 1.0), squeeze=False
    )
    for row, layer_name in zip(axes, layer_names, strict=True):
        features = filter_extractor(model, layer_name)
        indices = _shown_filters(features, n_filters, input_range, seed)
        ascents = _ascents(features, layer_name, indices, input_range, steps, step_size, seed)
        for axis in row:
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_frame_on(False)
        for axis, ascent in zip(row, ascents, strict=False):
            pattern = ascent.pattern[..., 0] if ascent.pattern.shape[-1] == 1 else ascent.pattern
            axis.imshow(pattern, cmap="gray" if pattern.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
            change = f"{ascent.activation_before:.2g} → {ascent.activation_after:.2g}"
            axis.set_title(f"filter {ascent.filter_index}\n{change if ascent.activation_after > 0 else 'silent on the noise'}", fontsize=7)
        row[0].set_ylabel(layer_name, fontsize=9)
    title = f"{model.name}: what {n_filters} filters per layer respond to"
    title += f" (gradient ascent from noise, {steps} steps; mean activation start → end)"
    if random_weights:
        title += f"\n{RANDOM_WEIGHTS_NOTE}"
    figure.suptitle(title, fontsize=9, color="tab:red" if random_weights else "black")
    figure.tight_layout()
    return figure
