"""Regressors for ``house_prices``: a feature matrix in, one number (the price or its transform) out.

Both networks end in the course's ``Dense(1)`` with no activation. Inputs arrive already
imputed, one-hot encoded and standardized by the pipeline's fitted scikit-learn
preprocessing (see ``pipelines/house_prices/serving.py`` for why it lives there), so the
"normalized inputs" of the Wide & Deep model are the input layer itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
from keras import layers

from neural_pipelines.parameters import Count, Dropout


def hidden_stack(units: Sequence[int], activation: str, dropout: float) -> list[layers.Layer]:
    """``Dense(u, activation)`` per entry of ``units``, each followed by ``Dropout`` when ``dropout`` > 0."""
    stack: list[layers.Layer] = []
    for width in units:
        stack.append(layers.Dense(int(width), activation=activation))
        if dropout:
            stack.append(layers.Dropout(float(dropout)))
    return stack


def build_mlp(
    input_shape: Sequence[int],
    outputs: int = 1,
    *,
    hidden_units: Sequence[Count] = (64, 64),
    activation: str = "relu",
    dropout: Dropout = 0.0,
) -> keras.Model:
    """Sequential MLP: Input → [Dense(u, activation) → Dropout]* → Dense(outputs), no output activation."""
    return keras.Sequential(
        [keras.Input(shape=tuple(input_shape)), *hidden_stack(hidden_units, activation, dropout), layers.Dense(outputs)], name="mlp"
    )


def build_wide_deep(
    input_shape: Sequence[int],
    outputs: int = 1,
    *,
    hidden_units: Sequence[Count] = (30, 30),
    activation: str = "relu",
    dropout: Dropout = 0.0,
) -> keras.Model:
    """Wide & Deep (functional API): the inputs go through the deep stack *and* straight to the output.

    Input → [Dense(u, activation) → Dropout]* = deep; Concatenate([input, deep]) → Dense(outputs).
    The wide path lets simple (near-linear) effects skip the hidden layers.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    deep = inputs
    for layer in hidden_stack(hidden_units, activation, dropout):
        deep = layer(deep)
    wide_and_deep = layers.Concatenate(name="wide_and_deep")([inputs, deep])
    output = layers.Dense(outputs, name="price")(wide_and_deep)
    return keras.Model(inputs=inputs, outputs=output, name="wide_deep")


REGRESSORS: dict[str, Callable[..., keras.Model]] = {"mlp": build_mlp, "wide_deep": build_wide_deep}
