"""Transfer-learning classifiers for ``vgg16_finetune``: a pretrained base, frozen, under a small head.

One builder per architecture, written out as in the keras.io transfer-learning guide. Every
model takes raw RGB pixels (float 0–255) and does its own input preprocessing, so a logged
model needs nothing but the image:

==========================  =============================================================  ============
builder                     layers                                                         at 224×224
==========================  =============================================================  ============
``build_vgg16_transfer``    VGG16Preprocess → VGG16 without top (frozen) → Flatten →       14,714,688 base
                            Dense 1 sigmoid                                                 + 25,089 head
``build_mobilenet_v2_…``    Rescaling(1/127.5, −1) → MobileNetV2 without top (frozen) →     2,257,984 base
                            GlobalAveragePooling2D → Dense 128 relu → Dropout → Dense 1     + 164,097 head
==========================  =============================================================  ============

Unfreezing VGG16's block5 (its last 4 layers: three 3×3×512 convolutions and a pool,
7,079,424 parameters) leaves 7,104,513 trainable parameters with the head.

Every model is ``image → preprocess → base → head`` with the layers named ``preprocess``,
the architecture (``vgg16`` / ``mobilenet_v2``) and ``head``; :func:`split_at` cuts one
into a frozen part and a trainable part that share the same layer objects, which is how the
pipeline trains on cached features and still ends with one complete model.

No Lambda layers anywhere: ``.keras`` files load in Keras' safe mode, which refuses them.
VGG16's ``preprocess_input`` is therefore the small registered layer :class:`VGG16Preprocess`.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from neural_pipelines.parameters import Count, Dropout

PARAMS_FILE = "conf/base/parameters_vgg16_finetune.yml"
PREPROCESS, HEAD = "preprocess", "head"

WEIGHTS_HOST = "storage.googleapis.com"  # where keras.applications downloads weights from
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)  # input sizes with ImageNet weights; Keras falls back to 224


def imagenet_weights_file(name: str, input_shape: Sequence[int]) -> str:
    """The file ``keras.applications`` downloads into ``~/.keras/models`` for ``weights: imagenet`` (no top)."""
    if name == "vgg16":
        return "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    rows = int(input_shape[0]) if int(input_shape[0]) in MOBILENET_V2_SIZES else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5"


@keras.saving.register_keras_serializable(package="neural_pipelines")
class VGG16Preprocess(layers.Layer):
    """``keras.applications.vgg16.preprocess_input`` as a layer: RGB → BGR, minus the ImageNet channel means.

    VGG16 was trained on BGR ("caffe" mode) images with the per-channel ImageNet mean
    subtracted and no scaling. Registered and serializable, so a saved model loads in safe
    mode (a ``Lambda`` layer would not).
    """

    #: ImageNet channel means in BGR order, as ``keras.applications.imagenet_utils`` has them.
    BGR_MEAN = (103.939, 116.779, 123.68)

    def call(self, inputs: Any) -> Any:
        bgr = keras.ops.flip(keras.ops.cast(inputs, "float32"), axis=-1)
        return bgr - keras.ops.convert_to_tensor(np.array(self.BGR_MEAN, dtype=np.float32))

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        return tuple(input_shape)


def _reachable_or_cached(filename: str, timeout: float = 10.0) -> None:
    """Fail within ``timeout`` seconds when the weights are neither cached nor downloadable.

    Keras downloads without a timeout, so behind a firewall that drops packets it would hang;
    this probe connects to the download host first (only when the file is not cached yet).
    """
    homes = [Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")), Path(tempfile.gettempdir()) / ".keras"]
    if any((home / "models" / filename).is_file() for home in homes):
        return
    try:
        socket.create_connection((WEIGHTS_HOST, 443), timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(f"{WEIGHTS_HOST} is unreachable: {error}") from error


def _pretrained_base(application: Callable[..., keras.Model], name: str, input_shape: Sequence[int], weights: str | None) -> keras.Model:
    """``application(include_top=False, weights=weights)``, frozen; a failed ImageNet download says what to do.

    ``weights``: ``None`` (random initialization), ``"imagenet"`` (Keras downloads and caches
    them in ``~/.keras/models``) or the path of a local weights file.
    """
    try:
        if weights == "imagenet":
            _reachable_or_cached(imagenet_weights_file(name, input_shape))
        base = application(include_top=False, weights=weights, input_shape=tuple(input_shape), name=name)
    except Exception as error:
        if weights != "imagenet":
            raise
        raise RuntimeError(
            f"Could not get the ImageNet weights for {name} ({error}). Keras downloads them on first use; offline, "
            f"put {imagenet_weights_file(name, input_shape)} into ~/.keras/models/ (or set {name}'s weights to a local file's path, "
            "or to null for random initialization, in the environment's parameters_vgg16_finetune.yml: conf/full/ sets imagenet)."
        ) from error
    base.trainable = False
    return base


def build_vgg16_transfer(input_shape: Sequence[int], outputs: int = 1, *, weights: str | None) -> keras.Model:
    """VGG16 without its top, frozen, under Flatten → Dense(outputs, sigmoid): the course's feature extractor.

    Input: RGB pixels 0–255, ``input_shape`` (height, width, 3), at least 32×32. At 224×224
    the base has 14,714,688 parameters and the head 7·7·512 + 1 = 25,089.
    """
    image = keras.Input(shape=tuple(input_shape), name="image")
    base = _pretrained_base(keras.applications.VGG16, "vgg16", input_shape, weights)
    head = keras.Sequential(
        [keras.Input(shape=base.output_shape[1:]), layers.Flatten(), layers.Dense(outputs, activation="sigmoid")], name=HEAD
    )
    return keras.Model(image, head(base(VGG16Preprocess(name=PREPROCESS)(image))), name="vgg16_transfer")


def build_mobilenet_v2_transfer(
    input_shape: Sequence[int], outputs: int = 1, *, weights: str | None, dense_units: Count, dropout: Dropout
) -> keras.Model:
    """MobileNetV2 without its top, frozen, under GlobalAveragePooling2D → Dense → Dropout → Dense(outputs, sigmoid).

    Pixels are scaled to [-1, 1] first (MobileNetV2's ``preprocess_input``, as a Rescaling
    layer). ImageNet weights exist for 96, 128, 160, 192 and 224 pixels square.
    """
    image = keras.Input(shape=tuple(input_shape), name="image")
    base = _pretrained_base(keras.applications.MobileNetV2, "mobilenet_v2", input_shape, weights)
    head = keras.Sequential(
        [
            keras.Input(shape=base.output_shape[1:]),
            layers.GlobalAveragePooling2D(),
            layers.Dense(dense_units, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(outputs, activation="sigmoid"),
        ],
        name=HEAD,
    )
    return keras.Model(image, head(base(layers.Rescaling(1 / 127.5, offset=-1, name=PREPROCESS)(image))), name="mobilenet_v2_transfer")


TRANSFER_MODELS: dict[str, Callable[..., keras.Model]] = {"vgg16": build_vgg16_transfer, "mobilenet_v2": build_mobilenet_v2_transfer}


# --- taking a transfer model apart ---------------------------------------------------


def parts(model: keras.Model) -> tuple[keras.layers.Layer, keras.Model, keras.Model]:
    """The ``(preprocess, base, head)`` of a model built here (or loaded from its ``.keras`` file)."""
    head = model.get_layer(HEAD)
    bases = [layer for layer in model.layers if isinstance(layer, keras.Model) and layer is not head]
    if len(bases) != 1:
        raise ValueError(f"{model.name} is not image → preprocess → base → head (nested models: {[layer.name for layer in bases]}).")
    return model.get_layer(PREPROCESS), bases[0], head


def unfreeze_top_layers(model: keras.Model, n_layers: int) -> list[str]:
    """Make the base's last ``n_layers`` layers trainable (the rest stay frozen); returns their names.

    As in the course: ``base.trainable = True``, then every layer before the last
    ``n_layers`` frozen again. For VGG16, 4 is block5 (three convolutions and the pool).
    The model must be compiled again before training.
    """
    _, base, head = parts(model)
    if not 0 < n_layers < len(base.layers):
        raise ValueError(f"Cannot unfreeze the last {n_layers} of {base.name}'s {len(base.layers)} layers ({PARAMS_FILE}).")
    base.trainable = True
    for layer in base.layers[:-n_layers]:
        layer.trainable = False
    head.trainable = True
    return [layer.name for layer in base.layers[-n_layers:]]


def split_at(model: keras.Model, cut: str | None = None) -> tuple[keras.Model, keras.Model]:
    """``(frozen, top)``: image → features at ``cut``, and features → probability, sharing ``model``'s layers.

    ``cut`` names a base layer whose output becomes the features (e.g. ``block4_pool``);
    ``None`` cuts after the whole base. ``top(frozen(x))`` computes exactly ``model(x)``, and
    since ``top`` holds the very layer objects of ``model`` (not copies), training ``top``
    trains ``model``. The base layers after ``cut`` must form a chain, each reading the
    previous one's output (true for VGG16, not inside MobileNetV2's residual blocks).
    """
    preprocess, base, head = parts(model)
    image = keras.Input(shape=model.input_shape[1:], name="image")
    if cut is None:
        frozen = keras.Model(image, base(preprocess(image)), name="frozen_part")
        features = keras.Input(shape=base.output_shape[1:], name="features")
        return frozen, keras.Model(features, head(features), name="trainable_part")
    names = [layer.name for layer in base.layers]
    if cut not in names:
        raise ValueError(f"{base.name} has no layer {cut!r} to cache features at ({PARAMS_FILE}); its layers: {', '.join(names)}.")
    position = names.index(cut)
    following = base.layers[position + 1 :]
    previous = base.layers[position]
    for layer in following:
        if layer.input is not previous.output:
            raise ValueError(f"{base.name}'s layers after {cut!r} are not a chain ({layer.name} does not read {previous.name}).")
        previous = layer
    inner = keras.Model(base.input, base.layers[position].output, name=f"{base.name}_to_{cut}")
    frozen = keras.Model(image, inner(preprocess(image)), name="frozen_part")
    features = keras.Input(shape=base.layers[position].output.shape[1:], name="features")
    hidden = features
    for layer in following:
        hidden = layer(hidden)
    return frozen, keras.Model(features, head(hidden), name="trainable_part")
