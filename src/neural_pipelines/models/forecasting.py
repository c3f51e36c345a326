"""Forecasters for ``traffic_lstm``: ``history`` past hours in, ``horizon`` future hours out.

The course's three networks, each 16 units wide, each ending in ``Dense(horizon)``. Inputs
are ``(timesteps, features)``: ``(6, 1)`` lets the recurrent layers step through the six
hours; the course's ``(1, 6)`` gives them a single step of six features. Builders return
uncompiled models (``models.compile_model`` adds Adam, MSE and MAE from the parameters).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from neural_pipelines.parameters import Count


def build_dense(input_shape: tuple[int, int], horizon: int, units: Count = 16) -> keras.Model:
    """Flatten → Dense(units, relu) → Dense(horizon)."""
    return keras.Sequential(
        [keras.Input(shape=input_shape), layers.Flatten(), layers.Dense(units, activation="relu"), layers.Dense(horizon)], name="dense"
    )


def build_simple_rnn(input_shape: tuple[int, int], horizon: int, units: Count = 16) -> keras.Model:
    """SimpleRNN(units) → Dense(horizon)."""
    return keras.Sequential([keras.Input(shape=input_shape), layers.SimpleRNN(units), layers.Dense(horizon)], name="simple_rnn")


def build_lstm(input_shape: tuple[int, int], horizon: int, units: Count = 16) -> keras.Model:
    """LSTM(units) → Dense(horizon)."""
    return keras.Sequential([keras.Input(shape=input_shape), layers.LSTM(units), layers.Dense(horizon)], name="lstm")


FORECASTERS: dict[str, Callable[..., keras.Model]] = {"dense": build_dense, "simple_rnn": build_simple_rnn, "lstm": build_lstm}
