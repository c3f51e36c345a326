"""``image_classify``: a registered model applied to new data (see ``pipeline.py``)."""

from neural_pipelines.pipelines.image_classify.pipeline import create_pipeline

__all__ = ["create_pipeline"]
