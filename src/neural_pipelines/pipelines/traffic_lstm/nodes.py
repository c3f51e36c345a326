"""Nodes of ``traffic_lstm``: forecast the next 24 hours of traffic from the last 6.

Data flow: validate the hourly table → regular hourly index with a documented gap policy
→ chronological split and min-max scaling fitted on training rows → sliding windows →
(per variant) build, fit, predict / naive baseline forecast → score → report.
"""

from __future__ import annotations

import logging
import zoneinfo
from typing import Any, ClassVar, Literal

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field, NonNegativeInt, field_validator, model_validator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, mean_squared_error
from sklearn.preprocessing import MinMaxScaler

from neural_pipelines.parameters import Count, Fraction, Parameters
from neural_pipelines.reporting import comparison_table, learning_curves, lines_by_step, render_template
from neural_pipelines.training.estimators import fit_estimator
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
    holiday_column: str | None = None  # a column naming the holiday on (some) rows of a holiday's date; null: no holidays known
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
    history_hours: Count  # past hours a window feeds the course's networks
    horizon_hours: Count  # hours ahead a window forecasts
    window_layout: Literal["recurrent", "course"]  # recurrent: (history, 1); course: (1, history)
    # Hours before a window's first target that any variant may read (null: history_hours). A window
    # is kept only when all of them and its targets are observed, so every variant, whatever history it
    # reads, is trained and scored on the same windows.
    context_hours: Count | None = None

    @model_validator(mode="after")
    def _context_covers_the_history(self) -> TrafficPreprocessing:
        if self.context_hours is not None and self.context_hours < self.history_hours:
            raise ValueError(f"context_hours ({self.context_hours}) must be at least history_hours ({self.history_hours})")
        return self

    @property
    def context(self) -> int:
        """The hours before each window's targets that must be observed for the window to be kept."""
        return self.context_hours or self.history_hours


#: Known-in-advance features of a target hour, and the columns each becomes (cyclic encodings: hour 23 is next to hour 0).
CALENDAR_COLUMNS = {"hour_of_day": ("hour_sin", "hour_cos"), "day_of_week": ("weekday_sin", "weekday_cos"), "holiday": ("holiday",)}


class TrafficFeatures(Parameters):
    """A calendar-aware variant's ``features`` block: the history it reads and what it knows of the target hours.

    Everything is known when the forecast is made: the past ``history_hours``, the calendar of
    the target hours, and for each target hour the volume ``target_hour_lags`` hours before
    it (168: the same hour a week before). A lag shorter than the horizon would read a target
    hour's own future, so it is refused.
    """

    block: ClassVar[str] = "features"
    misplaced_hint: ClassVar[str] = f"see the lstm_calendar block in {PARAMS_FILE}"

    history_hours: Count  # past hours the variant reads (at most preprocessing.context_hours)
    calendar: list[Literal["hour_of_day", "day_of_week", "holiday"]]
    target_hour_lags: list[Count] = Field(default_factory=list)


class TrafficRegressor(Parameters):
    """``baseline`` block of a scikit-learn forecaster on the calendar-aware features.

    One estimator for every hour ahead: each (window, hour ahead) pair is a row whose
    features are the hours ahead, that hour's known features and the window's history.
    ``threads`` caps OpenMP threads (``null``: the library default).
    """

    block: ClassVar[str] = "baseline"
    misplaced_hint: ClassVar[str] = f"see the gradient_boosting block in {PARAMS_FILE}"

    method: Literal["hist_gradient_boosting"]
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    threads: Count | None = None


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

    holiday_dates = _holiday_dates(raw, ingest.holiday_column, timestamps, source)
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
    traffic = _flag_holidays(traffic, holiday_dates)
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


def _holiday_dates(raw: pd.DataFrame, column: str | None, timestamps: pd.Series, source: str) -> pd.DatetimeIndex | None:
    """The dates on which any row names a holiday (an empty cell or ``None`` names none); None without a holiday column.

    The UCI file names the holiday on the day's first hour only, so the flag belongs to the
    date: every hour of it is a holiday hour.
    """
    if column is None:
        return None
    if column not in raw.columns:
        raise DataValidationError(
            source,
            column,
            f"missing (found columns: {', '.join(map(str, raw.columns))})",
            "name the column that marks holidays in traffic_lstm.ingest.holiday_column, or set it to null if the file has none",
        )
    text = raw[column].astype("string").str.strip()
    named = text.notna() & (text != "") & (text.str.lower() != "none")
    dates = pd.DatetimeIndex(timestamps[named.to_numpy()].dt.normalize().unique())
    logger.info("Holidays: %d dates named in column '%s'", len(dates), column)
    return dates


