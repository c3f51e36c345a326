"""Node-level tests of ``traffic_lstm`` on tiny hand-made series: values, not just shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler

from neural_pipelines.pipelines.traffic_lstm import nodes
from neural_pipelines.training import TrainingSettings, steps
from neural_pipelines.validation import DataValidationError

INGEST = nodes.TrafficIngest(timestamp_column="datetime", volume_column="traffic_volume", min_hours=4)
PREPROCESSING = nodes.TrafficPreprocessing(
    max_fill_gap_hours=2, test_fraction=0.2, validation_fraction=0.25, history_hours=6, horizon_hours=24, window_layout="recurrent"
)


def hourly_frame(volumes: list[float | None], start: str = "2024-01-01") -> pd.DataFrame:
    frame = pd.DataFrame({"datetime": pd.date_range(start, periods=len(volumes), freq="h").astype(str), "traffic_volume": volumes})
    frame.attrs["source"] = "data/01_raw/my_traffic.csv"
    return frame


# --- ingest -------------------------------------------------------------------------


def test_ingest_sorts_and_keeps_timestamp_and_volume() -> None:
    raw = hourly_frame([10, 20, 30, 40]).iloc[[2, 0, 3, 1]].assign(weather_main="Clear")
    raw.attrs["source"] = "x.csv"
    traffic = nodes.ingest_traffic(raw, INGEST)
    assert list(traffic.columns) == ["datetime", "traffic_volume"]
    assert traffic["traffic_volume"].tolist() == [10, 20, 30, 40]
    assert traffic["datetime"].is_monotonic_increasing


def test_ingest_keeps_empty_volumes_for_the_gap_policy() -> None:
    traffic = nodes.ingest_traffic(hourly_frame([10, None, 30, 40]), INGEST)
    assert traffic["traffic_volume"].isna().tolist() == [False, True, False, False]


def test_ingest_accepts_other_column_names_from_parameters() -> None:
    raw = hourly_frame([1, 2, 3, 4]).rename(columns={"datetime": "date_time", "traffic_volume": "flow"})
    traffic = nodes.ingest_traffic(raw, INGEST.model_copy(update={"timestamp_column": "date_time", "volume_column": "flow"}))
    assert traffic["traffic_volume"].tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        (hourly_frame([1, 2, 3, 4]).drop(columns="traffic_volume"), "traffic_volume", "missing"),
        (hourly_frame([1, "lots", 3, 4]), "traffic_volume", "non-numeric volumes on CSV lines 3 (values 'lots')"),
        (hourly_frame([1, -5, 3, 4]), "traffic_volume", "negative volumes"),
        (hourly_frame([1, 2, "inf", 4]), "traffic_volume", "infinite volumes on CSV lines 4 (values 'inf')"),
        (
            hourly_frame([1, 2, 3, 4]).assign(datetime=["2024-01-01 00:00"] * 2 + ["2024-01-01 01:00", "2024-01-01 02:00"]),
            "datetime",
            "duplicate timestamps on CSV lines 2, 3",
        ),
        (
            hourly_frame([1, 2, 3, 4]).assign(datetime=pd.date_range("2024-01-01", periods=4, freq="30min").astype(str)),
            "datetime",
            "not on the hour",
        ),
        (
            hourly_frame([1, 2, 3, 4]).assign(datetime=pd.date_range("2024-01-01", periods=4, freq="2h").astype(str)),
            "datetime",
            "apart, not one hour",
        ),
        (
            hourly_frame([1, 2, 3, 4]).assign(datetime=["2024-01-01 00:00", "not a date", "2024-01-01 02:00", "2024-01-01 03:00"]),
            "datetime",
            "cannot be parsed",
        ),
        (hourly_frame([1, 2, 3]), "traffic_volume", "only 3 hourly rows"),
    ],
    ids=[
        "no-volume-column",
        "text-volume",
        "negative",
        "infinite",
        "duplicates",
        "half-hourly",
        "two-hourly",
        "bad-timestamp",
        "too-short",
    ],
)
def test_ingest_rejects_bad_input_naming_file_field_and_fix(raw: pd.DataFrame, field: str, problem: str) -> None:
    raw.attrs["source"] = "data/01_raw/my_traffic.csv"
    with pytest.raises(DataValidationError) as error:
        nodes.ingest_traffic(raw, INGEST)
    message = str(error.value)
    assert message.startswith(f"data/01_raw/my_traffic.csv: column '{field}': ")
    assert problem in message
    assert "Fix: " in message and error.value.fix


# --- gap policy ---------------------------------------------------------------------


def test_short_gaps_are_interpolated_and_flagged_long_gaps_stay_missing() -> None:
    traffic = nodes.ingest_traffic(hourly_frame([0, None, 20, 30, None, None, None, 70, 80]), INGEST)
    hourly = nodes.regularize_hourly(traffic, PREPROCESSING)  # max gap 2 hours
    assert hourly["traffic_volume"].iloc[1] == pytest.approx(10.0)
    assert hourly["traffic_volume"].iloc[4:7].isna().all()  # a 3-hour gap is not invented
    assert hourly["imputed"].tolist() == [False, True, False, False, False, False, False, False, False]


def test_absent_hours_are_reinserted_on_a_regular_index() -> None:
    raw = hourly_frame([0, 10, 20, 30, 40, 50, 60, 70]).drop(index=[2, 3])  # no rows for 02:00, 03:00
    hourly = nodes.regularize_hourly(nodes.ingest_traffic(raw, INGEST), PREPROCESSING)
    assert len(hourly) == 8
    assert hourly["datetime"].diff().dropna().eq(pd.Timedelta(hours=1)).all()
    assert hourly["traffic_volume"].tolist() == pytest.approx([0, 10, 20, 30, 40, 50, 60, 70])
    assert hourly["imputed"].sum() == 2


# --- split and scale ----------------------------------------------------------------


def hourly_series(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"datetime": pd.date_range("2024-01-01", periods=len(values), freq="h"), "traffic_volume": values.astype(float), "imputed": False}
    )


def test_scaler_is_fitted_on_training_rows_only() -> None:
    values = np.arange(100, dtype=float)
    values[90] = 10_000  # a spike in the test part must not move the scale
    values[70] = -1  # nor a dip in the validation part
    scaled, scaler = nodes.split_and_scale(hourly_series(values), PREPROCESSING)
    # 100 hours: test = last 20, validation = last 25% of the first 80 (hours 60-79)
    assert scaled["split"].value_counts().to_dict() == {"train": 60, "validation": 20, "test": 20}
    assert (scaler.data_min_[0], scaler.data_max_[0]) == (0, 59)
    assert scaled["scaled"].iloc[59] == pytest.approx(1.0)
    assert scaled["scaled"].iloc[90] == pytest.approx(10_000 / 59)
    assert scaled["scaled"].dtype == np.float32


# --- windows ------------------------------------------------------------------------


@pytest.fixture
def scaled_series() -> pd.DataFrame:
    values = np.arange(200, dtype=float)
    scaled, _ = nodes.split_and_scale(hourly_series(values), PREPROCESSING)
    return scaled


def test_window_targets_are_the_next_24_hours(scaled_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(scaled_series, PREPROCESSING)
    series = scaled_series["scaled"].to_numpy()
    for split in ("train", "validation", "test"):
        x, y, start = windows[f"x_{split}"], windows[f"y_{split}"], windows[f"target_start_{split}"]
        assert x.shape[1:] == (6, 1)
        for i in (0, len(y) - 1):
            t = start[i]
            np.testing.assert_array_equal(x[i, :, 0], series[t - 6 : t])
            np.testing.assert_array_equal(y[i], series[t : t + 24])
    # the very first training window: inputs hours 0-5, target hours 6-29
    np.testing.assert_array_equal(windows["y_train"][0], series[6:30])


def test_windows_never_straddle_splits(scaled_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(scaled_series, PREPROCESSING)
    split = scaled_series["split"].astype(str).to_numpy()
    for name in ("train", "validation", "test"):
        for t in windows[f"target_start_{name}"]:
            assert set(split[t : t + 24]) == {name}
    # 200 hours: train 0-119, validation 120-159, test 160-199
    assert len(windows["y_train"]) == 120 - 6 - 24 + 1
    assert windows["target_start_test"][0] == 160
    assert len(windows["y_test"]) == 40 - 24 + 1


def test_windows_touching_a_missing_hour_are_dropped(scaled_series: pd.DataFrame) -> None:
    scaled_series.loc[50, "scaled"] = np.nan
    windows = nodes.make_windows(scaled_series, PREPROCESSING)
    starts = windows["target_start_train"]
    # hour 50 is an input for targets starting 51..56 and a target for starts 27..50
    assert not np.isin(np.arange(27, 57), starts).any()
    assert np.isin([26, 57], starts).all()


def test_course_layout_is_one_step_of_six_features(scaled_series: pd.DataFrame) -> None:
    recurrent = nodes.make_windows(scaled_series, PREPROCESSING)
    course = nodes.make_windows(scaled_series, PREPROCESSING.model_copy(update={"window_layout": "course"}))
    assert course["x_train"].shape[1:] == (1, 6)
    np.testing.assert_array_equal(course["x_train"][:, 0, :], recurrent["x_train"][:, :, 0])


def test_a_series_too_short_for_test_windows_is_refused() -> None:
    preprocessing = PREPROCESSING.model_copy(update={"test_fraction": 0.1})  # 200 hours: a 20-hour test part
    scaled, _ = nodes.split_and_scale(hourly_series(np.arange(200, dtype=float)), preprocessing)
    with pytest.raises(DataValidationError, match="no complete 6\\+24-hour window falls in the test split"):
        nodes.make_windows(scaled, preprocessing)


# --- baselines ----------------------------------------------------------------------


def test_baselines_match_hand_computation(scaled_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(scaled_series, PREPROCESSING)
    series = scaled_series["scaled"].to_numpy()
    t = windows["target_start_test"][0]  # 160
    persistence = nodes.forecast_baseline(scaled_series, windows, {"method": "persistence"}, PREPROCESSING)
    np.testing.assert_array_equal(persistence[0], np.full(24, series[159]))
    daily = nodes.forecast_baseline(scaled_series, windows, {"method": "seasonal_naive", "season_hours": 24}, PREPROCESSING)
    np.testing.assert_array_equal(daily[0], series[t - 24 : t])
    np.testing.assert_array_equal(daily[3], series[t + 3 - 24 : t + 3])
    assert persistence.shape == daily.shape == windows["y_test"].shape


def test_seasonal_baseline_refuses_a_season_shorter_than_the_horizon(scaled_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(scaled_series, PREPROCESSING)
    with pytest.raises(ValueError, match="would use future values"):
        nodes.forecast_baseline(scaled_series, windows, {"method": "seasonal_naive", "season_hours": 12}, PREPROCESSING)


def test_seasonal_baseline_needs_a_week_of_history(scaled_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(scaled_series, PREPROCESSING)  # first test target at hour 160 < 168
    with pytest.raises(DataValidationError, match="needs 168 hours of history"):
        nodes.forecast_baseline(scaled_series, windows, {"method": "seasonal_naive", "season_hours": 168}, PREPROCESSING)


# --- evaluate -----------------------------------------------------------------------


def test_metrics_are_scaled_mse_and_vehicle_mae_rmse() -> None:
    scaler = MinMaxScaler().fit(np.array([[0.0], [1000.0]]))  # 1 scaled unit = 1000 vehicles
    y_test = np.zeros((2, 24), dtype="float32")
    predictions = np.zeros((2, 24), dtype="float32")
    predictions[0, 0] = 0.2  # one error of 200 vehicles at horizon 1
    predictions[1, :] = 0.1  # 100 vehicles at every horizon of window 2
    evaluation = nodes.evaluate_forecast(predictions, {"y_test": y_test}, scaler)
    squared = (0.2**2 + 24 * 0.1**2) / 48
    assert evaluation["metrics"]["test_mse"] == pytest.approx(squared)
    assert evaluation["metrics"]["test_rmse"] == pytest.approx(np.sqrt(squared) * 1000, rel=1e-6)
    assert evaluation["metrics"]["test_mae"] == pytest.approx((200 + 24 * 100) / 48, rel=1e-6)
    by_horizon = evaluation["by_step"]["test_mae_by_horizon"]
    assert by_horizon[0] == pytest.approx(150, rel=1e-6)
    assert by_horizon[1:] == pytest.approx([50] * 23, rel=1e-6)
    assert evaluation["n_test_windows"] == 2


def test_repeated_hours_can_be_collapsed_for_the_uci_file() -> None:
    raw = hourly_frame([1, 2, 3, 4, 5])
    raw.loc[5] = [raw.loc[1, "datetime"], 2]  # 01:00 listed twice (a second weather row)
    with pytest.raises(DataValidationError, match="duplicate timestamps"):
        nodes.ingest_traffic(raw, INGEST)
    traffic = nodes.ingest_traffic(raw, INGEST.model_copy(update={"duplicate_timestamps": "keep_first"}))
    assert traffic["traffic_volume"].tolist() == [1, 2, 3, 4, 5]


# --- Keras variant nodes ------------------------------------------------------------

TRAINING = TrainingSettings(batch_size=8, max_epochs=2, steps_per_execution=4)
OPTIMIZER = {"name": "adam", "learning_rate": 0.01}
COMPILE = {"loss": "mse", "metrics": ["mae"]}


def build(architecture: dict, windows: dict[str, np.ndarray], seed: int = 0):
    """The forecaster as the pipeline's shared build step makes it for these windows."""
    return steps.build_model(architecture, OPTIMIZER, COMPILE, TRAINING, steps.array_shapes(windows), seed)


