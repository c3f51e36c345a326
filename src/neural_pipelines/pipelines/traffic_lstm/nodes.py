"""Nodes of ``traffic_lstm``: forecast the next 24 hours of traffic from the last 6.

Data flow: validate the hourly table → regular hourly index with a documented gap policy
→ chronological split and min-max scaling fitted on training rows → sliding windows →
(per variant) build, fit, predict / naive baseline forecast → score → report.
"""

from __future__ import annotations

import logging
import zoneinfo
from typing import Any, Literal

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import NonNegativeInt, field_validator
from sklearn.metrics import mean_absolute_error, mean_squared_error
from sklearn.preprocessing import MinMaxScaler

from neural_pipelines.parameters import Count, Fraction, Parameters
from neural_pipelines.reporting import comparison_table, learning_curves, lines_by_step, render_template
from neural_pipelines.training.steps import array_shapes
from neural_pipelines.validation import DataValidationError, examples, source_of

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
PARAMS_FILE = "conf/base/parameters_traffic_lstm.yml"


# --- parameters ---------------------------------------------------------------------


class TrafficIngest(Parameters):
    """``traffic_lstm.ingest``: how the hourly table is read and what it must hold."""

    timestamp_column: str
    volume_column: str
    timestamp_format: str | None = None  # null: let pandas infer (ISO 8601 works)
    timezone: str | None = None  # convert timestamps with UTC offsets to this zone (IANA name), e.g. UTC
    duplicate_timestamps: Literal["error", "keep_first"] = "error"
    min_hours: Count

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
                raise ValueError(f"unknown time zone {zone!r}: use an IANA name such as UTC or America/Chicago") from err
        return zone


class TrafficPreprocessing(Parameters):
    """``traffic_lstm.preprocessing``: gap policy, chronological split and windows.

    ``history_hours: 0`` would reach TensorFlow as an empty input and abort the process
    natively (no Python error, MLflow runs left open); a fraction of 0 or 1.5 would fail deep
    in scikit-learn. The types below refuse both before the run starts.
    """

    max_fill_gap_hours: NonNegativeInt  # gaps up to this long are interpolated; longer ones drop their windows
    test_fraction: Fraction  # the last share of hours: the held-out test set
    validation_fraction: Fraction  # of the rest, the last share: early-stopping validation
    history_hours: Count  # past hours a window feeds the networks
    horizon_hours: Count  # hours ahead a window forecasts
    window_layout: Literal["recurrent", "course"]  # recurrent: (history, 1); course: (1, history)


# --- ingest -------------------------------------------------------------------------


def _csv_lines(mask: pd.Series, values: pd.Series) -> str:
    """The first offending CSV lines (header = line 1) and their values, for an error message."""
    lines = [int(position) + 2 for position in np.flatnonzero(mask.to_numpy())]
    return "CSV " + examples(lines, values[mask], noun="lines")


def _parse_timestamps(values: pd.Series, ingest: TrafficIngest, source: str) -> pd.Series:
    """Timestamps as pandas reads them; with ``ingest.timezone``, every one converted to that zone's clock time.

    A local-time export across a daylight-saving change mixes UTC offsets (-05:00, then -06:00),
    which pandas refuses to put in one column: the lines are named, and the fix is to choose
    the zone to count hours in. Timestamps without an offset are taken as UTC when converting.
    """
    if ingest.timezone is not None:
        parsed = pd.to_datetime(values, errors="coerce", format=ingest.timestamp_format, utc=True)
        return parsed.dt.tz_convert(ingest.timezone).dt.tz_localize(None)
    try:
        return pd.to_datetime(values, errors="coerce", format=ingest.timestamp_format)
    except ValueError as err:
        if "Mixed timezones" not in str(err):
            raise
    offsets = values.astype(str).str.extract(r"(Z|[+-]\d\d:?\d\d)\s*$")[0].fillna("none")
    raise DataValidationError(
        source,
        ingest.timestamp_column,
        f"timestamps with different UTC offsets ({', '.join(offsets.unique())}), as in a local-time export across a "
        f"daylight-saving change; the offset changes on {_csv_lines(offsets != offsets.iloc[0], values)}",
        f"set traffic_lstm.ingest.timezone ({PARAMS_FILE} or conf/local) to the zone to count hours in: UTC keeps every "
        "hour exactly once; a local zone such as America/Chicago repeats an hour each autumn (add duplicate_timestamps: keep_first)",
    )


