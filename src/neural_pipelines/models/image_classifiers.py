"""Image classifiers for ``image_cnn`` (28×28 grayscale images in, class probabilities out)
and ``horse_or_human`` / ``vgg16_finetune.from_scratch`` (RGB images in, one sigmoid probability
out; at the end of the file).

The course's networks, one builder each, with the layer stack written out as in the
keras.io examples. Every size (filters, kernels, units, dropout …) is an argument that
``conf/base/parameters_image_cnn.yml`` supplies; with the course's values the parameter
counts are:

=============  ===========================================================  ==========
builder        layers                                                        parameters
=============  ===========================================================  ==========
``dnn``        Flatten → Dense 128 → Dense 128 → Dense 10                      118,282
``cnn``        Conv 64 3×3 → pool → Conv 64 3×3 → pool → Dense 10               53,578
``cnn_dnn``    the same with Dense 128 before the output                       243,786
``deep_cnn``   Conv 64 7×7 → pool → Conv 128 ×2 → pool → Conv 256 ×2 → pool    1,413,834
               → Dense 128 → Dropout → Dense 64 → Dropout → Dense 10
``mnist_cnn``  Conv 32 → pool → Conv 64 → pool → Conv 128 → Dense 10           104,202
``image_mlp``  Flatten → Dense 300 → Dense 100 → Dense 10                      266,610
``mnist_mlp``  Flatten → Dense 512 → 256 → 128 → Dropout 0.5 → Dense 10         567,434
``gap_cnn``    Conv 64 ×2 → pool → Conv 128 ×2 → global average → Dropout       260,298
               → Dense 10
depthpool_cnn  Conv 32 → pool → DepthPool 2 → Conv 64 → pool → DepthPool 2       17,610
               → Dense 10 (the project's own design: see its builder)
=============  ===========================================================  ==========

Builders return uncompiled models; ``models.compile_model`` compiles them with the loss,
metrics and optimizer of the experiment's parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import keras
from keras import layers
from pydantic import Field

from neural_pipelines.models.layers import DepthPool
from neural_pipelines.parameters import Count, Dropout

#: Two or three layer sizes, each at least 1: a list of another length is refused before the run
#: (the builders below index them, so a longer list would silently lose its tail).
TwoSizes = Annotated[Sequence[Count], Field(min_length=2, max_length=2)]
ThreeSizes = Annotated[Sequence[Count], Field(min_length=3, max_length=3)]


def build_dnn(input_shape: Sequence[int], num_classes: int, *, units: Count) -> keras.Model:
    """Flatten → Dense(units, relu) → Dense(units, relu) → Dense(num_classes, softmax)."""
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Flatten(),
            layers.Dense(units, activation="relu"),
            layers.Dense(units, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="dnn",
    )


def conv_pool(filters: int, kernel_size: int, pool_size: int) -> list[keras.layers.Layer]:
    """Conv2D(filters, kernel_size, relu) → MaxPooling2D(pool_size), valid padding: the course's CNN block."""
    return [layers.Conv2D(filters, kernel_size, activation="relu"), layers.MaxPooling2D(pool_size)]


def build_cnn(input_shape: Sequence[int], num_classes: int, *, filters: Count, kernel_size: Count, pool_size: Count) -> keras.Model:
    """Conv → MaxPool → Conv → MaxPool → Flatten → Dense(num_classes, softmax); valid padding."""
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            *conv_pool(filters, kernel_size, pool_size),
            *conv_pool(filters, kernel_size, pool_size),
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn",
    )


def build_cnn_dnn(
    input_shape: Sequence[int], num_classes: int, *, filters: Count, kernel_size: Count, pool_size: Count, dense_units: Count
) -> keras.Model:
    """:func:`build_cnn` with a hidden Dense(dense_units, relu) before the output."""
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            *conv_pool(filters, kernel_size, pool_size),
            *conv_pool(filters, kernel_size, pool_size),
            layers.Flatten(),
            layers.Dense(dense_units, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn_dnn",
    )


