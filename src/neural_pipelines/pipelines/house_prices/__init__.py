"""``house_prices``: Ames sale prices — the course's MLP recipe, a practitioner's MLP, Wide & Deep, Ridge and gradient boosting."""

from neural_pipelines.pipelines.house_prices.pipeline import create_pipeline

__all__ = ["create_pipeline"]