def ingest_traffic(raw: pd.DataFrame, ingest: TrafficIngest) -> pd.DataFrame:
    """Validate a raw hourly traffic table; keep ``datetime`` and ``traffic_volume``, sorted.

    Empty volume cells are allowed (the gap policy of :func:`regularize_hourly` handles
    them); repeated timestamps are dropped only with ``duplicate_timestamps: keep_first``;
    anything else that is not a non-negative number, an unparseable, duplicate or
    non-hourly timestamp, or a series too short for one window stops the run.
    """
    source = source_of(raw)
    time_column, volume_column = ingest.timestamp_column, ingest.volume_column
    for column in (time_column, volume_column):
        if column not in raw.columns:
            raise DataValidationError(
                source,
                column,
                f"missing (found columns: {', '.join(map(str, raw.columns))})",
                f"add a '{column}' column, or name yours in traffic_lstm.ingest.timestamp_column / "
                f"volume_column ({PARAMS_FILE}, overridable in conf/local)",
            )

    timestamps = _parse_timestamps(raw[time_column], ingest, source)
    unparsed = timestamps.isna()
    if unparsed.any():
        raise DataValidationError(
            source,
            time_column,
            f"timestamps that cannot be parsed on {_csv_lines(unparsed, raw[time_column])}",
            "write timestamps as 'YYYY-MM-DD HH:MM:SS'",
        )

    volumes = pd.to_numeric(raw[volume_column], errors="coerce")
    non_numeric = volumes.isna() & raw[volume_column].notna()
    if non_numeric.any():
        raise DataValidationError(
            source,
            volume_column,
            f"non-numeric volumes on {_csv_lines(non_numeric, raw[volume_column])}",
            "use vehicle counts per hour; leave a cell empty for a missing hour",
        )
    infinite = np.isinf(volumes)
    if infinite.any():
        raise DataValidationError(
            source,
            volume_column,
            f"infinite volumes on {_csv_lines(infinite, raw[volume_column])}",
            "use finite vehicle counts per hour; leave a cell empty for a missing hour",
        )
    negative = volumes < 0
    if negative.any():
        raise DataValidationError(
            source,
            volume_column,
            f"negative volumes on {_csv_lines(negative, volumes)}",
            "traffic volumes are counts (>= 0); fix or blank those cells",
        )

    if ingest.duplicate_timestamps == "keep_first":
        # The full UCI file repeats an hour once per weather condition, with the same volume.
        repeated = timestamps.duplicated(keep="first")
        if repeated.any():
            logger.info("Dropping %d repeated timestamps (duplicate_timestamps: keep_first)", int(repeated.sum()))
            timestamps, volumes = timestamps[~repeated], volumes[~repeated]
    duplicated = timestamps.duplicated(keep=False)
    if duplicated.any():
        raise DataValidationError(
            source,
            time_column,
            f"duplicate timestamps on {_csv_lines(duplicated, timestamps)}",
            "keep one row per hour (sum or average the duplicates before loading), or set "
            "traffic_lstm.ingest.duplicate_timestamps: keep_first",
        )
    off_the_hour = timestamps != timestamps.dt.floor("h")
    if off_the_hour.any():
        raise DataValidationError(
            source,
            time_column,
            f"timestamps not on the hour on {_csv_lines(off_the_hour, timestamps)}; this pipeline needs an hourly series",
            "resample to hourly totals first, e.g. df.resample('h', on='datetime').sum()",
        )

    traffic = (
        pd.DataFrame({"datetime": timestamps, "traffic_volume": volumes.astype("float64")}).sort_values("datetime").reset_index(drop=True)
    )
    step = traffic["datetime"].diff().median()
    if pd.notna(step) and step != pd.Timedelta(hours=1):
        raise DataValidationError(
            source,
            time_column,
            f"timestamps are typically {step} apart, not one hour",
            "provide one row per hour; missing hours may simply be left out",
        )
    needed = ingest.min_hours
    if len(traffic) < needed:
        raise DataValidationError(
            source,
            volume_column,
            f"only {len(traffic)} hourly rows; at least {needed} are needed to make training, validation and test windows of 6 + 24 hours",
            "provide a longer series (weeks of hourly data)",
        )
    logger.info(
        "Ingested %d hourly rows from %s (%s to %s), %d empty volumes",
        len(traffic),
        source,
        traffic["datetime"].iloc[0],
        traffic["datetime"].iloc[-1],
        int(traffic["traffic_volume"].isna().sum()),
    )
    return traffic


