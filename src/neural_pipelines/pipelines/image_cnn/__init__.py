"""``image_cnn``: dense net vs CNN vs CNN + dense vs deep CNN vs MNIST CNN — accuracy, parameters, training time."""

from neural_pipelines.pipelines.image_cnn.pipeline import create_pipeline

__all__ = ["create_pipeline"]
