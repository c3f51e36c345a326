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


def hidden_stack(units: Sequence[int], activation: str, dropout: float) -> list[layers.Layer]:
    """``Dense(u, activation)`` per entry of ``units``, each followed by ``Dropout`` when ``dropout`` > 0."""
    stack: list[layers.Layer] = []
    for width in units:
        stack.append(layers.Dense(int(width), activation=activation))
        if dropout:
            stack.append(layers.Dropout(float(dropout)))
    return stack


def build_mlp(n_features: int, hidden_units: Sequence[int] = (64, 64), activation: str = "relu", dropout: float = 0.0) -> keras.Model:
    """Sequential MLP: Input → [Dense(u, activation) → Dropout]* → Dense(1), no output activation."""
    return keras.Sequential(
        [
            keras.Input(shape=(int(n_features),)),
            *hidden_stack(hidden_units, activation, dropout),
            layers.Dense(1),
        ],
        name="mlp",
    )


def build_wide_deep(n_features: int, hidden_units: Sequence[int] = (30, 30), activation: str = "relu", dropout: float = 0.0) -> keras.Model:
    """Wide & Deep (functional API): the inputs go through the deep stack *and* straight to the output.

    Input → [Dense(u, activation) → Dropout]* = deep; Concatenate([input, deep]) → Dense(1).
    The wide path lets simple (near-linear) effects skip the hidden layers.
    """
    inputs = keras.Input(shape=(int(n_features),), name="features")
    deep = inputs
    for layer in hidden_stack(hidden_units, activation, dropout):
        deep = layer(deep)
    wide_and_deep = layers.Concatenate(name="wide_and_deep")([inputs, deep])
    output = layers.Dense(1, name="price")(wide_and_deep)
    return keras.Model(inputs=inputs, outputs=output, name="wide_deep")


REGRESSORS: dict[str, Callable[..., keras.Model]] = {
    "mlp": build_mlp,
    "wide_deep": build_wide_deep,
}
LOSSES = ("mae", "mse")


def build_regressor(  # noqa: PLR0913, PLR0917 (every size of the architecture is a parameter)
    architecture: str,
    n_features: int,
    hidden_units: Sequence[int],
    activation: str = "relu",
    dropout: float = 0.0,
    loss: str = "mse",
    learning_rate: float = 1e-3,
    steps_per_execution: int = 1,
) -> keras.Model:
    """Build ``architecture`` and compile it with Adam, ``loss`` and RMSE/MAE metrics (the course's setup).

    ``loss``: ``mae`` (the course's house-price recipe) or ``mse`` (its other regression notes,
    RMSE reported). ``steps_per_execution`` runs that many batches per TensorFlow call: the
    same updates in the same order, with less per-batch overhead for these small models.
    """
    if architecture not in REGRESSORS:
        raise ValueError(
            f"Unknown regressor architecture {architecture!r} in parameters_house_prices.yml; use one of {sorted(REGRESSORS)}."
        )
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r} in parameters_house_prices.yml; use one of {list(LOSSES)}.")
    model = REGRESSORS[architecture](n_features, tuple(hidden_units), activation, dropout)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=loss,
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse"), keras.metrics.MeanAbsoluteError(name="mae")],
        steps_per_execution=steps_per_execution,
    )
    return model