# --- preprocess ---------------------------------------------------------------------


def regularize_hourly(traffic: pd.DataFrame, preprocessing: TrafficPreprocessing) -> pd.DataFrame:
    """Put the series on a complete hourly index and apply the gap policy.

    Policy: a run of missing hours (absent rows or empty volumes) at most
    ``max_fill_gap_hours`` long is filled by linear interpolation in time and flagged in
    ``imputed``; a longer run stays missing, and every window that touches it is dropped
    later, so no model trains or is scored on invented hours.
    """
    max_gap = preprocessing.max_fill_gap_hours
    index = pd.date_range(traffic["datetime"].iloc[0], traffic["datetime"].iloc[-1], freq="h", name="datetime")
    volume = traffic.set_index("datetime")["traffic_volume"].reindex(index)

    missing = volume.isna()
    run_id = (missing != missing.shift()).cumsum()
    run_length = missing.groupby(run_id).transform("size")
    fillable = missing & (run_length <= max_gap)
    interpolated = volume.interpolate(method="time", limit_area="inside")
    volume = volume.where(~fillable, interpolated)

    hourly = pd.DataFrame({"traffic_volume": volume, "imputed": fillable & volume.notna()}).reset_index()
    logger.info(
        "Hourly index: %d hours, %d filled by interpolation (gaps <= %dh), %d left missing (longer gaps)",
        len(hourly),
        int(hourly["imputed"].sum()),
        max_gap,
        int(hourly["traffic_volume"].isna().sum()),
    )
    return hourly


def split_and_scale(hourly: pd.DataFrame, preprocessing: TrafficPreprocessing) -> tuple[pd.DataFrame, MinMaxScaler]:
    """Chronological split and min-max scaling fitted on the training rows only.

    The last ``test_fraction`` of hours is the held-out test set (the course validated on
    it); early-stopping validation is the last ``validation_fraction`` of what remains.
    The scaler never sees validation or test rows.
    """
    n_hours = len(hourly)
    test_start = round(n_hours * (1 - preprocessing.test_fraction))
    validation_start = round(test_start * (1 - preprocessing.validation_fraction))
    split = np.full(n_hours, "train", dtype=object)
    split[validation_start:test_start] = "validation"
    split[test_start:] = "test"

    scaler = MinMaxScaler()
    scaler.fit(hourly.loc[: validation_start - 1, ["traffic_volume"]].dropna())
    scaled = hourly.assign(
        split=pd.Categorical(split, categories=SPLITS), scaled=scaler.transform(hourly[["traffic_volume"]])[:, 0].astype("float32")
    )
    logger.info(
        "Split: train %d h, validation %d h, test %d h; scaler min=%.0f max=%.0f (train rows)",
        validation_start,
        test_start - validation_start,
        n_hours - test_start,
        scaler.data_min_[0],
        scaler.data_max_[0],
    )
    return scaled, scaler


