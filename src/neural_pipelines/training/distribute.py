"""``training.distribution``: TensorFlow's own distribution strategies for every Keras variant.

- ``none`` (default): TensorFlow's default, one device (a GPU if there is one, else the CPU).
- ``mirrored``: ``tf.distribute.MirroredStrategy``: one replica of the model on every local
  GPU (or every logical device), gradients all-reduced after each batch.
- ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy``: the same across machines;
  each worker runs the same ``kedro run`` with its own ``TF_CONFIG`` (see docs/team.md).

The model is built and compiled under the strategy's scope (its variables are mirrored),
and Keras' ``fit`` distributes the batches itself. ``training.batch_size`` is the batch size
**per replica**: each step processes ``batch_size × replicas`` examples (the global batch),
the way TensorFlow's guides scale it, so adding GPUs keeps each one's work and memory the
same. With one replica nothing changes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from typing import Literal

import tensorflow as tf

logger = logging.getLogger(__name__)

Distribution = Literal["none", "mirrored", "multi_worker"]


@functools.cache
def strategy(distribution: Distribution) -> tf.distribute.Strategy | None:
    """The strategy for ``distribution`` (``None`` for ``none``), created once per process as TensorFlow requires."""
    if distribution == "none":
        return None
    if distribution == "mirrored":
        chosen: tf.distribute.Strategy = tf.distribute.MirroredStrategy()
    elif distribution == "multi_worker":
        chosen = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG; without it, this machine alone
    else:
        raise ValueError(f"training.distribution {distribution!r}: use none, mirrored or multi_worker.")
    logger.info("training.distribution=%s: %s with %d replicas", distribution, type(chosen).__name__, chosen.num_replicas_in_sync)
    return chosen


def replicas(distribution: Distribution) -> int:
    """How many model replicas train in sync (1 for ``none``)."""
    chosen = strategy(distribution)
    return 1 if chosen is None else int(chosen.num_replicas_in_sync)


def global_batch_size(batch_size: int, distribution: Distribution) -> int:
    """The examples one training step processes: ``batch_size`` per replica × replicas."""
    return int(batch_size) * replicas(distribution)


@contextlib.contextmanager
def distribution_scope(distribution: Distribution) -> Iterator[None]:
    """Build and compile inside this: under ``mirrored`` / ``multi_worker`` the strategy's scope, else nothing."""
    chosen = strategy(distribution)
    if chosen is None:
        yield
    else:
        with chosen.scope():
            yield


def built_under(model: object, distribution: Distribution) -> bool:
    """Whether ``model``'s weights live where ``distribution`` trains (mirrored variables for a strategy, plain ones for ``none``).

    A model built outside the strategy's scope (e.g. loaded from a ``.keras`` file by the
    catalog) keeps plain variables; Keras would train it on one device only.
    """
    weights = getattr(model, "weights", [])
    if distribution == "none" or not weights:
        return True
    return isinstance(getattr(weights[0], "value", weights[0]), tf.distribute.DistributedValues)
