"""The course's first networks (``fundamentals``): one neuron, and regression MLPs that normalize their own inputs.

Unlike ``models/regression.py`` (whose inputs arrive standardized by a fitted scikit-learn
pipeline), these models start with a Keras ``Normalization`` layer, as in the course. A
built model's ``Normalization`` layers hold no statistics yet: the pipeline adapts each on
the training rows that reach it (``pipelines/fundamentals/nodes.adapt_normalization``)
before training, so validation and test rows never shape the scaling.

``build_wide_deep_two_inputs`` takes two named inputs, ``wide`` and ``deep`` (a mapping of
input name to shape where the other builders take one shape); the pipeline feeds it a
dict of two arrays with those names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import keras
from keras import layers

from neural_pipelines.parameters import Count

#: The input names of :func:`build_wide_deep_two_inputs` (the keys of the arrays it is fed).
WIDE_INPUT, DEEP_INPUT = "wide", "deep"


def _hidden(inputs: keras.KerasTensor, units: Sequence[int], activation: str) -> keras.KerasTensor:
    """``Dense(u, activation)`` per entry of ``units``, applied in turn to ``inputs``."""
    hidden = inputs
    for width in units:
        hidden = layers.Dense(int(width), activation=activation)(hidden)
    return hidden


def build_single_neuron(input_shape: Sequence[int], outputs: int = 1) -> keras.Model:
    """One ``Dense`` unit, no activation: ``y = w·x + b`` (the course's first model, learning y = 2x − 1)."""
    return keras.Sequential([keras.Input(shape=tuple(input_shape)), layers.Dense(outputs, name="neuron")], name="single_neuron")


def build_normalized_mlp(
    input_shape: Sequence[int], outputs: int = 1, *, hidden_units: Sequence[Count] = (50, 50, 50), activation: str = "relu"
) -> keras.Model:
    """Normalization → [Dense(u, activation)]* → Dense(outputs): the course's regression MLP (8 inputs: 5,618 parameters)."""
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    normalized = layers.Normalization(name="normalization")(inputs)
    output = layers.Dense(outputs, name="output")(_hidden(normalized, hidden_units, activation))
    return keras.Model(inputs=inputs, outputs=output, name="normalized_mlp")


def build_normalized_wide_deep(
    input_shape: Sequence[int], outputs: int = 1, *, hidden_units: Sequence[Count] = (30, 30), activation: str = "relu"
) -> keras.Model:
    """Wide & Deep on one input: the normalized inputs go through the hidden layers *and* straight to the output.

    Normalization = n; Concatenate([n, Dense stack(n)]) → Dense(outputs). 8 inputs: 1,256 parameters.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    normalized = layers.Normalization(name="normalization")(inputs)
    wide_and_deep = layers.Concatenate(name="wide_and_deep")([normalized, _hidden(normalized, hidden_units, activation)])
    return keras.Model(inputs=inputs, outputs=layers.Dense(outputs, name="output")(wide_and_deep), name="normalized_wide_deep")


def build_wide_deep_two_inputs(
    input_shape: Mapping[str, Sequence[int]], outputs: int = 1, *, hidden_units: Sequence[Count] = (30, 30), activation: str = "relu"
) -> keras.Model:
    """Wide & Deep with two inputs: ``wide`` features go straight to the output, ``deep`` ones through the hidden layers.

    Each input has its own Normalization; Concatenate([norm(wide), Dense stack(norm(deep))]) → Dense(outputs).
    The course's 5 wide and 6 deep columns: 1,200 parameters.
    """
    missing = {WIDE_INPUT, DEEP_INPUT} - set(input_shape)
    if missing:
        raise ValueError(f"wide_deep_two_inputs needs inputs named {WIDE_INPUT!r} and {DEEP_INPUT!r}; got {sorted(input_shape)}")
    wide = keras.Input(shape=tuple(input_shape[WIDE_INPUT]), name=WIDE_INPUT)
    deep = keras.Input(shape=tuple(input_shape[DEEP_INPUT]), name=DEEP_INPUT)
    normalized_wide = layers.Normalization(name="wide_normalization")(wide)
    normalized_deep = layers.Normalization(name="deep_normalization")(deep)
    wide_and_deep = layers.Concatenate(name="wide_and_deep")([normalized_wide, _hidden(normalized_deep, hidden_units, activation)])
    output = layers.Dense(outputs, name="output")(wide_and_deep)
    return keras.Model(inputs={WIDE_INPUT: wide, DEEP_INPUT: deep}, outputs=output, name="wide_deep_two_inputs")


FUNDAMENTALS: dict[str, Callable[..., keras.Model]] = {
    "single_neuron": build_single_neuron,
    "normalized_mlp": build_normalized_mlp,
    "normalized_wide_deep": build_normalized_wide_deep,
    "wide_deep_two_inputs": build_wide_deep_two_inputs,
}
