"""Image arrays → ``tf.data`` pipelines: pixels stay uint8 until they are inside TensorFlow.

Images are stored and passed between nodes as uint8 (one byte a pixel). They become
float32 in [0, 1] only here, inside ``tf.data``: scaled once, cached in that form, then
shuffled, batched and prefetched for every epoch. No float64 copy of the data ever exists.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def scale_pixels(images: tf.Tensor, max_value: float = 255.0) -> tf.Tensor:
    """uint8 (or any integer) pixels → float32 ``pixel / max_value``, a channel axis added to grayscale."""
    scaled = tf.cast(images, tf.float32) / tf.constant(max_value, tf.float32)
    return scaled[..., tf.newaxis] if images.shape.rank == 2 else scaled  # noqa: PLR2004 (H, W) → (H, W, 1)


def image_dataset(  # noqa: PLR0913
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
