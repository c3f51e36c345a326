"""Self-contained ``mlflow.pyfunc`` models that every image experiment registers, and the pickling they share.

A registered model takes raw input and answers in the user's units (``registry.py``):
``house_prices.serving.PriceModel`` (raw Kaggle rows → dollars),
``traffic_lstm.serving.ForecastModel`` (recent hourly counts → the next hours) and, here,
:class:`ImageClassifier` (raw image bytes or RGB arrays → class and confidence) for
``image_cnn``, ``horse_or_human`` and ``vgg16_finetune``.

Each holds its Keras network as ``.keras`` bytes inside the pickle (:class:`KerasBytesMixin`),
reloaded in Keras safe mode, so loading one needs this project installed but no file next to it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import mlflow.pyfunc
import numpy as np
import pandas as pd
import tensorflow as tf
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType

from neural_pipelines.datasets.image_folder import png_bytes
from neural_pipelines.parameters import ImageSize
from neural_pipelines.registry import RegistrySettings, best_variant
from neural_pipelines.training.tfdata import load_image_array

logger = logging.getLogger(__name__)

#: The input column of an image classifier: one image per row.
IMAGE_COLUMN = "image"

#: Images per network call.
BATCH_SIZE = 64


class KerasBytesMixin:
    """Pickles the Keras network in ``keras_attribute`` as ``.keras`` bytes and reloads it in Keras safe mode.

    For ``mlflow.pyfunc`` models that hold a network next to fitted scikit-learn objects: the
    pickle then carries no Keras object state, only the safe ``.keras`` archive.
    """

    keras_attribute = "regressor"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        network = state.get(self.keras_attribute)
        if isinstance(network, keras.Model):
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "network.keras"
                network.save(path)
                state[self.keras_attribute] = ("keras", path.read_bytes())
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        network = state.get(self.keras_attribute)
        if isinstance(network, tuple) and network[0] == "keras":
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "network.keras"
                path.write_bytes(network[1])
                state[self.keras_attribute] = keras.saving.load_model(path, safe_mode=True, compile=False)
        self.__dict__.update(state)


def call_network(network: keras.Model, inputs: Any) -> np.ndarray:
    """The network's output for ``inputs`` in inference mode, by a direct call (no ``predict`` retracing per batch size)."""
    return np.asarray(keras.ops.convert_to_numpy(network(inputs, training=False)))


