"""``training.distribution``: its settings and what they refuse (the training itself: tests/integration/test_distribution.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from neural_pipelines.training.distribute import built_under
from neural_pipelines.training.fit import TrainingSettings


def test_none_is_the_default_and_its_global_batch_is_the_batch_size() -> None:
    training = TrainingSettings(batch_size=48, max_epochs=1)
    assert training.distribution == "none"
    assert training.global_batch_size == 48


def test_a_strategy_with_several_steps_per_call_is_refused_naming_both_settings() -> None:
    with pytest.raises(ValidationError, match=r"steps_per_execution=32 does not run under distribution=mirrored.*steps_per_execution: 1"):
        TrainingSettings(batch_size=32, max_epochs=1, distribution="mirrored", steps_per_execution=32)
    assert TrainingSettings(batch_size=32, max_epochs=1, distribution="multi_worker").steps_per_execution == 1


def test_an_unknown_distribution_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(ValidationError, match="'none', 'mirrored' or 'multi_worker'"):
        TrainingSettings(batch_size=32, max_epochs=1, distribution="tpu")


def test_a_model_with_plain_variables_is_not_built_under_a_strategy() -> None:
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    assert built_under(model, "none")
    assert not built_under(model, "mirrored")
