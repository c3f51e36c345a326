"""``sample_images``: draws, from a seed, the image folders the base environment's image pipelines read."""

from neural_pipelines.pipelines.sample_images.pipeline import create_pipeline

__all__ = ["create_pipeline"]