class ImageClassifier(KerasBytesMixin, mlflow.pyfunc.PythonModel):
    """Raw images → ``predicted_class`` and ``confidence`` (the probability of that class).

    Each row's ``image`` is the encoded file (PNG, JPEG, GIF or BMP bytes; as base64 text in
    a JSON request) or a decoded uint8 array, RGB ``(height, width, 3)`` or grayscale
    ``(height, width)``. Images are resized (bilinear, rounded to uint8, as in training) to
    ``image_size``, turned grayscale when the network was trained on ``channels: 1``, and
    multiplied by ``scale`` (``1/255`` where training scaled pixels outside the network; 1
    where the network rescales itself). A network with one sigmoid output gives P(``classes[1]``),
    thresholded at ``threshold``; otherwise the softmax's largest class wins.
    """

    keras_attribute = "network"

    def __init__(
        self, network: keras.Model, classes: Sequence[str], image_size: Sequence[int], channels: int, scale: float, threshold: float = 0.5
    ) -> None:
        self.network = network
        self.classes = [str(name) for name in classes]
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.channels = int(channels)
        self.scale = float(scale)
        self.threshold = float(threshold)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        images = model_input[IMAGE_COLUMN] if isinstance(model_input, pd.DataFrame) else pd.Series(list(model_input))
        return self.classify(list(images), names=[str(name) for name in images.index])

    def pixels(self, image: Any, name: str) -> np.ndarray:
        """One raw image → uint8 ``(height, width, channels)`` as the network was trained on; a clear error naming ``name`` otherwise."""
        if isinstance(image, str):
            try:
                image = base64.b64decode(image, validate=True)
            except (binascii.Error, ValueError) as error:
                raise ValueError(f"Image {name}: text that is not base64-encoded image bytes ({error}).") from error
        if isinstance(image, (bytes, bytearray, memoryview)):
            try:
                decoded = tf.io.decode_image(bytes(image), channels=self.channels, expand_animations=False)
            except (tf.errors.InvalidArgumentError, ValueError) as error:
                raise ValueError(f"Image {name} does not decode as PNG, JPEG, GIF or BMP: {str(error).splitlines()[0]}") from error
        else:
            array = np.asarray(image)
            if array.ndim == 2:
                array = array[:, :, None]
            if array.ndim != 3 or array.shape[2] not in (1, 3) or array.size == 0 or not np.issubdtype(array.dtype, np.number):
                raise ValueError(
                    f"Image {name}: expected an RGB (height, width, 3) or grayscale (height, width) array, got shape {array.shape}."
                )
            if array.min() < 0 or array.max() > 255:
                raise ValueError(f"Image {name}: pixel values must be 0..255, got {array.min()}..{array.max()}.")
            decoded = tf.constant(array.astype(np.uint8))
            if self.channels == 1 and decoded.shape[2] == 3:
                decoded = tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(decoded, tf.float32))), tf.uint8)
            elif self.channels == 3 and decoded.shape[2] == 1:
                decoded = tf.image.grayscale_to_rgb(decoded)
        resized = tf.image.resize(decoded, self.image_size)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8).numpy()

    def classify(self, images: Sequence[Any], names: Sequence[str] | None = None) -> pd.DataFrame:
        """``predicted_class``, ``confidence`` per image, in order; ``names`` label the images in error messages."""
        names = list(names) if names is not None else [str(position) for position in range(len(images))]
        if not images:
            raise ValueError("No image to classify.")
        pixels = np.stack([self.pixels(image, name) for image, name in zip(images, names, strict=True)])
        outputs = [
            call_network(self.network, pixels[start : start + BATCH_SIZE].astype("float32") * self.scale)
            for start in range(0, len(pixels), BATCH_SIZE)
        ]
        scores = np.concatenate(outputs).astype("float64")
        if scores.shape[1] == 1:  # one sigmoid: P(classes[1])
            p = scores[:, 0]
            positive = p >= self.threshold
            predicted, confidence = np.where(positive, 1, 0), np.where(positive, p, 1.0 - p)
        else:
            predicted = scores.argmax(axis=1)
            confidence = scores[np.arange(len(scores)), predicted]
        return pd.DataFrame({"predicted_class": [self.classes[index] for index in predicted], "confidence": confidence.round(6)})

    def mlflow_signature(self) -> ModelSignature:
        """One column ``image`` (bytes, base64 text or an array: any type, checked in ``pixels``); class and confidence out."""
        return ModelSignature(
            inputs=Schema([ColSpec(AnyType(), IMAGE_COLUMN)]),
            outputs=Schema([ColSpec("string", "predicted_class"), ColSpec("double", "confidence")]),
        )


def image_example(image: np.ndarray) -> pd.DataFrame:
    """An input example for a classifier: one image as PNG bytes, base64-encoded (what a JSON request carries)."""
    encoded = base64.b64encode(png_bytes(np.asarray(image, dtype=np.uint8))).decode("ascii")
    return pd.DataFrame({IMAGE_COLUMN: [encoded]})


def image_champion(
    summaries: dict[str, dict[str, Any]],
    models: dict[str, keras.Model],
    settings: dict[str, Any],
    example: np.ndarray,
    registry: RegistrySettings,
) -> dict[str, Any]:
    """The best classifier by ``registry.metric`` as an :class:`ImageClassifier` (``settings``: its arguments but the network)."""
    choice = best_variant(summaries, registry, eligible=set(models))
    classifier = ImageClassifier(network=models[choice["variant"]], **settings)
    return {"choice": choice, "python_model": classifier, "input_example": image_example(example)}


def grayscale_champion(
    summaries: dict[str, dict[str, Any]],
    models: dict[str, keras.Model],
    splits: dict[str, np.ndarray],
    classes: list[str],
    image_shape: list[int],
    registry: RegistrySettings,
) -> dict[str, Any]:
    """``image_cnn``'s best network: trained on pixels / 255 scaled outside the network, in ``image_shape``'s channels."""
    settings = {"classes": classes, "image_size": image_shape[:2], "channels": int(image_shape[2]), "scale": 1 / 255}
    return image_champion(summaries, models, settings, splits["x_test"][0], registry)


def rgb_champion(
    summaries: dict[str, dict[str, Any]],
    models: dict[str, keras.Model],
    images: pd.DataFrame,
    classes: list[str],
    image_size: ImageSize,
    registry: RegistrySettings,
    predict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The best network of an RGB image-folder experiment: raw 0..255 pixels in (the network rescales them itself).

    ``predict.threshold`` (where the experiment has one) is the sigmoid's cut-off for ``classes[1]``, else 0.5.
    """
    threshold = float((predict or {}).get("threshold", 0.5))
    settings = {"classes": classes, "image_size": list(image_size), "channels": 3, "scale": 1.0, "threshold": threshold}
    example = load_image_array([str(images["filepath"].iloc[0])], image_size)[0]
    return image_champion(summaries, models, settings, example, registry)
