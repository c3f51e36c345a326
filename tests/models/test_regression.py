"""Regressor builders for ``house_prices``: layer stacks and parameter counts computed by hand."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from neural_pipelines.models import build_architecture, compile_model
from neural_pipelines.models.regression import build_mlp, build_wide_deep

# mlp_course, 36 numeric features: Dense(64) 36*64+64 = 2,368; Dense(64) 64*64+64 = 4,160;
# Dense(1) 64+1 = 65 → 6,593.
# Wide & Deep of the course (Géron, California housing, 8 features, 30-30): 8*30+30 = 270;
# 30*30+30 = 930; Dense(1) on the concatenation of 8 inputs and 30 deep units: 38+1 = 39 → 1,239.
EXPECTED = {
    ("mlp", 36, (64, 64)): 6_593,
    ("mlp", 312, (128, 64)): 312 * 128 + 128 + 128 * 64 + 64 + 64 + 1,
    ("wide_deep", 8, (30, 30)): 1_239,
    ("wide_deep", 312, (64, 64)): 312 * 64 + 64 + 64 * 64 + 64 + (312 + 64) + 1,
}


@pytest.mark.parametrize(("architecture", "n_features", "hidden_units"), list(EXPECTED))
def test_parameter_counts_match_hand_computation(architecture: str, n_features: int, hidden_units: tuple[int, ...]) -> None:
    model = build_architecture({"architecture": architecture, "hidden_units": hidden_units}, (n_features,), 1)
    assert model.count_params() == EXPECTED[(architecture, n_features, hidden_units)]
    assert model.output_shape == (None, 1)
    assert model.name == architecture


def test_mlp_is_the_course_stack_ending_in_a_linear_dense_1() -> None:
    model = build_mlp((36,), hidden_units=(64, 64), dropout=0.2)
    kinds = [(type(layer).__name__, getattr(layer, "units", None)) for layer in model.layers]
    assert kinds == [("Dense", 64), ("Dropout", None), ("Dense", 64), ("Dropout", None), ("Dense", 1)]
    assert model.layers[-1].activation is keras.activations.linear
    assert build_mlp((36,), 1, hidden_units=(64, 64), dropout=0.2).count_params() == 6_593  # dropout adds no weights


def test_wide_deep_feeds_the_inputs_straight_to_the_output() -> None:
    model = build_wide_deep((8,), hidden_units=(30, 30))
    concatenate = model.get_layer("wide_and_deep")
    wide, deep = concatenate.input
    assert wide is model.input  # the wide path is the (already normalized) input itself
    assert deep.shape == (None, 30)
    assert model.get_layer("price").activation is keras.activations.linear
    # zeroing every deep weight leaves a linear model of the inputs: the wide path alone
    for layer in model.layers:
        if layer.name not in ("price", "wide_and_deep", "features"):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    kernel, bias = model.get_layer("price").get_weights()
    x = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], x @ kernel[:8, 0] + bias[0], rtol=1e-5, atol=1e-5)


def test_compiled_with_the_requested_loss_and_rmse_reported() -> None:
    course = compile_model(
        build_mlp((36,), hidden_units=(64, 64)), {"name": "adam", "learning_rate": 0.01}, {"loss": "mae", "metrics": ["rmse", "mae"]}
    )
    assert course.loss == "mae"
    assert float(course.optimizer.learning_rate) == pytest.approx(0.01)
    history = course.fit(np.zeros((4, 36), "float32"), np.ones(4, "float32"), epochs=1, verbose=0).history
    assert {"loss", "rmse", "mae"} <= set(history)


def test_unknown_loss_or_metric_names_the_parameter_block() -> None:
    with pytest.raises(ValueError, match=r"loss 'hubber'.*compile.*parameters_<pipeline>\.yml"):
        compile_model(build_mlp((3,)), {"name": "adam"}, {"loss": "hubber"})
    with pytest.raises(ValueError, match=r"metric 'r3'.*compile"):
        compile_model(build_mlp((3,)), {"name": "adam"}, {"loss": "mse", "metrics": ["r3"]})
