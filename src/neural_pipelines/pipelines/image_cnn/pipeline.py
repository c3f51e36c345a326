"""Wiring of ``image_cnn``.

Top-level nodes live in the ``image_cnn`` namespace; every model variant named in
``parameters_image_cnn.yml`` (a block with a ``model`` entry) is a namespace of one
batches → build → train → evaluate → record template (``image_cnn.dnn``, ``image_cnn.deep_cnn``
…), which kedro-viz shows as a collapsible group and the MLflow hook turns into one nested run.
"""

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from neural_pipelines import serving
from neural_pipelines.pipelines.image_cnn import nodes
from neural_pipelines.pipelines.variants import experiment, keras_steps, record_step, shapes_step, step

PIPELINE = "image_cnn"

# Datasets every variant reads, outside the variant namespaces.
SHARED_DATA = {"splits"}


def variant_template(variant: Mapping[str, Any]) -> Pipeline:
    """Batches → build → fit → evaluate → record one classifier."""
    return Pipeline(
        [
            step(nodes.make_batches, ["splits", "params:training", "params:seed"], "batches"),
            *keras_steps("batches", shapes_step(nodes.model_shapes, ["splits", "params:image_shape", "params:classes"])),
            step(nodes.evaluate_model, ["model", "splits", "params:classes", "params:evaluation"], ["evaluation", "test_predictions"]),
            step(nodes.plot_confusion_matrix, ["evaluation", "params:classes"], "confusion_matrix"),
            record_step(),
        ]
    )


def data_pipeline() -> Pipeline:
    """Ingest and validate → uint8 images → stratified train / validation / test split; a few images' colour channels."""
    return Pipeline(
        [
            step(nodes.ingest_images, ["raw_images", "params:classes", "params:image_shape", "params:ingest"], "images"),
            step(nodes.split_images, ["images", "params:preprocessing", "params:seed"], "splits"),
        ]
    )


def report_pipeline() -> Pipeline:
    """Comparison table, figures and the HTML report over every variant's summary, predictions and model."""
    figures = [
        "accuracy_curves",
        "loss_curves",
        "best_confusion_matrix",
        "misclassified",
        "first_layer_filters",
        "feature_maps",
        "filter_patterns",
        "convolution_demo",
        "rgb_channels",
    ]
    return Pipeline(
        [
            step(
                nodes.build_report,
                ["summaries", "predictions", "models", "splits", "params:classes", "params:preprocessing", "params:reporting"],
                ["comparison", *figures, "report"],
            )
        ]
    )


def champion() -> Node:
    """The best network as a raw-image classifier (for the registry)."""
    return step(
        serving.grayscale_champion,
        ["summaries", "models", "splits", "params:classes", "params:image_shape", "params:registry"],
        "champion_candidate",
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``image_cnn`` namespace."""
    collected = {"summaries": "summary", "predictions": "test_predictions", "models": "model"}
    return experiment(PIPELINE, data_pipeline(), variant_template, SHARED_DATA, collected, report_pipeline(), champion())
