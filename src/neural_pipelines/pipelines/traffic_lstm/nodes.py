"""Nodes of ``traffic_lstm``: forecast the next 24 hours of traffic from the last 6.

Data flow: validate the hourly table → regular hourly index with a documented gap policy
→ chronological split and min-max scaling fitted on training rows → sliding windows →
(per variant) build, fit, predict / naive baseline forecast → score → report.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.metrics import mean_absolute_error, mean_squared_error
from sklearn.preprocessing import MinMaxScaler

from neural_pipelines.models.forecasting import build_forecaster
from neural_pipelines.reporting import HtmlReport, comparison_table, learning_curves, lines_by_step
from neural_pipelines.training import fit_from_params, mlflow_metric_history, seed_everything
from neural_pipelines.validation import DataValidationError, examples, source_of

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
PARAMS_FILE = "conf/base/parameters_traffic_lstm.yml"


# --- ingest -------------------------------------------------------------------------


def _csv_lines(mask: pd.Series, values: pd.Series) -> str:
    """The first offending CSV lines (header = line 1) and their values, for an error message."""
    lines = [int(position) + 2 for position in np.flatnonzero(mask.to_numpy())]
    return "CSV " + examples(lines, values[mask], noun="lines")


def ingest_traffic(raw: pd.DataFrame, ingest: dict[str, Any]) -> pd.DataFrame:
    """Validate a raw hourly traffic table; keep ``datetime`` and ``traffic_volume``, sorted.

    Empty volume cells are allowed (the gap policy of :func:`regularize_hourly` handles
    them); repeated timestamps are dropped only with ``duplicate_timestamps: keep_first``;
    anything else that is not a non-negative number, an unparseable, duplicate or
    non-hourly timestamp, or a series too short for one window stops the run.
    """
    source = source_of(raw)
    time_column, volume_column = ingest["timestamp_column"], ingest["volume_column"]
    for column in (time_column, volume_column):
        if column not in raw.columns:
            raise DataValidationError(
                source,
                column,
                f"missing (found columns: {', '.join(map(str, raw.columns))})",
                f"add a '{column}' column, or name yours in traffic_lstm.ingest.timestamp_column / "
                f"volume_column ({PARAMS_FILE}, overridable in conf/local)",
            )

    timestamps = pd.to_datetime(raw[time_column], errors="coerce", format=ingest.get("timestamp_format"))
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
    negative = volumes < 0
    if negative.any():
        raise DataValidationError(
            source,
            volume_column,
            f"negative volumes on {_csv_lines(negative, volumes)}",
            "traffic volumes are counts (>= 0); fix or blank those cells",
        )

    if ingest.get("duplicate_timestamps", "error") == "keep_first":
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
    needed = ingest["min_hours"]
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


def regularize_hourly(traffic: pd.DataFrame, preprocessing: dict[str, Any]) -> pd.DataFrame:
    """Put the series on a complete hourly index and apply the gap policy.

    Policy: a run of missing hours (absent rows or empty volumes) at most
    ``max_fill_gap_hours`` long is filled by linear interpolation in time and flagged in
    ``imputed``; a longer run stays missing, and every window that touches it is dropped
    later, so no model trains or is scored on invented hours.
    """
    max_gap = int(preprocessing["max_fill_gap_hours"])
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


def split_and_scale(hourly: pd.DataFrame, preprocessing: dict[str, Any]) -> tuple[pd.DataFrame, MinMaxScaler]:
    """Chronological split and min-max scaling fitted on the training rows only.

    The last ``test_fraction`` of hours is the held-out test set (the course validated on
    it); early-stopping validation is the last ``validation_fraction`` of what remains.
    The scaler never sees validation or test rows.
    """
    n_hours = len(hourly)
    test_start = round(n_hours * (1 - preprocessing["test_fraction"]))
    validation_start = round(test_start * (1 - preprocessing["validation_fraction"]))
    split = np.full(n_hours, "train", dtype=object)
    split[validation_start:test_start] = "validation"
    split[test_start:] = "test"

    scaler = MinMaxScaler()
    scaler.fit(hourly.loc[: validation_start - 1, ["traffic_volume"]].dropna())
    scaled = hourly.assign(
        split=pd.Categorical(split, categories=SPLITS),
        scaled=scaler.transform(hourly[["traffic_volume"]])[:, 0].astype("float32"),
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


def make_windows(scaled: pd.DataFrame, preprocessing: dict[str, Any]) -> dict[str, np.ndarray]:
    """Sliding windows: ``history_hours`` inputs → the next ``horizon_hours`` targets.

    A window belongs to the split that holds *all* its target hours (its inputs may reach
    back into the previous split: those hours are past observations, not leakage). Windows
    touching a missing hour are dropped. ``window_layout: recurrent`` shapes inputs
    ``(n, history, 1)`` so recurrent layers step through the hours; ``course`` gives the
    course's ``(n, 1, history)``: one step of ``history`` features.
    """
    history, horizon = int(preprocessing["history_hours"]), int(preprocessing["horizon_hours"])
    layout = preprocessing["window_layout"]
    if layout not in ("recurrent", "course"):
        raise ValueError(f"traffic_lstm.preprocessing.window_layout={layout!r} in {PARAMS_FILE}; use 'recurrent' or 'course'.")

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
                "traffic series",
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


# --- Keras variants -----------------------------------------------------------------


def build_model(model: dict[str, Any], preprocessing: dict[str, Any], training: dict[str, Any], seed: int) -> keras.Model:
    """Build and compile one forecaster from its parameters, seeded for identical initial weights."""
    seed_everything(seed)
    history, horizon = int(preprocessing["history_hours"]), int(preprocessing["horizon_hours"])
    input_shape = (history, 1) if preprocessing["window_layout"] == "recurrent" else (1, history)
    forecaster = build_forecaster(
        model["architecture"],
        input_shape=input_shape,
        horizon=horizon,
        units=int(model["units"]),
        learning_rate=float(training["learning_rate"]),
        steps_per_execution=int(training.get("steps_per_execution", 1)),
    )
    logger.info("Built %s: %d parameters, input %s", forecaster.name, forecaster.count_params(), input_shape)
    return forecaster


def train_model(
    model: keras.Model, windows: dict[str, np.ndarray], training: dict[str, Any], seed: int
) -> tuple[keras.Model, dict[str, Any]]:
    """Fit on the training windows with early stopping on the validation windows."""
    train = (windows["x_train"], windows["y_train"])
    validation = (windows["x_validation"], windows["y_validation"])
    return model, fit_from_params(model, train, validation, training, seed)


def predict_windows(model: keras.Model, windows: dict[str, np.ndarray]) -> np.ndarray:
    """Scaled 24-hour forecasts for every test window."""
    return model.predict(windows["x_test"], batch_size=1024, verbose=0).astype("float32")


# --- baselines ----------------------------------------------------------------------


def forecast_baseline(
    scaled: pd.DataFrame, windows: dict[str, np.ndarray], baseline: dict[str, Any], preprocessing: dict[str, Any]
) -> np.ndarray:
    """Naive forecasts for exactly the test windows the networks are scored on.

    ``persistence`` repeats the last observed hour; ``seasonal_naive`` with
    ``season_hours`` s predicts hour t+k by the value at t+k-s (24: same hours yesterday,
    168: same hours last week). s must be >= the horizon so no future value is used.
    """
    series = scaled["scaled"].to_numpy(dtype="float32")
    horizon = int(preprocessing["horizon_hours"])
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
                "traffic series",
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

    ``mae_by_horizon[k]`` is the MAE of the forecast k+1 hours ahead.
    """
    y_true = windows["y_test"]
    scale = float(scaler.data_max_[0] - scaler.data_min_[0])
    return {
        "test_mse": float(mean_squared_error(y_true, predictions)),
        "test_mae": float(mean_absolute_error(y_true, predictions)) * scale,
        "test_rmse": float(np.sqrt(mean_squared_error(y_true, predictions))) * scale,
        "mae_by_horizon": (mean_absolute_error(y_true, predictions, multioutput="raw_values") * scale).tolist(),
        "n_test_windows": len(y_true),
    }


