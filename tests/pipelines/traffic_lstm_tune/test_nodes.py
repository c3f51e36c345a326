"""``traffic_lstm_tune``'s nodes on tiny hand-made windows: trials never see a test window, and the same seed gives the same study."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest

from neural_pipelines.pipelines.traffic_lstm_tune import nodes
from neural_pipelines.tuning import TuningSettings

VARIANT = {
    "model": {"architecture": "dense", "units": 4},
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "compile": {"loss": "mse", "metrics": ["mae"]},
    "training": {"batch_size": 16, "max_epochs": 1, "patience": None, "min_delta": 0.0, "steps_per_execution": 4},
}
SHAPES = {"input_shape": [6, 1], "outputs": 24}


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
        nodes.tune_variant(windows(), SHAPES, VARIANT, 42, tuning(Path("unused.db")), "dense")


def test_same_seed_same_trials_and_scores_whatever_the_test_windows_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("tuning_tests")  # not the experiment an earlier test's kedro run left active in another store
    original = windows()
    perturbed = {**original, "x_test": original["x_test"] * 100, "y_test": -original["y_test"]}
    studies = []
    for name, arrays in (("a", original), ("b", perturbed)):
        study, trials, best_file = nodes.tune_variant(
            nodes.validation_windows(arrays), SHAPES, VARIANT, 42, tuning(tmp_path / f"{name}.db"), "dense"
        )
        studies.append(study)
    first, second = studies
    assert [trial.params for trial in first.trials] == [trial.params for trial in second.trials]
    assert [trial.value for trial in first.trials] == [trial.value for trial in second.trials]
    assert first.best_trial.number == second.best_trial.number
    assert len({trial.value for trial in first.trials}) == 2  # two different trials, each scored
    assert list(trials["state"]) == ["COMPLETE", "COMPLETE"] and "traffic_lstm:\n  dense:\n    model:\n      units:" in best_file
