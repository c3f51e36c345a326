"""Forecaster builders: the course's layer stacks, parameter counts computed by hand."""

from __future__ import annotations

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