def _flag_holidays(hourly: pd.DataFrame, holiday_dates: pd.DatetimeIndex | None) -> pd.DataFrame:
    """``hourly`` with a boolean ``holiday`` column for the hours on ``holiday_dates`` (unchanged without them)."""
    if holiday_dates is None:
        return hourly
    return hourly.assign(holiday=hourly["datetime"].dt.normalize().isin(holiday_dates))


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
    if "holiday" in traffic.columns:  # an hour the file left out still falls on its date
        hourly = _flag_holidays(hourly, pd.DatetimeIndex(traffic.loc[traffic["holiday"], "datetime"].dt.normalize().unique()))
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
    touching a missing hour among their targets and the ``context_hours`` before them are
    dropped, so variants reading a longer history (``lstm_calendar``) are scored on the very
    same windows. ``window_layout: recurrent`` shapes inputs ``(n, history, 1)`` so recurrent
    layers step through the hours; ``course`` gives the course's ``(n, 1, history)``: one
    step of ``history`` features.
    """
    history, horizon, context = preprocessing.history_hours, preprocessing.horizon_hours, preprocessing.context
    layout = preprocessing.window_layout

    series = scaled["scaled"].to_numpy(dtype="float32")
    windows = sliding_window_view(series, context + horizon)
    inputs, targets = windows[:, context - history : context], windows[:, context:]
    target_start = np.arange(context, context + len(windows))
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
                f"no complete {context}+{horizon}-hour window falls in the {name} split ({int((split_codes == code).sum())} hours)",
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


# --- calendar-aware variants: what is known at forecast time -------------------------


def calendar_features(timestamps: pd.Series, calendar: list[str], holiday: pd.Series | None) -> np.ndarray:
    """One row per hour: the ``calendar`` features of :data:`CALENDAR_COLUMNS`, as float32 columns.

    Hour of day and day of week are cyclic (sine and cosine), so 23:00 sits next to 00:00 and
    Sunday next to Monday; ``holiday`` is 1 on the dates the data names as holidays.
    """
    hour = timestamps.dt.hour.to_numpy()
    weekday = timestamps.dt.dayofweek.to_numpy()
    encodings = {
        "hour_of_day": [np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)],
        "day_of_week": [np.sin(2 * np.pi * weekday / 7), np.cos(2 * np.pi * weekday / 7)],
        "holiday": [holiday.to_numpy(dtype="float64") if holiday is not None else None],
    }
    columns = [column for name in calendar for column in encodings[name]]
    return np.stack(columns, axis=1).astype("float32") if columns else np.zeros((len(timestamps), 0), dtype="float32")


def _check_features(scaled: pd.DataFrame, features: TrafficFeatures, preprocessing: TrafficPreprocessing) -> None:
    """Refuse features the windows cannot provide without reading a target hour or a dropped one."""
    horizon, context = preprocessing.horizon_hours, preprocessing.context
    future = [lag for lag in features.target_hour_lags if lag < horizon]
    if future:
        raise ValueError(
            f"target_hour_lags {future} are shorter than the {horizon}-hour horizon: the volume that many hours before a "
            f"target hour is not yet observed when the forecast is made ({PARAMS_FILE}: use lags >= {horizon}, e.g. 168)"
        )
    too_far = [value for value in (features.history_hours, *features.target_hour_lags) if value > context]
    if too_far:
        raise ValueError(
            f"features reach {max(too_far)} hours back, but windows are only checked complete for the "
            f"{context} hours before their targets: raise traffic_lstm.preprocessing.context_hours to {max(too_far)} "
            f"or shorten the features ({PARAMS_FILE})"
        )
    if "holiday" in features.calendar and "holiday" not in scaled.columns:
        raise ValueError(
            "features.calendar asks for 'holiday', but the series has no holiday column: name it in "
            f"traffic_lstm.ingest.holiday_column (the UCI file's is 'holiday'), or drop 'holiday' from the calendar ({PARAMS_FILE})"
        )


def window_features(
    scaled: pd.DataFrame, windows: dict[str, np.ndarray], features: TrafficFeatures, preprocessing: TrafficPreprocessing
) -> dict[str, Any]:
    """A calendar-aware variant's inputs for exactly the windows every variant is scored on.

    For each window of each split (``target_start_<split>`` of ``windows``): ``history``, the
    ``features.history_hours`` scaled volumes before its first target ``(n, hours, 1)``, and
    ``target_hours``, per target hour its calendar and its lagged volumes ``(n, horizon, k)``.
    Targets are the windows' own. Nothing is read at or after a window's first target hour
    except the calendar, which is known in advance.
    """
    _check_features(scaled, features, preprocessing)
    horizon = preprocessing.horizon_hours
    series = scaled["scaled"].to_numpy(dtype="float32")
    calendar = calendar_features(scaled["datetime"], features.calendar, scaled.get("holiday"))
    history_offsets = np.arange(-features.history_hours, 0)
    model_input: dict[str, Any] = {}
    splits = [key.removeprefix("target_start_") for key in windows if key.startswith("target_start_")]  # tuning: no test ones
    for split in splits:
        start = windows[f"target_start_{split}"]
        target_hours = start[:, None] + np.arange(horizon)
        known = [calendar[target_hours], *(series[target_hours - lag][..., None] for lag in features.target_hour_lags)]
        model_input[f"x_{split}"] = {
            "history": series[start[:, None] + history_offsets][..., None],
            "target_hours": np.concatenate(known, axis=-1),
        }
        if f"y_{split}" in windows:  # a forecast of new data has no targets yet
            model_input[f"y_{split}"] = windows[f"y_{split}"]
        model_input[f"target_start_{split}"] = start
    first = next(value for key, value in model_input.items() if key.startswith("x_"))
    logger.info(
        "Calendar-aware inputs: history %s, target hours %s (%s; lags %s)",
        first["history"].shape[1:],
        first["target_hours"].shape[1:],
        ", ".join(features.calendar) or "no calendar",
        features.target_hour_lags or "none",
    )
    return model_input


# --- new data: a recent raw series → model inputs (the registered model and traffic_lstm_forecast) ---


def features_used(features: TrafficFeatures) -> dict[str, Any]:
    """A calendar-aware variant's features, handed to the registered model so it builds the same inputs from new data."""
    return features.model_dump()


