"""Wiring of ``horse_or_human``.

Top-level nodes live in the ``horse_or_human`` namespace; every model variant named in
``parameters_horse_or_human.yml`` (``cnn``, ``cnn_augmented``) is a namespace of one
batches → build → train → evaluate → record template, which kedro-viz shows as a
collapsible group and the MLflow hook turns into one nested run.

The image folder is ``horse_or_human.raw_images@folder``: in the base environment the same
folder that ``sample_images`` writes as ``horse_or_human.raw_images@generated`` (Kedro
transcoding, so ``kedro run`` runs the generator first); in ``full`` the course's download.
"""

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from neural_pipelines import serving
from neural_pipelines.pipelines.horse_or_human import nodes
from neural_pipelines.pipelines.variants import experiment, keras_steps, record_step, shapes_step, step
from neural_pipelines.training.steps import rgb_image_shapes

PIPELINE = "horse_or_human"

# Datasets every variant reads, outside the variant namespaces.
SHARED_DATA = {"images"}


def variant_template(variant: Mapping[str, Any]) -> Pipeline:
    """Batches → build → fit → evaluate → plot mistakes → record one classifier."""
    return Pipeline(
        [
            step(nodes.make_batches, ["images", "params:image_size", "params:splits", "params:training", "params:seed"], "batches"),
            *keras_steps("batches", shapes_step(rgb_image_shapes, ["images", "params:image_size"])),
            step(
                nodes.evaluate_model,
                ["model", "images", "params:classes", "params:image_size", "params:splits", "params:evaluation"],
                ["evaluation", "predictions"],
            ),
            step(
                nodes.plot_misclassified,
                ["evaluation", "predictions", "params:classes", "params:image_size", "params:evaluation", "params:reporting"],
                "misclassified",
            ),
            record_step(),
        ]
    )


def data_pipeline() -> Pipeline:
    """Validate the image folder → manifest with labels; the networks' input shape."""
    return Pipeline([step(nodes.validate_images, ["raw_images@folder", "params:classes", "params:splits", "params:ingest"], "images")])


def report_pipeline() -> Pipeline:
    """Comparison table, figures and the HTML report over every variant's summary, predictions and model."""
    parameters = ["params:classes", "params:image_size", "params:splits", "params:evaluation", "params:reporting"]
    return Pipeline(
        [
            step(
                nodes.build_report,
                ["summaries", "all_predictions", "models", "images", *parameters],
                ["comparison", "accuracy_curves", "loss_curves", "augmented_samples", "report"],
            )
        ]
    )


def champion() -> Node:
    """The best network as a raw-image classifier (for the registry)."""
    return step(
        serving.rgb_champion,
        ["summaries", "models", "images", "params:classes", "params:image_size", "params:registry"],
        "champion_candidate",
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``horse_or_human`` namespace."""
    collected = {"summaries": "summary", "all_predictions": "predictions", "models": "model"}
    return experiment(PIPELINE, data_pipeline(), variant_template, SHARED_DATA, collected, report_pipeline(), champion())
