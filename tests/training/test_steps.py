"""The steps every variant shares: shapes from the data, seeded build, train on arrays or tf.data, one record schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from neural_pipelines.training import TrainingSettings, steps

DENSE = {"architecture": "dense", "units": 4}
ADAM = {"name": "adam", "learning_rate": 0.01}
MSE = {"loss": "mse", "metrics": ["mae"]}
TRAINING = TrainingSettings(batch_size=4, max_epochs=2)


def arrays(n: int = 12) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    x, y = rng.random((n, 6, 1), dtype=np.float32), rng.random((n, 3), dtype=np.float32)
    return {"x_train": x, "y_train": y, "x_validation": x[:4], "y_validation": y[:4]}


def test_shapes_come_from_the_training_arrays() -> None:
    assert steps.array_shapes(arrays()) == {"input_shape": [6, 1], "outputs": 3}
    assert steps.array_shapes({"x_train": np.zeros((5, 7)), "y_train": np.zeros(5)}) == {"input_shape": [7], "outputs": 1}
    two_classes, three_classes = pd.DataFrame({"label": [0, 1, 1]}), pd.DataFrame({"label": [0, 1, 2]})
    assert steps.rgb_image_shapes(two_classes, [64, 48]) == {"input_shape": [64, 48, 3], "outputs": 1}  # one sigmoid
    assert steps.rgb_image_shapes(three_classes, [64, 48])["outputs"] == 3  # softmax


def test_a_model_with_named_inputs_and_data_too_small_to_hold_any_out() -> None:
    named = {"x_train": {"wide": np.zeros((5, 2)), "deep": np.zeros((5, 3))}, "y_train": np.zeros(5)}
    assert steps.array_shapes(named) == {"input_shape": {"wide": [2], "deep": [3]}, "outputs": 1}
    six_points = {"x_train": np.arange(6.0).reshape(-1, 1), "y_train": 2 * np.arange(6.0) - 1}  # no x_validation
    neuron = steps.build_model({"architecture": "single_neuron"}, ADAM, {"loss": "mse"}, TRAINING, steps.array_shapes(six_points), seed=0)
    _, record = steps.train_model(neuron, six_points, TRAINING, seed=0)
    assert set(record["history"]) == {"loss"} and record["epochs_run"] == 2  # no validation curve, every epoch run


def test_build_is_seeded_and_compiled_from_the_parameter_blocks() -> None:
    shapes = steps.array_shapes(arrays())
    first, second = (
        steps.build_model(DENSE, ADAM, MSE, TRAINING.model_copy(update={"steps_per_execution": 2}), shapes, seed=7) for _ in range(2)
    )
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other = steps.build_model(DENSE, ADAM, MSE, TRAINING, shapes, seed=8)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])
    assert first.output_shape == (None, 3) and first.loss == "mse"
    assert float(first.optimizer.learning_rate) == pytest.approx(0.01)
    assert first.steps_per_execution == 2


def test_training_on_arrays_and_on_tf_data_gives_the_same_record_schema() -> None:
    data = arrays()
    shapes = steps.array_shapes(data)
    model, record = steps.train_model(steps.build_model(DENSE, ADAM, MSE, TRAINING, shapes, seed=0), data, TRAINING, seed=0)
    assert set(record["history"]) == {"loss", "mae", "val_loss", "val_mae"}
    assert record["epochs_run"] == record["best_epoch"] == 2
    assert record["n_params"] == record["n_trainable_params"] == model.count_params() == 6 * 4 + 4 + 4 * 3 + 3
    batches = {
        "train": tf.data.Dataset.from_tensor_slices((data["x_train"], data["y_train"])).batch(4),
        "validation": tf.data.Dataset.from_tensor_slices((data["x_validation"], data["y_validation"])).batch(4),
    }
    _, from_batches = steps.train_model(steps.build_model(DENSE, ADAM, MSE, TRAINING, shapes, seed=0), batches, TRAINING, seed=0)
    assert set(from_batches) == set(record)
    with pytest.raises(TypeError, match=r"tf\.data pipelines or x_/y_ arrays"):
        steps.train_model(model, {"train": data["x_train"], "validation": None}, TRAINING, seed=0)


def test_results_are_recorded_with_epoch_and_horizon_steps_in_one_summary_schema() -> None:
    evaluation = {"metrics": {"test_mse": 0.01, "test_mae": 300.0}, "by_step": {"test_mae_by_horizon": [1.0, 2.0]}, "n_test_windows": 5}
    fit = {
        "history": {"loss": [0.5, 0.3], "val_loss": [0.6, 0.4]},
        "train_seconds": 3.5,
        "epochs_run": 2,
        "best_epoch": 1,
        "n_params": 520,
        "n_trainable_params": 500,
        "metrics": {"feature_seconds": 1.5},
        "cut_layer": None,
    }
    metrics, summary = steps.record_results(evaluation, fit)
    assert metrics["val_loss"] == [{"value": 0.6, "step": 1}, {"value": 0.4, "step": 2}]
    assert metrics["test_mae_by_horizon"][1] == {"value": 2.0, "step": 2}
    assert metrics["test_mse"] == [{"value": 0.01, "step": 0}]
    assert {name: metrics[name][0]["value"] for name in ("train_seconds", "epochs_run", "best_epoch", "feature_seconds")} == {
        "train_seconds": 3.5,
        "epochs_run": 2,
        "best_epoch": 1,
        "feature_seconds": 1.5,
    }
    assert {key: summary[key] for key in steps.SUMMARY_KEYS} == {
        "n_params": 520,
        "n_trainable_params": 500,
        "epochs_run": 2,
        "best_epoch": 1,
        "train_seconds": 3.5,
    }
    assert summary["test_mae"] == 300.0 and summary["test_mae_by_horizon"] == [1.0, 2.0] and summary["feature_seconds"] == 1.5
    assert summary["n_test_windows"] == 5 and summary["cut_layer"] is None and summary["history"] == fit["history"]
    assert "metrics" not in summary and "by_step" not in summary

    baseline_metrics, baseline_summary = steps.record_results(evaluation)
    assert set(baseline_metrics) == {"test_mse", "test_mae", "test_mae_by_horizon"}  # nothing trained: no fit metrics
    assert {key: baseline_summary[key] for key in steps.SUMMARY_KEYS} == dict.fromkeys(steps.SUMMARY_KEYS, 0) | {"train_seconds": 0.0}


def test_a_compile_setting_nothing_reads_stops_the_build_naming_the_block() -> None:
    # (unknown or out-of-range training settings: tests/reliability/test_parameters.py)
    with pytest.raises(ValueError, match=r"compile\.optimizer is not a compile setting"):
        steps.build_model(DENSE, ADAM, {**MSE, "optimizer": "sgd"}, TRAINING, steps.array_shapes(arrays()), seed=0)