def forecast_inputs(
    raw: pd.DataFrame,
    ingest: TrafficIngest,
    preprocessing: TrafficPreprocessing,
    scaler: MinMaxScaler,
    features: TrafficFeatures | None = None,
) -> tuple[np.ndarray | dict[str, np.ndarray], pd.DatetimeIndex]:
    """A raw recent hourly series → one window of model input, and the ``horizon_hours`` timestamps it forecasts.

    The one place that turns new data into what the networks were trained on, so the
    registered model, the batch forecast and training agree: the same checks as training's
    ingest (columns, numbers, hours), the same gap policy, the training scaler, then the
    window layout — or, for a calendar-aware variant (``features``), training's own
    :func:`window_features` on the recent hours plus the forecast hours (whose calendar is
    known and whose volumes are never read). The recent series must hold the hours the
    inputs reach back (``history_hours``, or the longest of ``features``' history and lags);
    an hour among them that the gap policy cannot fill stops with the hours named. Holidays
    of the forecast hours are those the recent table names for their dates (none otherwise).
    """
    source = source_of(raw, "the recent traffic table")
    needed = preprocessing.history_hours if features is None else max(features.history_hours, *features.target_hour_lags)
    traffic = ingest_traffic(raw, ingest.model_copy(update={"min_hours": 1}))
    if len(traffic) < needed:
        raise DataValidationError(
            source,
            ingest.volume_column,
            f"only {len(traffic)} hourly rows; the forecast needs the last {needed} hours",
            f"provide at least the {needed} hours before the forecast (more are fine: the last {needed} are used)",
        )
    hourly = regularize_hourly(traffic, preprocessing).tail(needed).reset_index(drop=True)
    missing = hourly["traffic_volume"].isna()
    if missing.any():
        raise DataValidationError(
            source,
            ingest.volume_column,
            f"no volume for the hours {', '.join(map(str, hourly.loc[missing, 'datetime']))} among the last {needed} "
            f"(a gap longer than max_fill_gap_hours={preprocessing.max_fill_gap_hours})",
            f"provide those hours' counts; the forecast needs the last {needed} hours",
        )
    scaled = scaler.transform(hourly[["traffic_volume"]])[:, 0].astype("float32")
    last = hourly["datetime"].iloc[-1]
    hours = pd.date_range(last + pd.Timedelta(hours=1), periods=preprocessing.horizon_hours, freq="h", name="datetime")
    if features is None:
        history = scaled[-preprocessing.history_hours :]
        return (history[None, :, None] if preprocessing.window_layout == "recurrent" else history[None, None, :]), hours
    series = pd.concat([hourly.assign(scaled=scaled), pd.DataFrame({"datetime": hours, "scaled": np.nan})], ignore_index=True)
    if "holiday" in hourly.columns:
        series["holiday"] = series["datetime"].dt.normalize().isin(hourly.loc[hourly["holiday"], "datetime"].dt.normalize())
    model_input = window_features(series, {"target_start_forecast": np.array([needed])}, features, preprocessing)
    return model_input["x_forecast"], hours


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


