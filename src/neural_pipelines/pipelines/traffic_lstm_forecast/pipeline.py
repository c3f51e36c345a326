"""Wiring of ``traffic_lstm_forecast``: a CSV of recent hourly counts → a versioned CSV of the next hours' forecasts.

Loads the registered model (``traffic_lstm_forecast.model_uri``: the champion unless told
otherwise) and forecasts the ``horizon_hours`` after the table's last hour; the model checks
the table as training's ingest does (``traffic_lstm.nodes.forecast_inputs``). Not part of
``__default__``: it needs a registered ``traffic_lstm`` model and a table of recent counts
(``data/01_raw/traffic_lstm/recent.csv``).
"""

from kedro.pipeline import Pipeline

from neural_pipelines.pipelines.traffic_lstm import serving
from neural_pipelines.pipelines.variants import step
from neural_pipelines.registry import load_registered_model


def create_pipeline(**kwargs) -> Pipeline:
    """Load the model → forecast the next hours."""
    return Pipeline(
        [
            step(
                load_registered_model,
                "params:traffic_lstm_forecast.model_uri",
                ["traffic_lstm_forecast.model", "traffic_lstm_forecast.model_version"],
            ),
            step(
                serving.forecast_table,
                ["traffic_lstm_forecast.model", "traffic_lstm_forecast.recent_traffic"],
                "traffic_lstm_forecast.forecast",
            ),
        ]
    )
