"""``traffic_lstm``: 24-hour traffic forecast from the last 6 hours — dense vs SimpleRNN vs LSTM vs naive baselines."""

from neural_pipelines.pipelines.traffic_lstm.pipeline import create_pipeline

__all__ = ["create_pipeline"]
