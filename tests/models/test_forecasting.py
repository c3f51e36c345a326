"""Forecaster builders: the course's layer stacks, parameter counts computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from neural_pipelines.models import build_architecture, compile_model

# dense: Dense(16) on 6 inputs = 6*16+16 = 112, Dense(24) = 16*24+24 = 408
# simple_rnn, 1 feature: 16*1 + 16*16 + 16 = 288 (+408); 6 features: 16*6+16*16+16 = 368 (+408)
# lstm = 4 x the SimpleRNN cell: 1 feature 4*288 = 1152 (+408); 6 features 4*368 = 1472 (+408)
EXPECTED = {
    ("dense", (6, 1)): 520,
    ("simple_rnn", (6, 1)): 696,
    ("lstm", (6, 1)): 1560,
    ("dense", (1, 6)): 520,
    ("simple_rnn", (1, 6)): 776,
    ("lstm", (1, 6)): 1880,
}


@pytest.mark.parametrize(("architecture", "input_shape"), list(EXPECTED))
def test_parameter_counts_match_hand_computation(architecture: str, input_shape: tuple[int, int]) -> None:
    model = build_architecture({"architecture": architecture, "units": 16}, input_shape, 24)
    assert model.count_params() == EXPECTED[(architecture, input_shape)]
    assert model.output_shape == (None, 24)
    assert model.name == architecture
    compile_model(model, {"name": "adam", "learning_rate": 1e-3}, {"loss": "mse", "metrics": ["mae"]})
    assert model.loss == "mse"


def test_unknown_architecture_names_the_parameter_file_and_choices() -> None:
    with pytest.raises(ValueError, match=r"'gru'.*parameters_<pipeline>\.yml.*'dense',.*'dnn'.*'lstm'"):  # sorted, other names between
        build_architecture({"architecture": "gru", "units": 16}, (6, 1), 24)


# lstm_calendar, history (168, 1) folded into 7 days x 24 hours, 6 features per target hour:
# LSTM(32) on 24 inputs 4*(32*24 + 32*32 + 32) = 7296; Dense(64) on 32 + 6 = 38*64+64 = 2496;
# Dense(32) 64*32+32 = 2080; Dense(1) 33 → 11,905
CALENDAR_SHAPES = {"history": (168, 1), "target_hours": (24, 6)}


def test_lstm_calendar_counts_and_shares_its_head_across_target_hours() -> None:
    model = build_architecture({"architecture": "lstm_calendar", "units": 32, "hidden_units": 64}, CALENDAR_SHAPES, 24)
    assert model.count_params() == 11_905
    assert model.output_shape == (None, 24)
    history = np.random.default_rng(0).random((2, 168, 1), dtype="float32")
    same_hours = np.tile(np.linspace(0, 1, 6, dtype="float32"), (2, 24, 1))  # every target hour looks alike
    forecast = model.predict({"history": history, "target_hours": same_hours}, verbose=0)
    np.testing.assert_allclose(forecast, forecast[:, :1].repeat(24, axis=1), rtol=1e-6)
    assert not np.allclose(forecast[0], forecast[1])  # but the history matters


def test_lstm_calendar_needs_whole_days_of_history() -> None:
    with pytest.raises(ValueError, match=r"history_hours \(30\) must be a multiple of 24"):
        build_architecture({"architecture": "lstm_calendar"}, {"history": (30, 1), "target_hours": (24, 4)}, 24)
