"""``horse_or_human``: the course's CNN with and without augmentation + dropout — does augmentation close the train–validation gap?"""

from neural_pipelines.pipelines.horse_or_human.pipeline import create_pipeline

__all__ = ["create_pipeline"]
