"""Forecasters for ``traffic_lstm``: ``history`` past hours in, ``horizon`` future hours out.

The course's three networks, each 16 units wide, each ending in ``Dense(horizon)``. Inputs
are ``(timesteps, features)``: ``(6, 1)`` lets the recurrent layers step through the six
hours; the course's ``(1, 6)`` gives them a single step of six features. Builders return
uncompiled models (``models.compile_model`` adds Adam, MSE and MAE from the parameters).

``lstm_calendar`` is not the course's: it reads a week of history as seven days of 24 hours
and, for each target hour, what is known of it in advance (its calendar, last week's volume
at that hour), so it can tell a Monday morning from a Sunday one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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


def build_lstm_calendar(
    input_shape: Mapping[str, tuple[int, int]], horizon: int, units: Count = 32, hidden_units: Count = 64, day_hours: Count = 24
) -> keras.Model:
    """Two inputs: ``history`` (hours, 1) and ``target_hours`` (horizon, features).

    The history, folded into days of ``day_hours`` hours, runs through ``LSTM(units)``; its
    state is repeated for every target hour and joined with that hour's known features, and
    a small dense head maps each hour's row to its forecast, the same weights for every hour.
    """
    history_hours = input_shape["history"][0]
    if history_hours % day_hours:
        raise ValueError(f"lstm_calendar folds its history into days: history_hours ({history_hours}) must be a multiple of {day_hours}")
    history = keras.Input(shape=input_shape["history"], name="history")
    target_hours = keras.Input(shape=input_shape["target_hours"], name="target_hours")
    days = layers.Reshape((history_hours // day_hours, day_hours))(history)
    state = layers.LSTM(units)(days)
    per_hour = layers.Concatenate()([layers.RepeatVector(horizon)(state), target_hours])
    per_hour = layers.Dense(hidden_units, activation="relu")(per_hour)
    per_hour = layers.Dense(hidden_units // 2, activation="relu")(per_hour)
    forecast = layers.Flatten()(layers.Dense(1)(per_hour))
    return keras.Model(inputs={"history": history, "target_hours": target_hours}, outputs=forecast, name="lstm_calendar")


FORECASTERS: dict[str, Callable[..., keras.Model]] = {
    "dense": build_dense,
    "simple_rnn": build_simple_rnn,
    "lstm": build_lstm,
    "lstm_calendar": build_lstm_calendar,
}