def build_deep_cnn(  # noqa: PLR0913 (every size of the architecture is a parameter)
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sequence[Count],
    first_kernel_size: Count,
    kernel_size: Count,
    pool_size: Count,
    dense_units: Sequence[Count],
    dropout: Dropout,
    padding: str,
    kernel_initializer: str,
) -> keras.Model:
    """Géron's Fashion-MNIST CNN: a wide first convolution, then two blocks of two, then a dropout head.

    ``filters`` = (first, second block, third block), ``dense_units`` = the two hidden
    Dense widths. Every convolution and hidden Dense uses relu and ``kernel_initializer``.
    """
    conv = {"activation": "relu", "padding": padding, "kernel_initializer": kernel_initializer}
    dense = {"activation": "relu", "kernel_initializer": kernel_initializer}
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Conv2D(filters[0], first_kernel_size, **conv),
            layers.MaxPooling2D(pool_size),
            layers.Conv2D(filters[1], kernel_size, **conv),
            layers.Conv2D(filters[1], kernel_size, **conv),
            layers.MaxPooling2D(pool_size),
            layers.Conv2D(filters[2], kernel_size, **conv),
            layers.Conv2D(filters[2], kernel_size, **conv),
            layers.MaxPooling2D(pool_size),
            layers.Flatten(),
            layers.Dense(dense_units[0], **dense),
            layers.Dropout(dropout),
            layers.Dense(dense_units[1], **dense),
            layers.Dropout(dropout),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="deep_cnn",
    )


def build_mnist_cnn(
    input_shape: Sequence[int], num_classes: int, *, filters: Sequence[Count], kernel_size: Count, pool_size: Count
) -> keras.Model:
    """Conv(filters[0]) → MaxPool → Conv(filters[1]) → MaxPool → Conv(filters[2]) → Flatten → Dense(num_classes)."""
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            *conv_pool(filters[0], kernel_size, pool_size),
            *conv_pool(filters[1], kernel_size, pool_size),
            layers.Conv2D(filters[2], kernel_size, activation="relu"),
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="mnist_cnn",
    )


def build_image_mlp(input_shape: Sequence[int], num_classes: int, *, hidden_units: TwoSizes) -> keras.Model:
    """Géron's Fashion-MNIST MLP: Flatten → Dense(hidden_units[0], relu) → Dense(hidden_units[1], relu) → Dense(num_classes, softmax).

    With the course's 300 and 100 units on 28×28×1: 784·300+300 + 300·100+100 + 100·10+10 = 266,610
    parameters. Registered as ``image_mlp``: ``mlp`` is the house-price regressor's.
    """
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Flatten(),
            layers.Dense(hidden_units[0], activation="relu"),
            layers.Dense(hidden_units[1], activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="mlp",
    )


def build_mnist_mlp(input_shape: Sequence[int], num_classes: int, *, hidden_units: ThreeSizes, dropout: Dropout) -> keras.Model:
    """The course's MNIST MLP: Flatten → Dense ×3 (relu, ``hidden_units``) → Dropout(dropout) → Dense(num_classes, softmax)."""
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Flatten(),
            layers.Dense(hidden_units[0], activation="relu"),
            layers.Dense(hidden_units[1], activation="relu"),
            layers.Dense(hidden_units[2], activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="mnist_mlp",
    )


def build_gap_cnn(
    input_shape: Sequence[int], num_classes: int, *, filters: TwoSizes, kernel_size: Count, pool_size: Count, dropout: Dropout
) -> keras.Model:
    """The course's MNIST CNN with global average pooling instead of Flatten.

    Conv(filters[0]) → Conv(filters[0]) → MaxPool → Conv(filters[1]) → Conv(filters[1]) →
    GlobalAveragePooling → Dropout → Dense(num_classes, softmax); relu, valid padding. The
    average of each last feature map replaces the flattened grid, so the head has one weight
    per channel and class (128·10+10) whatever the image size.
    """
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            layers.Conv2D(filters[0], kernel_size, activation="relu"),
            layers.Conv2D(filters[0], kernel_size, activation="relu"),
            layers.MaxPooling2D(pool_size),
            layers.Conv2D(filters[1], kernel_size, activation="relu"),
            layers.Conv2D(filters[1], kernel_size, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dropout(dropout),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="gap_cnn",
    )


