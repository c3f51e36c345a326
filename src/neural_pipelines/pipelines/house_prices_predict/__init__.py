"""``house_prices_predict``: a registered model applied to new data (see ``pipeline.py``)."""

from neural_pipelines.pipelines.house_prices_predict.pipeline import create_pipeline

__all__ = ["create_pipeline"]
