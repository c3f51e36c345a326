"""``traffic_lstm_tune``: an Optuna study over one ``traffic_lstm`` network, every trial a nested MLflow run."""

from neural_pipelines.pipelines.traffic_lstm_tune.pipeline import create_pipeline

__all__ = ["create_pipeline"]