def make_windows(scaled: pd.DataFrame, preprocessing: TrafficPreprocessing) -> dict[str, np.ndarray]:
    """Sliding windows: ``history_hours`` inputs → the next ``horizon_hours`` targets.

    A window belongs to the split that holds *all* its target hours (its inputs may reach
    back into the previous split: those hours are past observations, not leakage). Windows
    touching a missing hour are dropped. ``window_layout: recurrent`` shapes inputs
    ``(n, history, 1)`` so recurrent layers step through the hours; ``course`` gives the
    course's ``(n, 1, history)``: one step of ``history`` features.
    """
    history, horizon = preprocessing.history_hours, preprocessing.horizon_hours
    layout = preprocessing.window_layout

    series = scaled["scaled"].to_numpy(dtype="float32")
    windows = sliding_window_view(series, history + horizon)
    inputs, targets = windows[:, :history], windows[:, history:]
    target_start = np.arange(history, history + len(windows))
    split_codes = scaled["split"].cat.codes.to_numpy()
    first_split = split_codes[target_start]
    last_split = split_codes[target_start + horizon - 1]
    complete = ~np.isnan(windows).any(axis=1)

    arrays: dict[str, np.ndarray] = {}
    for code, name in enumerate(SPLITS):
        keep = complete & (first_split == code) & (last_split == code)
        if not keep.any():
            raise DataValidationError(
                source_of(scaled, "traffic series"),
                "traffic_volume",
                f"no complete {history}+{horizon}-hour window falls in the {name} split ({int((split_codes == code).sum())} hours)",
                "provide a longer series or fewer missing hours",
            )
        x = inputs[keep]
        arrays[f"x_{name}"] = x[:, :, None] if layout == "recurrent" else x[:, None, :]
        arrays[f"y_{name}"] = np.ascontiguousarray(targets[keep])
        arrays[f"target_start_{name}"] = target_start[keep]
    logger.info(
        "Windows (%s layout, input %s): train %d, validation %d, test %d; %d dropped for missing hours",
        layout,
        arrays["x_train"].shape[1:],
        len(arrays["y_train"]),
        len(arrays["y_validation"]),
        len(arrays["y_test"]),
        int((~complete).sum()),
    )
    return arrays


# --- new data: a recent raw series → model inputs (the registered model and traffic_lstm_forecast) ---


def forecast_inputs(
    raw: pd.DataFrame, ingest: TrafficIngest, preprocessing: TrafficPreprocessing, scaler: MinMaxScaler
) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """A raw recent hourly series → one window of model input, and the ``horizon_hours`` timestamps it forecasts.

    The one place that turns new data into what the networks were trained on, so the
    registered model, the batch forecast and training agree: the same checks as training's
    ingest (columns, numbers, hours; at least ``history_hours`` rows), the same gap policy,
    the last ``history_hours`` hours scaled by the training scaler, in the window layout.
    An hour among them that the gap policy cannot fill stops with the hours named.
    """
    source = source_of(raw, "the recent traffic table")
    history = preprocessing.history_hours
    traffic = ingest_traffic(raw, ingest.model_copy(update={"min_hours": 1}))
    if len(traffic) < history:
        raise DataValidationError(
            source,
            ingest.volume_column,
            f"only {len(traffic)} hourly rows; the forecast needs the last {history} hours",
            f"provide at least the {history} hours before the forecast (more are fine: the last {history} are used)",
        )
    hourly = regularize_hourly(traffic, preprocessing).tail(history)
    missing = hourly["traffic_volume"].isna()
    if missing.any():
        raise DataValidationError(
            source,
            ingest.volume_column,
            f"no volume for the hours {', '.join(map(str, hourly.loc[missing, 'datetime']))} among the last {history} "
            f"(a gap longer than max_fill_gap_hours={preprocessing.max_fill_gap_hours})",
            f"provide those hours' counts; the forecast needs the last {history} hours",
        )
    scaled = scaler.transform(hourly[["traffic_volume"]])[:, 0].astype("float32")
    window = scaled[None, :, None] if preprocessing.window_layout == "recurrent" else scaled[None, None, :]
    last = hourly["datetime"].iloc[-1]
    return window, pd.date_range(last + pd.Timedelta(hours=1), periods=preprocessing.horizon_hours, freq="h", name="datetime")


# --- Keras variants (build and train: the shared steps in training/steps.py) ---


def window_shapes(windows: dict[str, np.ndarray], preprocessing: TrafficPreprocessing) -> dict[str, Any]:
    """The networks' input shape and outputs, read off the windows and checked against ``preprocessing``.

    A run of one variant (``--namespaces=traffic_lstm.lstm``) trains on the windows an earlier
    run saved; windows made with another ``history_hours``, ``horizon_hours`` or
    ``window_layout`` than the parameters now say stop the run here instead of training
    something the variant's MLflow run would describe wrongly.
    """
    shapes = array_shapes(windows)
    history, horizon = preprocessing.history_hours, preprocessing.horizon_hours
    expected = [history, 1] if preprocessing.window_layout == "recurrent" else [1, history]
    if shapes != {"input_shape": expected, "outputs": horizon}:
        raise ValueError(
            f"The saved windows have inputs {tuple(shapes['input_shape'])} and {shapes['outputs']} targets, but "
            f"traffic_lstm.preprocessing says {tuple(expected)} and {horizon} ({preprocessing.window_layout} layout): "
            "they were made with other settings. Run make_windows again (kedro run --pipelines=traffic_lstm)."
        )
    return shapes


