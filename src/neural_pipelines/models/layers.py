"""Custom Keras layers the project's builders use, registered so saved models reload in safe mode.

Keras rebuilds a registered layer from its ``get_config`` when it loads a ``.keras`` file, in
safe mode too (a ``Lambda`` layer would need unsafe deserialization). Registration happens
when this module is imported: ``neural_pipelines.models`` imports it (through the builders),
and the catalog's ``KerasModelDataset`` imports that package, so a Kedro run, a notebook's
``catalog.load`` and the tests have it. A plain Python process that calls
``keras.models.load_model`` or ``mlflow.keras.load_model`` on a model with these layers must
``import neural_pipelines.models`` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras


@keras.saving.register_keras_serializable(package="neural_pipelines")
class DepthPool(keras.layers.Layer):
    """Max pooling across channels: the maximum of each group of ``pool_size`` consecutive channels.

    ``(batch, height, width, channels)`` → ``(batch, height, width, channels // pool_size)``;
    channels ``[c0, c1, c2, c3]`` with ``pool_size=2`` become ``[max(c0, c1), max(c2, c3)]``.
    The stride equals the pool size (groups do not overlap), and the channel count must be a
    multiple of it: anything else is refused when the layer is built. Channels last.

    Keras has spatial max pooling but none across the depth; this is Géron's depthwise max
    pooling (a reshape into groups, then a max over each group). It has no weights.
    """

    def __init__(self, pool_size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f"DepthPool: pool_size must be a whole number of channels, at least 1; got {pool_size!r}.")
        self.pool_size = pool_size

    def build(self, input_shape: Sequence[int | None]) -> None:
        channels = input_shape[-1]
        if channels is None or channels % self.pool_size:
            raise ValueError(
                f"DepthPool (layer '{self.name}'): {channels} input channels cannot be split into groups of "
                f"pool_size={self.pool_size}; the channel count must be a multiple of the pool size "
                f"(give the convolution before it a multiple of {self.pool_size} filters, or change pool_size)."
            )
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        groups = inputs.shape[-1] // self.pool_size
        leading = keras.ops.shape(inputs)[:-1]  # the batch (and spatial) sizes, dynamic where unknown
        grouped = keras.ops.reshape(inputs, (*leading, groups, self.pool_size))
        return keras.ops.max(grouped, axis=-1)

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else channels // self.pool_size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size}