def build_depthpool_cnn(
    input_shape: Sequence[int], num_classes: int, *, filters: TwoSizes, kernel_size: Count, pool_size: Count, depth_pool_size: Count
) -> keras.Model:
    """A small CNN that pools across channels as well as across pixels (the course defines the layer, not a network).

    Conv(filters[0]) → MaxPool → DepthPool(depth_pool_size) → Conv(filters[1]) → MaxPool →
    DepthPool(depth_pool_size) → Flatten → Dense(num_classes, softmax); relu, valid padding.

    Why this shape: it is the two conv + pool blocks of :func:`build_cnn` (with ``mnist_cnn``'s
    32 and 64 filters) and a :class:`DepthPool` after each, so what is new is the depth pooling.
    Each DepthPool keeps, at every pixel, the stronger of each pair of feature maps (a maxout
    unit: two filters can learn two versions of a stroke, and the layer answers to either), and
    halves the channels the next layer sees: the second convolution has half its weights and
    multiply-adds, and the output layer reads 5·5·32 = 800 features instead of 1,600. With [32,
    64] filters that is 17,610 parameters against 34,826 for the same stack without DepthPool.
    Spatial and depth max pooling commute (both take maxima), so DepthPool comes after MaxPool,
    on a quarter of the values. The filter counts must be multiples of ``depth_pool_size``:
    DepthPool refuses others when the model is built.
    """
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            *conv_pool(filters[0], kernel_size, pool_size),
            DepthPool(depth_pool_size),
            *conv_pool(filters[1], kernel_size, pool_size),
            DepthPool(depth_pool_size),
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="depthpool_cnn",
    )


IMAGE_CLASSIFIERS: dict[str, Callable[..., keras.Model]] = {
    "dnn": build_dnn,
    "cnn": build_cnn,
    "cnn_dnn": build_cnn_dnn,
    "deep_cnn": build_deep_cnn,
    "mnist_cnn": build_mnist_cnn,
    "image_mlp": build_image_mlp,
    "mnist_mlp": build_mnist_mlp,
    "gap_cnn": build_gap_cnn,
    "depthpool_cnn": build_depthpool_cnn,
}

# --- horse_or_human: binary RGB classifiers (one sigmoid output) ------------------------
#
# The course's horse-or-human CNN, with and without its augmentation and dropout. Images
# come in as raw RGB 0..255 (float32) of any size set in parameters_horse_or_human.yml;
# the model rescales them itself, so a logged model takes raw pixels. Parameter counts:
# 1,704,097 at the course's 300×300 (7×7×64 = 3,136 features into Dense 512), 229,537 at
# 128×128 (the base size) and 150×150 (2×2×64 = 256 features), 131,233 at 112×112 (1×1×64).
# Augmentation and dropout add no parameters.

#: The name of the augmentation block (a ``keras.Sequential``) inside these models: the
#: horse_or_human report finds it by this name to draw augmented samples.
AUGMENTATION_LAYER = "augmentation"


