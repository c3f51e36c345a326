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


def summary(test_mae: float, epochs: int, trained: bool | None = None) -> dict:
    history = {"loss": [0.5, 0.4], "val_loss": [0.6, 0.5]} if epochs else {}
    return {
        "test_mse": test_mae / 1000,
        "test_mae": test_mae,
        "test_rmse": test_mae * 1.2,
        "n_params": 10 * epochs,
        "train_seconds": float(epochs),
        "epochs_run": epochs,
        "best_epoch": epochs,
        "test_mae_by_horizon": [test_mae] * 24,
        "trained": epochs > 0 if trained is None else trained,
        "history": history,
    }


REPORTING = {
    "title": "traffic forecast",
    "data_note": "A test series.",
    "course_results": {"lstm": "1.91e-2"},
    "naive_reference": "seasonal_naive_168h",
}


def test_report_ranks_by_mae_and_computes_the_verdict_against_the_naive_week(scaled_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(scaled_series, PREPROCESSING)
    scaler = MinMaxScaler().fit(np.array([[0.0], [1.0]]))
    names = ("lstm", "lstm_calendar", "gradient_boosting", "persistence", "seasonal_naive_168h")
    predictions = dict.fromkeys(names, windows["y_test"])

    def report(calendar_mae: float, boosting_mae: float) -> tuple:
        summaries = {
            "lstm": summary(500.0, 2),
            "lstm_calendar": summary(calendar_mae, 2),
            "gradient_boosting": summary(boosting_mae, 0, trained=True),
            "persistence": summary(240.0, 0),  # the best naive one, but not the reference
            "seasonal_naive_168h": summary(250.0, 0),
        }
        return nodes.build_report(summaries, predictions, scaled_series, windows, scaler, PREPROCESSING, REPORTING)

    comparison, *figures, html = report(200.0, 210.0)
    assert comparison["model"].tolist() == ["lstm_calendar", "gradient_boosting", "persistence", "seasonal_naive_168h", "lstm"]
    assert list(comparison.columns) == ["model", *nodes.COMPARISON_COLUMNS]
    assert comparison["trained"].tolist() == [True, True, False, False, True]
    assert len(figures) == 3
    # 200 vs 250: 20% lower MAE; RMSE 240 vs 300: 20% lower
    assert "The best model, <b>lstm_calendar</b>, beats seasonal_naive_168h" in html
    assert "MAE 200.0 vs 250.0 vehicles/hour, 20.0% lower; RMSE 240.0 vs 300.0 vehicles/hour, 20.0% lower" in html
    assert "The course's best network, lstm, reaches MAE 500.0" in html
    assert html.count("data:image/png;base64,") == 3

    # a fitted model without epochs (gradient boosting) can win, and a loss is stated as one
    _, *_, html = report(300.0, 260.0)
    assert "The best model, <b>gradient_boosting</b>, does not beat seasonal_naive_168h" in html
    assert "MAE 260.0 vs 250.0 vehicles/hour, 4.0% higher" in html


def test_verdict_falls_back_to_the_best_naive_forecast_when_the_reference_did_not_run() -> None:
    comparison = pd.DataFrame(
        {"model": ["net", "persistence"], "trained": [True, False], "test_mae": [90.0, 100.0], "test_rmse": [120.0, 100.0]}
    )
    result = nodes.verdict(comparison, "seasonal_naive_168h", ["lstm"])
    assert result["reference"]["model"] == "persistence" and result["best_course_network"] is None
    assert result["change"] == pytest.approx({"test_mae": -0.1, "test_rmse": 0.2})
    with pytest.raises(ValueError, match="at least one of each"):
        nodes.verdict(comparison.iloc[:1], "seasonal_naive_168h", [])


def test_learning_curves_show_mse_for_a_network_trained_on_mae() -> None:
    mae_trained = {"loss": [0.2], "val_loss": [0.3], "mse": [0.05], "val_mse": [0.06]}
    assert nodes.mse_history(mae_trained) == {"loss": [0.05], "val_loss": [0.06]}
    mse_trained = {"loss": [0.05], "val_loss": [0.06], "mae": [0.2]}
    assert nodes.mse_history(mse_trained) is mse_trained


# --- calendar-aware variants ---------------------------------------------------------

CONTEXT = PREPROCESSING.model_copy(update={"context_hours": 48})
FEATURES = nodes.TrafficFeatures(history_hours=48, calendar=["hour_of_day", "day_of_week"], target_hour_lags=[24, 48])


@pytest.fixture
def week_series() -> pd.DataFrame:
    """20 days of hours whose volume is its own index: a value names the hour it was read from."""
    scaled, _ = nodes.split_and_scale(hourly_series(np.arange(480, dtype=float)), PREPROCESSING)
    return scaled


def test_context_hours_keeps_only_windows_every_variant_can_read(week_series: pd.DataFrame) -> None:
    short = nodes.make_windows(week_series, PREPROCESSING)
    long = nodes.make_windows(week_series, CONTEXT)
    # the same 6-hour inputs and targets, starting later: 48 observed hours before the first target
    assert short["target_start_train"][0] == 6 and long["target_start_train"][0] == 48
    np.testing.assert_array_equal(long["target_start_test"], short["target_start_test"])  # the test part starts after hour 48
    series = week_series["scaled"].to_numpy()
    t = long["target_start_train"][0]
    np.testing.assert_array_equal(long["x_train"][0, :, 0], series[t - 6 : t])
    # a gap at hour 400 drops the windows whose 48 hours before the targets touch it from the long windows only
    gappy = week_series.assign(scaled=week_series["scaled"].where(week_series.index != 400))
    kept_long = nodes.make_windows(gappy, CONTEXT)["target_start_test"]
    kept_short = nodes.make_windows(gappy, PREPROCESSING)["target_start_test"]
    assert not ((kept_long > 400) & (kept_long <= 448)).any()
    assert ((kept_short > 406) & (kept_short <= 448)).any()
    with pytest.raises(ValueError, match=r"context_hours \(3\) must be at least history_hours \(6\)"):
        nodes.TrafficPreprocessing(**{**PREPROCESSING.model_dump(), "context_hours": 3})


def test_calendar_features_are_cyclic_and_values_known_at_forecast_time(week_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(week_series, CONTEXT)
    model_input = nodes.window_features(week_series, windows, FEATURES, CONTEXT)
    series = week_series["scaled"].to_numpy()
    x, start = model_input["x_test"], model_input["target_start_test"]
    assert x["history"].shape == (len(start), 48, 1) and x["target_hours"].shape == (len(start), 24, 6)
    np.testing.assert_array_equal(model_input["y_test"], windows["y_test"])
    i, k = 3, 5
    t = start[i]
    np.testing.assert_array_equal(x["history"][i, :, 0], series[t - 48 : t])
    hour, weekday = week_series["datetime"].dt.hour[t + k], week_series["datetime"].dt.dayofweek[t + k]
    expected = [
        np.sin(2 * np.pi * hour / 24),
        np.cos(2 * np.pi * hour / 24),
        np.sin(2 * np.pi * weekday / 7),
        np.cos(2 * np.pi * weekday / 7),
        series[t + k - 24],
        series[t + k - 48],
    ]
    np.testing.assert_allclose(x["target_hours"][i, k], expected, rtol=1e-6, atol=1e-6)
    # 2024-01-01 00:00 is a Monday at midnight: (sin, cos) of hour 0 and weekday 0 are (0, 1)
    np.testing.assert_allclose(nodes.calendar_features(week_series["datetime"][:1], ["hour_of_day", "day_of_week"], None), [[0, 1, 0, 1]])


def test_no_target_hour_volume_leaks_into_the_inputs(week_series: pd.DataFrame) -> None:
    windows = nodes.make_windows(week_series, CONTEXT)
    before = nodes.window_features(week_series, windows, FEATURES, CONTEXT)
    for split in ("train", "validation", "test"):
        for i in (0, len(windows[f"y_{split}"]) // 2, -1):
            t = windows[f"target_start_{split}"][i]
            # change every volume from the window's first target hour on
            altered = week_series.assign(scaled=np.where(week_series.index >= t, -1.0, week_series["scaled"]).astype("float32"))
            after = nodes.window_features(altered, windows, FEATURES, CONTEXT)
            for name in ("history", "target_hours"):
                np.testing.assert_array_equal(after[f"x_{split}"][name][i], before[f"x_{split}"][name][i])


@pytest.mark.parametrize(
    ("features", "preprocessing", "message"),
    [
        (FEATURES.model_copy(update={"target_hour_lags": [12]}), CONTEXT, r"\[12\] are shorter than the 24-hour horizon"),
        (FEATURES.model_copy(update={"target_hour_lags": [72]}), CONTEXT, r"reach 72 hours back.*context_hours to 72"),
        (FEATURES.model_copy(update={"history_hours": 96}), CONTEXT, r"reach 96 hours back"),
        (
            FEATURES.model_copy(update={"calendar": ["holiday"]}),
            CONTEXT,
            r"no holiday column: name it in traffic_lstm.ingest.holiday_column",
        ),
    ],
    ids=["lag-inside-the-horizon", "lag-beyond-the-context", "history-beyond-the-context", "holiday-without-a-column"],
)
def test_features_the_windows_cannot_provide_are_refused(
    week_series: pd.DataFrame, features: nodes.TrafficFeatures, preprocessing: nodes.TrafficPreprocessing, message: str
) -> None:
    windows = nodes.make_windows(week_series, preprocessing)
    with pytest.raises(ValueError, match=message):
        nodes.window_features(week_series, windows, features, preprocessing)


def test_holidays_flag_every_hour_of_a_named_date_and_survive_regularization() -> None:
    raw = hourly_frame([10.0] * 72).assign(holiday=["Christmas Day"] + ["None"] * 47 + [None] * 24)
    raw = raw.drop(index=[5])  # an hour the file left out of the holiday
    ingest = INGEST.model_copy(update={"holiday_column": "holiday"})
    traffic = nodes.ingest_traffic(raw, ingest)
    assert traffic["holiday"].sum() == 23  # every present hour of 2024-01-01, not only the first
    hourly = nodes.regularize_hourly(traffic, PREPROCESSING)
    assert hourly["holiday"].tolist() == [True] * 24 + [False] * 48
    features = nodes.calendar_features(hourly["datetime"], ["holiday"], hourly["holiday"])
    assert features[:, 0].tolist() == [1.0] * 24 + [0.0] * 48
    with pytest.raises(DataValidationError, match=r"my_traffic.csv.*'holidays'.*missing.*set it to null"):
        nodes.ingest_traffic(raw, INGEST.model_copy(update={"holiday_column": "holidays"}))


def test_stacked_regressor_rows_and_forecasts() -> None:
    daily = 100 + 50 * np.sin(2 * np.pi * np.arange(480) / 24)  # every day the same: yesterday's hour is the answer
    week_series, _ = nodes.split_and_scale(hourly_series(daily), PREPROCESSING)
    windows = nodes.make_windows(week_series, CONTEXT)
    model_input = nodes.window_features(week_series, windows, FEATURES.model_copy(update={"history_hours": 24}), CONTEXT)
    rows = nodes._stacked_rows(model_input["x_test"])
    n = len(model_input["y_test"])
    assert rows.shape == (n * 24, 1 + 6 + 24)
    # row (window 2, 4 hours ahead): hours ahead, that hour's features, then the window's history
    row = rows[2 * 24 + 3]
    assert row[0] == 4
    np.testing.assert_array_equal(row[1:7], model_input["x_test"]["target_hours"][2, 3])
    np.testing.assert_array_equal(row[7:], model_input["x_test"]["history"][2, :, 0])

    settings = nodes.TrafficRegressor(method="hist_gradient_boosting", hyperparameters={"max_iter": 30}, threads=1)
    regressor, fit = nodes.fit_forecast_regressor(model_input, settings, seed=0)
    assert fit["epochs_run"] == 0 and fit["train_seconds"] > 0 and fit["n_iterations"] == 30
    forecast = nodes.predict_regressor(regressor, model_input)
    assert forecast.shape == model_input["y_test"].shape and forecast.dtype == np.float32
    # the lag-24 column equals the target: the trees follow it far better than a constant forecast
    assert np.abs(forecast - model_input["y_test"]).mean() < np.abs(model_input["y_test"] - model_input["y_test"].mean()).mean()
    again, _ = nodes.fit_forecast_regressor(model_input, settings, seed=0)
    np.testing.assert_array_equal(nodes.predict_regressor(again, model_input), forecast)
