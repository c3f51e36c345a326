"""Image arrays and image files → ``tf.data`` pipelines: pixels stay uint8 until they are inside TensorFlow.

Images are stored and passed between nodes as uint8 (one byte a pixel). They become
float32 in [0, 1] only here, inside ``tf.data``: scaled once, cached in that form, then
shuffled, batched and prefetched for every epoch. No float64 copy of the data ever exists.

Image *files* (``image_file_dataset``) are decoded and resized inside ``tf.data`` too, but
come out as float32 **0..255**: the models that read them rescale with their own first
layer (``Rescaling`` or a pretrained network's ``preprocess_input``), so a logged model
takes raw RGB pixels, as a user's photo would be.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def scale_pixels(images: tf.Tensor, max_value: float = 255.0) -> tf.Tensor:
    """uint8 (or any integer) pixels → float32 ``pixel / max_value``, a channel axis added to grayscale."""
    scaled = tf.cast(images, tf.float32) / tf.constant(max_value, tf.float32)
    return scaled[..., tf.newaxis] if images.shape.rank == 2 else scaled


def image_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    shuffle_seed: int | None = None,
    max_value: float = 255.0,
    cache: bool = True,
) -> tf.data.Dataset:
    """Batches of ``(float32 images in [0, 1], labels)`` from uint8 arrays.

    Args:
        images: ``(n, height, width)`` grayscale or ``(n, height, width, channels)``, uint8.
        labels: ``(n,)`` integer class indices.
        shuffle_seed: shuffle the whole set anew every epoch, reproducibly from this seed;
            ``None`` keeps the order (validation, test, prediction).
        cache: keep the scaled images in memory after the first pass (float32: 4 bytes a pixel).
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels.")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    dataset = dataset.map(lambda x, y: (scale_pixels(x, max_value), y), num_parallel_calls=AUTOTUNE, deterministic=True)
    if cache:
        dataset = dataset.cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(images), seed=int(shuffle_seed), reshuffle_each_iteration=True)
    return dataset.batch(int(batch_size)).prefetch(AUTOTUNE)


def read_image(filepath: tf.Tensor, image_size: Sequence[int]) -> tf.Tensor:
    """One image file (PNG / JPEG / GIF / BMP, any channels) → uint8 RGB ``(height, width, 3)``.

    Grayscale is repeated into three channels and an alpha channel dropped
    (``decode_image(channels=3)``); resizing is bilinear like
    ``keras.utils.image_dataset_from_directory``, rounded back to uint8.
    """
    image = tf.io.decode_image(tf.io.read_file(filepath), channels=3, expand_animations=False)
    resized = tf.image.resize(image, [int(image_size[0]), int(image_size[1])])
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def image_file_dataset(
    filepaths: Sequence[str],
    labels: Sequence[int] | np.ndarray | None,
    *,
    image_size: Sequence[int],
    batch_size: int,
    shuffle_seed: int | None = None,
    cache: bool = True,
) -> tf.data.Dataset:
    """Batches of ``(float32 RGB images 0..255, labels)`` — or images only — read from files.

    Args:
        filepaths: image files, e.g. the ``filepath`` column of a validated manifest.
        labels: one per file (class indices), or ``None`` to yield images only (prediction).
        image_size: ``(height, width)`` every image is resized to.
        shuffle_seed: shuffle the whole set anew every epoch, reproducibly from this seed;
            ``None`` keeps the files' order (validation, prediction).
        cache: keep the decoded, resized images in memory after the first pass, as uint8
            (a quarter of float32's memory); each epoch then only casts them.
    """
    filepaths = [str(path) for path in filepaths]
    if labels is not None and len(labels) != len(filepaths):
        raise ValueError(f"{len(filepaths)} image files but {len(labels)} labels.")
    size = (int(image_size[0]), int(image_size[1]))
    if labels is None:
        dataset = tf.data.Dataset.from_tensor_slices(filepaths)
        dataset = dataset.map(lambda path: read_image(path, size), num_parallel_calls=AUTOTUNE, deterministic=True)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((filepaths, np.asarray(labels)))
        dataset = dataset.map(lambda path, y: (read_image(path, size), y), num_parallel_calls=AUTOTUNE, deterministic=True)
    if cache:
        dataset = dataset.cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(filepaths), seed=int(shuffle_seed), reshuffle_each_iteration=True)
    dataset = dataset.batch(int(batch_size))
    to_float = (lambda x: tf.cast(x, tf.float32)) if labels is None else (lambda x, y: (tf.cast(x, tf.float32), y))
    return dataset.map(to_float, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)


def load_image_array(filepaths: Sequence[str], image_size: Sequence[int]) -> np.ndarray:
    """uint8 ``(n, height, width, 3)`` RGB array of the files, decoded and resized as the models see them (for figures)."""
    size = (int(image_size[0]), int(image_size[1]))
    images = [read_image(tf.constant(str(path)), size).numpy() for path in filepaths]
    return np.stack(images) if images else np.zeros((0, *size, 3), np.uint8)
