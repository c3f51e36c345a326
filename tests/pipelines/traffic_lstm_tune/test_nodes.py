"""``traffic_lstm_tune``'s nodes on tiny hand-made windows: trials never see a test window, and the same seed gives the same study."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from neural_pipelines.pipelines.traffic_lstm import nodes as traffic_nodes
from neural_pipelines.pipelines.traffic_lstm_tune import nodes
from neural_pipelines.tuning import TuningSettings

VARIANT = {
    "model": {"architecture": "dense", "units": 4},
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "compile": {"loss": "mse", "metrics": ["mae"]},
    "training": {"batch_size": 16, "max_epochs": 1, "patience": None, "min_delta": 0.0, "steps_per_execution": 4},
}
PREPROCESSING = traffic_nodes.TrafficPreprocessing(
    max_fill_gap_hours=2, test_fraction=0.2, validation_fraction=0.25, history_hours=6, horizon_hours=24, window_layout="recurrent"
)


def windows(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for split, n in (("train", 64), ("validation", 16), ("test", 16)):
        arrays[f"x_{split}"] = rng.random((n, 6, 1), dtype="float32")
        arrays[f"y_{split}"] = rng.random((n, 24), dtype="float32")
        arrays[f"target_start_{split}"] = np.arange(n)
    return arrays


def tuning(storage: Path) -> TuningSettings:
    return TuningSettings.model_validate(
        {
            "study_name": "tiny",
            "n_trials": 2,
            "seed": 3,
            "storage": str(storage),
            "sampler_startup_trials": 2,
            "pruner": {"enabled": False},
            "search_space": {
                "model.units": {"type": "int", "low": 2, "high": 8},
                "optimizer.learning_rate": {"type": "float", "low": 1.0e-3, "high": 1.0e-1, "log": True},
            },
        }
    )


def test_validation_windows_leave_out_every_test_array_and_tuning_refuses_them() -> None:
    kept = nodes.validation_windows(windows())
    assert sorted(kept) == ["target_start_train", "target_start_validation", "x_train", "x_validation", "y_train", "y_validation"]
    with pytest.raises(ValueError, match="Tuning got target_start_test, x_test, y_test"):
        nodes.tune_variant(windows(), None, PREPROCESSING, VARIANT, 42, tuning(Path("unused.db")), "dense")


def test_same_seed_same_trials_and_scores_whatever_the_test_windows_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("tuning_tests")  # not the experiment an earlier test's kedro run left active in another store
    original = windows()
    perturbed = {**original, "x_test": original["x_test"] * 100, "y_test": -original["y_test"]}
    studies = []
    for name, arrays in (("a", original), ("b", perturbed)):
        study, trials, best_file = nodes.tune_variant(
            nodes.validation_windows(arrays), None, PREPROCESSING, VARIANT, 42, tuning(tmp_path / f"{name}.db"), "dense"
        )
        studies.append(study)
    first, second = studies
    assert [trial.params for trial in first.trials] == [trial.params for trial in second.trials]
    assert [trial.value for trial in first.trials] == [trial.value for trial in second.trials]
    assert first.best_trial.number == second.best_trial.number
    assert len({trial.value for trial in first.trials}) == 2  # two different trials, each scored
    assert list(trials["state"]) == ["COMPLETE", "COMPLETE"] and "traffic_lstm:\n  dense:\n    model:\n      units:" in best_file


def test_a_calendar_aware_trial_reads_its_own_features_on_the_same_windows_without_test_ones() -> None:
    hours = pd.DataFrame(
        {"datetime": pd.date_range("2024-01-01", periods=480, freq="h"), "traffic_volume": np.arange(480.0), "imputed": False}
    )
    preprocessing = PREPROCESSING.model_copy(update={"context_hours": 48})
    scaled, _ = traffic_nodes.split_and_scale(hours, preprocessing)
    kept = nodes.validation_windows(traffic_nodes.make_windows(scaled, preprocessing))
    data_for = nodes.trial_data(kept, scaled, preprocessing)
    features = {"history_hours": 24, "calendar": ["hour_of_day"], "target_hour_lags": [24]}
    for history in (24, 48):  # a searched features.history_hours changes what the network reads
        data, shapes = data_for({**VARIANT, "features": {**features, "history_hours": history}})
        assert shapes == {"input_shape": {"history": [history, 1], "target_hours": [24, 3]}, "outputs": 24}
        assert sorted(data) == ["target_start_train", "target_start_validation", "x_train", "x_validation", "y_train", "y_validation"]
        np.testing.assert_array_equal(data["y_validation"], kept["y_validation"])
    assert data_for(VARIANT) == (kept, {"input_shape": [6, 1], "outputs": 24})
