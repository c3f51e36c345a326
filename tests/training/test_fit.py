"""The shared fit loop: deterministic under a seed, early stopping restores the best epoch."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from neural_pipelines.training import TrainingSettings, fit_from_params, fit_model, mlflow_metric_history, seed_everything


def tiny_regression(seed: int) -> tuple[keras.Model, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None]
    seed_everything(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model, (x[:192], y[:192]), (x[192:], y[192:])


def test_same_seed_gives_identical_history_and_weights() -> None:
    runs = []
    for _ in range(2):
        model, train, validation = tiny_regression(seed=7)
        fit = fit_model(model, train, validation, max_epochs=3, batch_size=32, seed=7)
        runs.append((fit.history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for first, second in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(first, second)


def test_early_stopping_restores_the_best_epoch_weights() -> None:
    model, train, validation = tiny_regression(seed=1)
    # a learning rate this high makes validation loss bounce, so the last epoch is rarely the best
    model.compile(optimizer=keras.optimizers.SGD(0.3), loss="mse")
    fit = fit_model(model, train, validation, max_epochs=40, batch_size=32, patience=3, seed=1)
    best = min(fit.history["val_loss"])
    assert fit.history["val_loss"][fit.best_epoch - 1] == best
    assert fit.epochs_run == len(fit.history["loss"]) <= 40
    assert fit.best_epoch == fit.epochs_run - 3  # stopped after `patience` worse epochs
    assert fit.history["val_loss"][-1] > best  # ... so the final weights are not the best ones
    restored = model.evaluate(*validation, verbose=0)
    assert restored == pytest.approx(best, rel=1e-5)
    assert fit.train_seconds > 0


def test_metric_history_has_kedro_mlflow_format_and_steps() -> None:
    history = mlflow_metric_history(per_epoch={"loss": [0.3, 0.2]}, final={"test_mse": 0.1}, per_step={"test_mae_by_horizon": [5, 6, 7]})
    assert history == {
        "loss": [{"value": 0.3, "step": 1}, {"value": 0.2, "step": 2}],
        "test_mae_by_horizon": [{"value": 5.0, "step": 1}, {"value": 6.0, "step": 2}, {"value": 7.0, "step": 3}],
        "test_mse": [{"value": 0.1, "step": 0}],
    }


def test_fit_from_params_reads_the_training_block_and_counts_parameters() -> None:
    model, train, validation = tiny_regression(seed=2)
    training = TrainingSettings(max_epochs=30, batch_size=64, patience=2, min_delta=10.0)
    record = fit_from_params(model, train, validation, training, seed=2)
    # min_delta this large means no epoch counts as an improvement: stop after patience + 1
    assert record["epochs_run"] == 3 and record["best_epoch"] == 1
    assert record["n_params"] == 4 * 8 + 8 + 8 + 1
    assert len(record["history"]["loss"]) == 3 and record["train_seconds"] > 0
