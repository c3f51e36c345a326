"""Regression report helpers: permutation importance values and the figures' content."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neural_pipelines.reporting.regression import horizontal_bars, permutation_importance, predicted_vs_actual, residuals_vs_predicted


def test_permutation_importance_ranks_the_column_the_model_uses() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"noise": rng.normal(size=200), "size": rng.normal(size=200), "label": rng.choice(["a", "b"], 200)})
    target = 3 * frame["size"].to_numpy()
    calls = []

    def predict(rows: pd.DataFrame) -> np.ndarray:
        calls.append(len(rows))
        return 3 * rows["size"].to_numpy()

    importance = permutation_importance(predict, frame, target, n_repeats=4, seed=1)
    assert importance["feature"].tolist()[0] == "size"
    by_feature = importance.set_index("feature")
    assert by_feature.loc["noise", "importance_mean"] == 0 and by_feature.loc["label", "importance_std"] == 0
    # shuffling `size` costs, on average, 3 * E|x - x'| for two standard normals ≈ 3 * 2/sqrt(pi) ≈ 3.39
    assert by_feature.loc["size", "importance_mean"] == pytest.approx(3 * 2 / np.sqrt(np.pi), rel=0.15)
    assert calls == [200] + [600] * 4  # the baseline, then one stacked call per repeat
    again = permutation_importance(predict, frame, target, n_repeats=4, seed=1)
    pd.testing.assert_frame_equal(importance, again)


def test_figures_show_the_values_given() -> None:
    actual, predicted = np.array([100.0, 200.0, 300.0]), np.array([110.0, 190.0, 330.0])
    scatter = predicted_vs_actual(actual, predicted, title="t")
    np.testing.assert_array_equal(scatter.axes[0].collections[0].get_offsets(), np.c_[actual, predicted])
    residuals = residuals_vs_predicted(actual, predicted, title="t")
    np.testing.assert_array_equal(residuals.axes[0].collections[0].get_offsets(), np.c_[predicted, actual - predicted])
    bars = horizontal_bars(pd.Series({"first": 5.0, "second": 2.0}), title="t", xlabel="x")
    widths = [patch.get_width() for patch in bars.axes[0].patches]
    assert widths == [5.0, 2.0]
    axis = bars.axes[0]
    labels = dict(zip(axis.get_yticks(), [label.get_text() for label in axis.get_yticklabels()], strict=True))
    assert labels == {1: "first", 0: "second"}  # the largest on top
