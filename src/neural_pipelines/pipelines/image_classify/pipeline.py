"""Wiring of ``image_classify``: a folder of new pictures → a versioned CSV ``file,predicted_class,confidence,model_version``.

One copy of the same three steps per image experiment, each in its own namespace
(``image_cnn_classify``, ``horse_or_human_classify``, ``vgg16_finetune_classify``; run one
with ``kedro run --pipelines=image_classify --namespaces=horse_or_human_classify``): validate the folder, load the experiment's
registered model (``<namespace>.model_uri``: its champion unless told otherwise), classify.
Not part of ``__default__``: it needs registered models and folders of new pictures.
"""

from kedro.pipeline import Pipeline

from neural_pipelines.pipelines.image_classify import nodes
from neural_pipelines.pipelines.variants import step
from neural_pipelines.registry import load_registered_model

#: The image experiments whose registered models this pipeline applies.
EXPERIMENTS = ("image_cnn", "horse_or_human", "vgg16_finetune")


def namespace(experiment: str) -> str:
    """The namespace (and pipeline name) of one experiment's classification: ``<experiment>_classify``."""
    return f"{experiment}_classify"


def template() -> Pipeline:
    """Validate the pictures → load the model → classify."""
    return Pipeline(
        [
            step(nodes.validate_folder, ["new_images", "params:settings"], "images"),
            step(load_registered_model, "params:model_uri", ["model", "model_version"]),
            step(nodes.classify_images, ["images", "model", "model_version"], "predictions"),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Every image experiment's classification, each in its namespace."""
    return sum((Pipeline(template(), namespace=namespace(experiment)) for experiment in EXPERIMENTS), Pipeline([]))
