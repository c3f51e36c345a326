"""``traffic_lstm_forecast``: a registered model applied to new data (see ``pipeline.py``)."""

from neural_pipelines.pipelines.traffic_lstm_forecast.pipeline import create_pipeline

__all__ = ["create_pipeline"]
