"""What travels with a registered ``traffic_lstm`` model: raw recent counts in, the next hours in vehicles/hour out.

:class:`ForecastModel` (an ``mlflow.pyfunc`` model) holds the ingest and preprocessing
settings, the training scaler and the trained forecaster. ``predict`` takes a table of
recent hourly counts (``datetime``, ``traffic_volume``: the training file's columns, or the
names ``traffic_lstm.ingest`` gives) and returns the next ``horizon_hours`` timestamps with
their forecasts in vehicles/hour, de-scaled and clipped at 0. Turning the raw series into
model input is :func:`~neural_pipelines.pipelines.traffic_lstm.nodes.forecast_inputs` —
it builds the course networks' window, or a calendar-aware variant's history and
forecast-hour features with training's own ``window_features``. A Keras network is stored inside the pickle as ``.keras`` bytes and reloaded
in safe mode (as ``house_prices``' price model); any other forecaster needs a ``predict``.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType
from sklearn.preprocessing import MinMaxScaler

from neural_pipelines.pipelines.traffic_lstm.nodes import TrafficFeatures, TrafficIngest, TrafficPreprocessing, forecast_inputs
from neural_pipelines.registry import RegistrySettings, best_variant
from neural_pipelines.serving import KerasBytesMixin

logger = logging.getLogger(__name__)


class ForecastModel(KerasBytesMixin, mlflow.pyfunc.PythonModel):
    """Recent hourly counts (a DataFrame) → the next ``horizon_hours``: ``datetime``, ``forecast`` (vehicles/hour)."""

    keras_attribute = "forecaster"

    def __init__(
        self,
        ingest: TrafficIngest,
        preprocessing: TrafficPreprocessing,
        scaler: MinMaxScaler,
        forecaster: Any,
        features: TrafficFeatures | None = None,
    ) -> None:
        self.ingest = ingest
        self.preprocessing = preprocessing
        self.scaler = scaler
        self.forecaster = forecaster
        self.features = features  # a calendar-aware variant's: history, calendar and lags of the forecast hours

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.forecast(model_input)

    def forecast(self, recent: pd.DataFrame) -> pd.DataFrame:
        """The next ``horizon_hours`` after the last hour of ``recent``, in vehicles/hour (>= 0)."""
        used = {self.ingest.timestamp_column, self.ingest.volume_column, self.ingest.holiday_column}
        unused = [str(column) for column in recent.columns if column not in used]
        if unused:
            logger.warning("Ignoring columns the forecaster does not use: %s", ", ".join(unused))
        window, hours = forecast_inputs(recent, self.ingest, self.preprocessing, self.scaler, getattr(self, "features", None))
        if isinstance(self.forecaster, keras.Model):
            scaled = keras.ops.convert_to_numpy(self.forecaster(window, training=False))
        else:
            scaled = self.forecaster.predict(window)
        scaled = np.asarray(scaled, dtype="float64").reshape(-1, 1)
        volumes = np.clip(self.scaler.inverse_transform(pd.DataFrame(scaled, columns=["traffic_volume"]))[:, 0], 0, None)
        return pd.DataFrame({"datetime": hours.strftime("%Y-%m-%d %H:%M:%S"), "forecast": volumes})

    def mlflow_signature(self) -> ModelSignature:
        """Columns in: the timestamp and the count (any type: text or datetimes, numbers or empty cells; checked as in training).

        Out: ``datetime`` (text) and ``forecast`` (vehicles/hour).
        """
        return ModelSignature(
            inputs=Schema([ColSpec(AnyType(), self.ingest.timestamp_column), ColSpec(AnyType(), self.ingest.volume_column)]),
            outputs=Schema([ColSpec("string", "datetime"), ColSpec("double", "forecast")]),
        )


def package_champion(  # noqa: PLR0913, PLR0917 (every variant's results and models, and what a raw series needs to become their input)
    summaries: dict[str, dict[str, Any]],
    models: dict[str, Any],
    features: dict[str, dict[str, Any]],
    scaler: MinMaxScaler,
    hourly: pd.DataFrame,
    ingest: TrafficIngest,
    preprocessing: TrafficPreprocessing,
    registry: RegistrySettings,
) -> dict[str, Any]:
    """The best trained forecaster by ``registry.metric`` as a raw-counts-in :class:`ForecastModel`, for the registry.

    The registry holds models only: a naive baseline that scores better is named in the
    choice (``beaten_by_reference``), and the best model is registered all the same. The
    input example is the last week of the hourly series (raw timestamps and counts).
    ``features`` holds the calendar-aware variants' features (variant → block), so such a
    champion builds its inputs from new data as in training.
    """
    choice = best_variant(summaries, registry, eligible=set(models))
    variant_features = features.get(choice["variant"])
    model = ForecastModel(
        ingest, preprocessing, scaler, models[choice["variant"]], TrafficFeatures(**variant_features) if variant_features else None
    )
    recent = hourly.tail(preprocessing.context)
    example = pd.DataFrame(
        {
            ingest.timestamp_column: recent["datetime"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(),
            ingest.volume_column: recent["traffic_volume"].to_numpy(),
        }
    )
    return {"pipeline": "traffic_lstm", "choice": choice, "python_model": model, "input_example": example}


def forecast_table(model: Any, recent: pd.DataFrame) -> pd.DataFrame:
    """``traffic_lstm_forecast``'s node: the loaded registered model's next-hours forecast for ``recent``."""
    python_model = model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else model
    forecast = python_model.forecast(recent)
    logger.info("Forecast %d hours from %s to %s", len(forecast), forecast["datetime"].iloc[0], forecast["datetime"].iloc[-1])
    return forecast