def test_build_model_follows_the_window_layout_and_the_seed(scaled_series: pd.DataFrame) -> None:
    lstm = {"architecture": "lstm", "units": 16}
    recurrent_windows = nodes.make_windows(scaled_series, PREPROCESSING)
    course_windows = nodes.make_windows(scaled_series, PREPROCESSING.model_copy(update={"window_layout": "course"}))
    assert steps.array_shapes(recurrent_windows) == {"input_shape": [6, 1], "outputs": 24}
    recurrent, course = build(lstm, recurrent_windows, seed=3), build(lstm, course_windows, seed=3)
    assert recurrent.input_shape == (None, 6, 1) and recurrent.count_params() == 1560
    assert course.input_shape == (None, 1, 6) and course.count_params() == 1880
    assert recurrent.loss == "mse" and float(recurrent.optimizer.learning_rate) == pytest.approx(0.01)
    again = build(lstm, recurrent_windows, seed=3)
    for first, second in zip(recurrent.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(first, second)


def test_window_shapes_are_checked_against_the_preprocessing(scaled_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(scaled_series, PREPROCESSING)
    assert nodes.window_shapes(windows, PREPROCESSING) == {"input_shape": [6, 1], "outputs": 24}
    with pytest.raises(ValueError, match=r"inputs \(6, 1\).*says \(1, 6\).*Run make_windows again"):
        nodes.window_shapes(windows, PREPROCESSING.model_copy(update={"window_layout": "course"}))
    with pytest.raises(ValueError, match=r"24 targets.*and 12"):
        nodes.window_shapes(windows, PREPROCESSING.model_copy(update={"horizon_hours": 12}))


def test_train_then_predict_on_the_test_windows(scaled_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(scaled_series, PREPROCESSING)
    model = build({"architecture": "dense", "units": 4}, windows)
    trained, fit = steps.train_model(model, windows, TRAINING, seed=0)
    assert fit["epochs_run"] == 2 and fit["n_params"] == trained.count_params()
    assert len(fit["history"]["val_loss"]) == 2
    predictions = nodes.predict_windows(trained, windows)
    assert predictions.dtype == np.float32
    np.testing.assert_allclose(predictions, trained.predict(windows["x_test"], verbose=0), rtol=1e-6)


# --- report -------------------------------------------------------------------------


def summary(test_mse: float, epochs: int) -> dict:
    history = {"loss": [0.5, 0.4], "val_loss": [0.6, 0.5]} if epochs else {}
    return {
        "test_mse": test_mse,
        "test_mae": test_mse * 1000,
        "test_rmse": test_mse * 1200,
        "n_params": 10 * epochs,
        "train_seconds": float(epochs),
        "epochs_run": epochs,
        "best_epoch": epochs,
        "test_mae_by_horizon": [test_mse] * 24,
        "history": history,
    }


REPORTING = {"title": "traffic forecast", "data_note": "A test series.", "course_results": {"lstm": "1.91e-2"}}


def test_report_ranks_models_and_states_who_wins(scaled_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(scaled_series, PREPROCESSING)
    scaler = MinMaxScaler().fit(np.array([[0.0], [1.0]]))
    predictions = dict.fromkeys(("lstm", "persistence"), windows["y_test"])

    def report(lstm_mse: float, persistence_mse: float) -> tuple:
        summaries = {"lstm": summary(lstm_mse, 2), "persistence": summary(persistence_mse, 0)}
        return nodes.build_report(summaries, predictions, scaled_series, windows, scaler, PREPROCESSING, REPORTING)

    comparison, *figures, html = report(0.01, 0.02)
    assert comparison["model"].tolist() == ["lstm", "persistence"]
    assert list(comparison.columns) == ["model", *nodes.COMPARISON_COLUMNS]
    assert len(figures) == 3
    assert "The best network, lstm (test MSE 0.01), beats the best naive baseline, persistence" in html
    assert html.count("data:image/png;base64,") == 3
    _, *_, html = report(0.03, 0.02)
    assert "does not beat the best naive baseline, persistence" in html
    assert "cannot tell a Saturday morning from a Monday morning" in html
    assert "from the last 6 hours" in html and "comparable with the course's 1.91e-2 lstm" in html  # from the parameters