def _stacked_rows(x: dict[str, np.ndarray]) -> np.ndarray:
    """One row per (window, hour ahead): hours ahead, that hour's known features, the window's history."""
    n_windows, horizon, _ = x["target_hours"].shape
    hours_ahead = np.broadcast_to(np.arange(1, horizon + 1, dtype="float32")[None, :, None], (n_windows, horizon, 1))
    history = np.broadcast_to(x["history"][:, None, :, 0], (n_windows, horizon, x["history"].shape[1]))
    return np.concatenate([hours_ahead, x["target_hours"], history], axis=-1).reshape(n_windows * horizon, -1)


def fit_forecast_regressor(model_input: dict[str, Any], baseline: TrafficRegressor, seed: int) -> tuple[Any, dict[str, Any]]:
    """Fit one scikit-learn regressor for all hours ahead on the training windows' rows.

    Stacking the hours ahead into rows (rather than one model per hour) gives the trees
    24 times the rows and lets them share what the hours have in common; the hours-ahead
    column lets them tell the hours apart. Validation windows stay unused, as for the networks' test.
    """
    hyperparameters = {"random_state": int(seed), **baseline.hyperparameters}
    regressor = HistGradientBoostingRegressor(**hyperparameters)
    rows, targets = _stacked_rows(model_input["x_train"]), model_input["y_train"].reshape(-1)
    seconds = fit_estimator(regressor, rows, targets, baseline.threads, baseline.method)
    iterations = int(regressor.n_iter_)
    return regressor, {"history": {}, "train_seconds": round(seconds, 3), "epochs_run": 0, "best_epoch": 0, "n_iterations": iterations}


def predict_regressor(regressor: Any, model_input: dict[str, Any]) -> np.ndarray:
    """Scaled 24-hour forecasts of a stacked regressor for every test window."""
    targets = model_input["y_test"]
    return regressor.predict(_stacked_rows(model_input["x_test"])).reshape(targets.shape).astype("float32")


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

COMPARISON_COLUMNS = ("trained", "n_params", "test_mae", "test_rmse", "test_mse", "train_seconds", "epochs_run")

#: The metrics the verdict compares the best model and the naive reference on.
VERDICT_METRICS = ("test_mae", "test_rmse")


def mse_history(history: dict[str, list[float]]) -> dict[str, list[float]]:
    """A network's per-epoch MSE as ``loss`` / ``val_loss``: its loss, or its ``mse`` metric when it trained on another loss."""
    if "mse" in history:
        return {"loss": history["mse"], "val_loss": history.get("val_mse", [])}
    return history


def verdict(comparison: pd.DataFrame, naive_reference: str, course_networks: list[str]) -> dict[str, Any]:
    """The best fitted model against the naive reference, on MAE and RMSE (relative change: negative = better).

    ``comparison`` is sorted by ``test_mae``; the reference is a naive baseline's name
    (``seasonal_naive_168h``: copy last week); if it is not configured to run, the best naive one.
    ``course_networks`` (those with course results) are also picked out: they read 6 hours only.
    """
    fitted, naive = comparison[comparison["trained"]], comparison[~comparison["trained"]]
    if fitted.empty or naive.empty:
        raise ValueError("The traffic_lstm report compares fitted models with naive baselines: configure at least one of each.")
    named = naive[naive["model"] == naive_reference]
    reference = (named if not named.empty else naive).iloc[0]
    best = fitted.iloc[0]
    course = fitted[fitted["model"].isin(course_networks)]
    return {
        "best": best.to_dict(),
        "reference": reference.to_dict(),
        "best_course_network": course.iloc[0].to_dict() if not course.empty else None,
        "change": {metric: float(best[metric] / reference[metric] - 1) for metric in VERDICT_METRICS},
    }


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
    figure, axis = plt.subplots(figsize=(11, 4.8))
    axis.plot(scaled["datetime"].iloc[hours], scaled["traffic_volume"].iloc[hours], color="black", linewidth=2, label="actual")
    for name, forecast in predictions.items():
        volume = scaler.inverse_transform(forecast[days].reshape(-1, 1))[:, 0]
        axis.plot(scaled["datetime"].iloc[hours], volume, linewidth=1, label=name)
    axis.set(title="Day-ahead forecasts vs actual, first test week", ylabel="vehicles/hour")
    axis.legend(fontsize="small", ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.18))  # below: eight curves would hide the peaks
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
    comparison = comparison_table(summaries, COMPARISON_COLUMNS, sort_by="test_mae")
    comparison["trained"] = comparison["trained"].fillna(comparison["epochs_run"] > 0).astype(bool)
    learning_curves_figure = learning_curves(
        {name: mse_history(summary["history"]) for name, summary in summaries.items()},
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

    Computes what the sentences state: the best fitted model against the naive reference
    (``reporting.naive_reference``) on MAE and RMSE, the best of the course's networks; the
    hour and window counts.
    """
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
        verdict=verdict(comparison, reporting["naive_reference"], list(reporting.get("course_results") or {})),
        comparison=comparison,
        data=data,
        figures=figures,
    )