def predict_windows(model: keras.Model, windows: dict[str, np.ndarray]) -> np.ndarray:
    """Scaled 24-hour forecasts for every test window."""
    return model.predict(windows["x_test"], batch_size=1024, verbose=0).astype("float32")


# --- baselines ----------------------------------------------------------------------


def forecast_baseline(
    scaled: pd.DataFrame, windows: dict[str, np.ndarray], baseline: dict[str, Any], preprocessing: TrafficPreprocessing
) -> np.ndarray:
    """Naive forecasts for exactly the test windows the networks are scored on.

    ``persistence`` repeats the last observed hour; ``seasonal_naive`` with
    ``season_hours`` s predicts hour t+k by the value at t+k-s (24: same hours yesterday,
    168: same hours last week). s must be >= the horizon so no future value is used.
    """
    series = scaled["scaled"].to_numpy(dtype="float32")
    horizon = preprocessing.horizon_hours
    target_start = windows["target_start_test"]
    method = baseline["method"]
    if method == "persistence":
        return np.repeat(series[target_start - 1][:, None], horizon, axis=1)
    if method == "seasonal_naive":
        season = int(baseline["season_hours"])
        if season < horizon:
            raise ValueError(f"season_hours={season} < horizon {horizon} would use future values ({PARAMS_FILE}).")
        lagged = target_start[:, None] + np.arange(horizon)[None, :] - season
        if lagged.min() < 0:
            raise DataValidationError(
                source_of(scaled, "traffic series"),
                "traffic_volume",
                f"the first test window needs {season} hours of history before it",
                "provide a longer series",
            )
        forecast = series[lagged]
        # A lagged hour inside a long gap has no value: fall back to persistence there.
        persistence = np.repeat(series[target_start - 1][:, None], horizon, axis=1)
        gaps = np.isnan(forecast)
        if gaps.any():
            logger.warning("%s: %d lagged hours missing, persistence used for them", method, int(gaps.sum()))
        return np.where(gaps, persistence, forecast)
    raise ValueError(f"Unknown baseline method {method!r} in {PARAMS_FILE}; use 'persistence' or 'seasonal_naive'.")


# --- evaluate -----------------------------------------------------------------------


def evaluate_forecast(predictions: np.ndarray, windows: dict[str, np.ndarray], scaler: MinMaxScaler) -> dict[str, Any]:
    """Test metrics: MSE on the 0–1 scale (the course's number), MAE and RMSE in vehicles/hour.

    ``by_step["test_mae_by_horizon"][k]`` is the MAE of the forecast k+1 hours ahead.
    """
    y_true = windows["y_test"]
    scale = float(scaler.data_max_[0] - scaler.data_min_[0])
    return {
        "metrics": {
            "test_mse": float(mean_squared_error(y_true, predictions)),
            "test_mae": float(mean_absolute_error(y_true, predictions)) * scale,
            "test_rmse": float(np.sqrt(mean_squared_error(y_true, predictions))) * scale,
        },
        "by_step": {"test_mae_by_horizon": (mean_absolute_error(y_true, predictions, multioutput="raw_values") * scale).tolist()},
        "n_test_windows": len(y_true),
    }


# --- report -------------------------------------------------------------------------

COMPARISON_COLUMNS = ("n_params", "test_mse", "test_mae", "test_rmse", "train_seconds", "epochs_run")


