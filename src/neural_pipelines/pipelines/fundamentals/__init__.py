"""``fundamentals``: the course's first models — one neuron learns y = 2x − 1, a perceptron and an MLP on iris, regression MLPs."""

from neural_pipelines.pipelines.fundamentals.pipeline import create_pipeline

__all__ = ["create_pipeline"]