def record_results(evaluation: dict[str, Any], fit: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One variant's results in two forms: MLflow metric histories, and a summary for the report.

    MLflow gets per-epoch ``loss``/``val_loss``/``mae``/``val_mae`` (step = epoch),
    ``test_mae_by_horizon`` (step = hours ahead) and the final ``test_*`` and
    ``train_seconds`` — the same names in every variant's run.
    """
    fit = fit or {}
    final = {name: evaluation[name] for name in ("test_mse", "test_mae", "test_rmse")}
    if fit:
        final |= {"train_seconds": fit["train_seconds"], "epochs_run": fit["epochs_run"], "best_epoch": fit["best_epoch"]}
    metrics = mlflow_metric_history(
        per_epoch=fit.get("history"),
        final=final,
        per_step={"test_mae_by_horizon": evaluation["mae_by_horizon"]},
    )
    summary = {
        **final,
        "n_params": fit.get("n_params", 0),
        "train_seconds": fit.get("train_seconds", 0.0),
        "epochs_run": fit.get("epochs_run", 0),
        "mae_by_horizon": evaluation["mae_by_horizon"],
        "history": fit.get("history", {}),
    }
    return metrics, summary


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
    scaled: pd.DataFrame,
    windows: dict[str, np.ndarray],
    scaler: MinMaxScaler,
    preprocessing: dict[str, Any],
    **predictions: np.ndarray,
) -> tuple[pd.DataFrame, Figure, Figure, Figure, str]:
    """The comparison table, three figures and the HTML report that shows them all.

    ``predictions`` are the scaled test forecasts, one keyword per variant.
    """
    comparison = comparison_table(summaries, COMPARISON_COLUMNS, sort_by="test_mse")
    learning_curves_figure = learning_curves(
        {name: summary["history"] for name, summary in summaries.items()},
        metric="loss",
        kept_epochs={name: summary.get("best_epoch") for name, summary in summaries.items()},
    )
    mae_by_horizon_figure = lines_by_step(
        {name: summary["mae_by_horizon"] for name, summary in summaries.items()},
        title="Test MAE by forecast horizon",
        xlabel="hours ahead",
        ylabel="MAE (vehicles/hour)",
    )
    test_week_figure = plot_test_week(scaled, windows, scaler, predictions)
    html = render_report(comparison, learning_curves_figure, mae_by_horizon_figure, test_week_figure, scaled, windows, preprocessing)
    return comparison, learning_curves_figure, mae_by_horizon_figure, test_week_figure, html


def render_report(
    comparison: pd.DataFrame,
    learning_curves_figure: Figure,
    mae_by_horizon_figure: Figure,
    test_week_figure: Figure,
    scaled: pd.DataFrame,
    windows: dict[str, np.ndarray],
    preprocessing: dict[str, Any],
) -> str:
    """The pipeline's HTML report: data, table, figures and an honest verdict."""
    layout = preprocessing["window_layout"]
    best_baseline = comparison[comparison["epochs_run"] == 0].iloc[0]
    best_network = comparison[comparison["epochs_run"] > 0].iloc[0]
    verdict = (
        f"The best network, {best_network['model']} (test MSE {best_network['test_mse']:.4g}), "
        + ("beats" if best_network["test_mse"] < best_baseline["test_mse"] else "does not beat")
        + f" the best naive baseline, {best_baseline['model']} (test MSE {best_baseline['test_mse']:.4g})."
    )
    if best_network["test_mse"] >= best_baseline["test_mse"]:
        verdict += (
            f" The networks see only the last {preprocessing['history_hours']} hours, so they cannot tell a "
            "Saturday morning from a Monday morning; a forecast that copies the same hours of an earlier "
            "day or week can. Giving the models calendar features or a longer history is the next step."
        )
    split_hours = scaled["split"].value_counts()
    layout_note = (
        "window_layout=recurrent: inputs are (6 timesteps, 1 feature), so SimpleRNN and LSTM "
        "step through the six hours. The course used (1 timestep, 6 features) — set "
        "window_layout: course to reproduce it — which gives the recurrent layers a single step: "
        "they then act as a dense layer with tanh/gates and no memory."
        if layout == "recurrent"
        else "window_layout=course: inputs are (1 timestep, 6 features) as in the course, so the "
        "SimpleRNN and LSTM see one step and use no recurrence; window_layout: recurrent feeds "
        "(6, 1) so they step through the hours."
    )
    report = HtmlReport("traffic_lstm: 24-hour traffic forecast from the last 6 hours")
    report.paragraph(verdict)
    report.heading("Comparison on the held-out test windows")
    report.table(comparison)
    report.paragraph(
        "test_mse is on the 0–1 min-max scale fitted on training hours (comparable with the "
        "course's 2.17e-2 dense, 2.06e-2 SimpleRNN, 1.91e-2 LSTM); test_mae and test_rmse are "
        "in vehicles/hour. Baselines have no parameters and no training."
    )
    report.heading("Data")
    report.bullets(
        [
            f"{len(scaled)} hours from {scaled['datetime'].iloc[0]} to {scaled['datetime'].iloc[-1]}.",
            f"Split by time: train {split_hours.get('train', 0)} h, validation (early stopping) "
            f"{split_hours.get('validation', 0)} h, test (last {preprocessing['test_fraction']:.0%}) "
            f"{split_hours.get('test', 0)} h.",
            f"Missing hours: {int(scaled['imputed'].sum())} filled by linear interpolation (gaps of at most "
            f"{preprocessing['max_fill_gap_hours']} h); {int(scaled['traffic_volume'].isna().sum())} left "
            "missing, windows touching them dropped.",
            f"Windows: train {len(windows['y_train'])}, validation {len(windows['y_validation'])}, "
            f"test {len(windows['y_test'])}; input shape {tuple(windows['x_test'].shape[1:])}.",
            layout_note,
        ]
    )
    report.heading("Learning curves")
    report.figure(
        learning_curves_figure,
        "Training and validation MSE per epoch (log scale); dotted: the epoch whose weights early stopping kept.",
    )
    report.heading("Error by forecast horizon")
    report.figure(mae_by_horizon_figure, "Test MAE per hour ahead, vehicles/hour.")
    report.heading("One test week")
    report.figure(test_week_figure, "Forecasts issued at midnight for the next 24 hours, first full test week.")
    return report.render()