def plot_test_week(
    scaled: pd.DataFrame, windows: dict[str, np.ndarray], scaler: MinMaxScaler, predictions: dict[str, np.ndarray]
) -> Figure:
    """Day-ahead forecasts vs actual traffic for the first full test week.

    Each day's 24 hours come from the window issued at midnight (inputs 18:00–23:00 of the
    day before), so the curves show what a daily forecast would have said.
    """
    target_start = windows["target_start_test"]
    midnight = scaled["datetime"].dt.hour.to_numpy()[target_start] == 0
    days = np.flatnonzero(midnight)[:7]
    hours = np.concatenate([target_start[day] + np.arange(windows["y_test"].shape[1]) for day in days])
    figure, axis = plt.subplots(figsize=(11, 4))
    axis.plot(scaled["datetime"].iloc[hours], scaled["traffic_volume"].iloc[hours], color="black", linewidth=2, label="actual")
    for name, forecast in predictions.items():
        volume = scaler.inverse_transform(forecast[days].reshape(-1, 1))[:, 0]
        axis.plot(scaled["datetime"].iloc[hours], volume, linewidth=1, label=name)
    axis.set(title="Day-ahead forecasts vs actual, first test week", ylabel="vehicles/hour")
    axis.legend(fontsize="small", ncol=4)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def build_report(
    summaries: dict[str, dict[str, Any]],
    predictions: dict[str, np.ndarray],
    scaled: pd.DataFrame,
    windows: dict[str, np.ndarray],
    scaler: MinMaxScaler,
    preprocessing: TrafficPreprocessing,
    reporting: dict[str, Any],
) -> tuple[pd.DataFrame, Figure, Figure, Figure, str]:
    """The comparison table, three figures and the HTML report that shows them all.

    ``predictions`` are the scaled test forecasts, keyed by variant; ``reporting`` holds the
    report's title, data note and the course's numbers.
    """
    comparison = comparison_table(summaries, COMPARISON_COLUMNS, sort_by="test_mse")
    learning_curves_figure = learning_curves(
        {name: summary["history"] for name, summary in summaries.items()},
        metric="loss",
        kept_epochs={name: summary.get("best_epoch") for name, summary in summaries.items()},
    )
    mae_by_horizon_figure = lines_by_step(
        {name: summary["test_mae_by_horizon"] for name, summary in summaries.items()},
        title="Test MAE by forecast horizon",
        xlabel="hours ahead",
        ylabel="MAE (vehicles/hour)",
    )
    test_week_figure = plot_test_week(scaled, windows, scaler, predictions)
    figures = {"learning_curves": learning_curves_figure, "mae_by_horizon": mae_by_horizon_figure, "test_week": test_week_figure}
    html = render_report(comparison, figures, scaled, windows, preprocessing, reporting)
    return comparison, learning_curves_figure, mae_by_horizon_figure, test_week_figure, html


def render_report(
    comparison: pd.DataFrame,
    figures: dict[str, Figure],
    scaled: pd.DataFrame,
    windows: dict[str, np.ndarray],
    preprocessing: TrafficPreprocessing,
    reporting: dict[str, Any],
) -> str:
    """The pipeline's HTML report (template ``traffic_lstm.html.j2``): verdict, table, data, figures.

    Computes what the sentences state: the best network, the best naive baseline (the rows
    without training epochs) and whether the network wins; the hour and window counts.
    """
    best_baseline = comparison[comparison["epochs_run"] == 0].iloc[0]
    best_network = comparison[comparison["epochs_run"] > 0].iloc[0]
    data = {
        "n_hours": len(scaled),
        "first_hour": scaled["datetime"].iloc[0],
        "last_hour": scaled["datetime"].iloc[-1],
        "split_hours": {split: int(count) for split, count in scaled["split"].value_counts().items()},
        "n_imputed": int(scaled["imputed"].sum()),
        "n_missing": int(scaled["traffic_volume"].isna().sum()),
        "n_windows": {split: len(windows[f"y_{split}"]) for split in SPLITS},
        "input_shape": tuple(int(size) for size in windows["x_test"].shape[1:]),
    }
    return render_template(
        "traffic_lstm.html.j2",
        preprocessing=preprocessing,
        reporting=reporting,
        best_network=best_network.to_dict(),
        best_baseline=best_baseline.to_dict(),
        network_beats_baseline=bool(best_network["test_mse"] < best_baseline["test_mse"]),
        comparison=comparison,
        data=data,
        figures=figures,
    )