def augmentation_layers(
    *,
    rotation_degrees: float,
    width_shift: float,
    height_shift: float,
    shear: float,
    zoom: float,
    horizontal_flip: bool,
    fill_mode: str = "nearest",
) -> keras.Sequential:
    """The course's ``ImageDataGenerator`` settings as Keras preprocessing layers.

    Random rotation by up to ±``rotation_degrees``, shifts by up to ±``width_shift`` /
    ``height_shift`` of the image, shear and zoom by up to ±``shear`` / ``zoom``, a
    horizontal flip half the time; uncovered pixels copy the nearest edge pixel. Keras
    applies them only while training (``training=True``); predictions see the image as is.
    """
    steps: list[keras.layers.Layer] = [
        layers.RandomRotation(rotation_degrees / 360.0, fill_mode=fill_mode),  # factor: fraction of a full turn
        layers.RandomTranslation(height_shift, width_shift, fill_mode=fill_mode),
        # (0, shear), not shear: RandomShear turns a number s into (-s, s), which its own
        # from_config then rejects (Keras 3.15), so the saved model would not load. The layer
        # flips the sign of half its draws, so (0, s) shears by ±s just the same.
        layers.RandomShear(x_factor=(0.0, shear), y_factor=(0.0, shear), fill_mode=fill_mode),
        layers.RandomZoom(zoom, zoom, fill_mode=fill_mode),
    ]
    if horizontal_flip:
        steps.append(layers.RandomFlip("horizontal"))
    return keras.Sequential(steps, name=AUGMENTATION_LAYER)


def build_horse_or_human_cnn(  # noqa: PLR0913 (every size of the architecture is a parameter)
    input_shape: Sequence[int],
    outputs: int = 1,
    *,
    name: str,
    filters: Sequence[Count],
    kernel_size: Count,
    pool_size: Count,
    dense_units: Count,
    dropout: Dropout | None = None,
    augmentation: dict[str, Any] | None = None,
) -> keras.Model:
    """Input (raw RGB 0..255) → [augmentation] → Rescaling(1/255) → one Conv2D(relu) + MaxPool
    block per entry of ``filters`` → Flatten → Dense(dense_units, relu) → [Dropout] → Dense(outputs, sigmoid).

    ``augmentation`` holds the arguments of :func:`augmentation_layers` (``None``: no
    augmentation); ``dropout`` is the rate of the Dropout before the output (``None``: none).
    """
    stack: list[keras.layers.Layer] = [keras.Input(shape=tuple(input_shape), name="image")]
    if augmentation:
        stack.append(augmentation_layers(**augmentation))
    stack.append(layers.Rescaling(1.0 / 255))
    for count in filters:
        stack += conv_pool(count, kernel_size, pool_size)
    stack += [layers.Flatten(), layers.Dense(dense_units, activation="relu")]
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(outputs, activation="sigmoid"))
    return keras.Sequential(stack, name=name)


def build_cats_vs_dogs_cnn(
    input_shape: Sequence[int], outputs: int = 1, *, filters: Sequence[Count], kernel_size: Count, pool_size: Count
) -> keras.Model:
    """The course's cats-vs-dogs CNN, trained from scratch: Input (raw RGB 0..255) → Rescaling(1/255) →
    Conv2D(relu) + MaxPool for every entry of ``filters`` but the last → Conv2D(filters[-1], relu) → Flatten → Dense(outputs, sigmoid).

    The MNIST CNN's stack on RGB images with one sigmoid output and no hidden Dense layer
    (unlike :func:`build_horse_or_human_cnn`); the course's deeper try is ``filters`` [32, 64,
    128, 256, 512]. With [32, 64, 128]: 439,361 parameters at 224×224 (52×52×128 features into
    Dense 1), 111,681 at 64×64.
    """
    *pooled, last = filters
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape), name="image"),
            layers.Rescaling(1.0 / 255),
            *[layer for count in pooled for layer in conv_pool(count, kernel_size, pool_size)],
            layers.Conv2D(last, kernel_size, activation="relu"),
            layers.Flatten(),
            layers.Dense(outputs, activation="sigmoid"),
        ],
        name="cats_vs_dogs_cnn",
    )


BINARY_IMAGE_CLASSIFIERS: dict[str, Callable[..., keras.Model]] = {
    "horse_or_human_cnn": build_horse_or_human_cnn,
    "cats_vs_dogs_cnn": build_cats_vs_dogs_cnn,
}
