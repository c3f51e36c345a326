"""The course's first networks: parameter counts of its model summaries, and where each input goes."""

from __future__ import annotations

import keras
import pytest
from pydantic import ValidationError

from neural_pipelines.models import ModelSettings, build_architecture
from neural_pipelines.models.fundamentals import build_wide_deep_two_inputs

CALIFORNIA = (8,)
TWO_INPUTS = {"wide": (5,), "deep": (6,)}  # the course's columns 0–4 and 2–7


@pytest.mark.parametrize(
    ("model", "input_shape", "total", "not_trainable"),
    [
        # the course's summaries: Normalization (2 × 8 + 1 count = 17, not trained) → Dense 50 ×3 → 1
        ({"architecture": "normalized_mlp", "hidden_units": [50, 50, 50]}, CALIFORNIA, 5_618, 17),
        # Normalization 17; Dense 30: 270; Dense 30: 930; Dense(1) on 8 + 30: 39
        ({"architecture": "normalized_wide_deep", "hidden_units": [30, 30]}, CALIFORNIA, 1_256, 17),
        # Normalization 11 (wide) + 13 (deep); Dense 30: 6*30+30 = 210; 930; Dense(1) on 5 + 30: 36
        ({"architecture": "wide_deep_two_inputs", "hidden_units": [30, 30]}, TWO_INPUTS, 1_200, 24),
        ({"architecture": "single_neuron"}, (1,), 2, 0),  # y = w·x + b
    ],
)
def test_parameter_counts_are_the_courses(model: dict, input_shape: object, total: int, not_trainable: int) -> None:
    network = build_architecture(model, input_shape, 1)
    assert network.count_params() == total
    assert network.count_params() - sum(int(weight.numpy().size) for weight in network.trainable_weights) == not_trainable
    assert network.output_shape == (None, 1)


def test_two_inputs_the_wide_one_skips_the_hidden_layers() -> None:
    model = build_wide_deep_two_inputs(TWO_INPUTS, hidden_units=(30, 30))
    concatenated = model.get_layer("wide_and_deep")
    sources = [tensor._keras_history.operation.name for tensor in concatenated.input]
    assert sources == ["wide_normalization", model.layers[-3].name]  # normalized wide inputs beside the last hidden layer
    assert model.get_layer("wide_normalization").input.shape == (None, 5)
    assert model.get_layer("deep_normalization").input.shape == (None, 6)
    assert isinstance(model.layers[-3], keras.layers.Dense) and model.layers[-3].units == 30
    with pytest.raises(ValueError, match="inputs named 'wide' and 'deep'"):
        build_wide_deep_two_inputs({"left": (5,), "right": (6,)})


def test_model_settings_check_the_new_builders_sizes() -> None:
    ModelSettings(architecture="normalized_mlp", hidden_units=[50, 50, 50])
    with pytest.raises(ValidationError, match="hidden_units"):
        ModelSettings(architecture="normalized_wide_deep", hidden_units=[30, 0])
    with pytest.raises(ValidationError, match="units"):
        ModelSettings(architecture="single_neuron", units=3)  # one neuron takes no sizes
