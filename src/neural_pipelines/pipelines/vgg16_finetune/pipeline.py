"""Wiring of ``vgg16_finetune``.

Top-level nodes live in the ``vgg16_finetune`` namespace; each model variant is a namespace
(``vgg16_finetune.feature_extraction``, ``….fine_tuning``, ``….mobilenet_v2``, ``….from_scratch``)
that kedro-viz shows as a collapsible group and the MLflow hook turns into one nested run.
A variant's parameter block picks one of three templates:

- ``continue_from`` (``fine_tuning``): that variant's trained model with the base's last
  layers unfrozen → cache → train → evaluate → record;
- a ``model.architecture`` with a pretrained base (``vgg16``, ``mobilenet_v2``:
  ``models.transfer.TRANSFER_MODELS``; ``feature_extraction``, ``mobilenet_v2``): a frozen
  base under a new head → cache the base's output once → train the head → evaluate → record;
- any other ``model.architecture`` (``from_scratch``: ``cats_vs_dogs_cnn``): nothing is frozen,
  so nothing can be cached: batches read from the image files → build → train the whole
  network (the steps every Keras variant shares) → evaluate on the test files → record.

The variants, architectures, weights, optimizers and epochs are in ``parameters_vgg16_finetune.yml``.
"""

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from neural_pipelines import serving
from neural_pipelines.models.transfer import TRANSFER_MODELS
from neural_pipelines.pipelines.variants import (
    build_step,
    collect,
    configured_variants,
    experiment,
    keras_steps,
    record_step,
    shapes_step,
    step,
)
from neural_pipelines.pipelines.vgg16_finetune import nodes
from neural_pipelines.training.steps import rgb_image_shapes

PIPELINE = "vgg16_finetune"


def sources() -> set[str]:
    """The variants others continue from (``continue_from``): their trained model and settings are read across namespaces."""
    return {block["continue_from"] for block in configured_variants(PIPELINE).values() if "continue_from" in block}


def shared_data() -> set[str]:
    """Datasets and parameters every variant reads outside its namespace: the images, the shapes, and the sources' models."""
    return {"images"} | {f"{source}.model" for source in sources()} | {f"params:{source}.model" for source in sources()}


def train_and_evaluate() -> list[Node]:
    """Cache the frozen part's output → fit the trainable part → save, evaluate → record (every variant).

    ``trained_model`` stays in memory for this run's evaluation and predictions; ``model`` is
    the same network as a versioned ``.keras`` file, logged to MLflow. Only ``fine_tuning``
    reads ``feature_extraction.model`` back from its file: it changes the model it gets, and
    ``feature_extraction``'s own trained model must stay as it was.
    """
    return [
        step(nodes.cache_features, ["untrained_model", "images", "params:image_size", "params:features"], "features"),
        step(
            nodes.train_model,
            ["untrained_model", "features", "params:optimizer", "params:compile", "params:training", "params:features", "params:seed"],
            ["trained_model", "fit_record"],
        ),
        step(nodes.save_model, "trained_model", "model"),
        step(
            nodes.evaluate_model,
            ["trained_model", "features", "images", "params:image_size", "params:features", "params:evaluation"],
            ["evaluation", "test_predictions"],
        ),
        record_step(),
    ]


def new_head_template() -> Pipeline:
    """A pretrained base, frozen, under a new head (``feature_extraction``, ``mobilenet_v2``)."""
    return Pipeline([shapes_step(rgb_image_shapes, ["images", "params:image_size"]), build_step(), *train_and_evaluate()])


def fine_tuning_template(source: str) -> Pipeline:
    """``source``'s trained model with the base's last layers unfrozen, at a lower learning rate."""
    return Pipeline(
        [
            step(
                nodes.prepare_fine_tuning,
                [f"{source}.model", "params:model", "params:optimizer", "params:compile", f"params:{source}.model"],
                "untrained_model",
            ),
            *train_and_evaluate(),
        ]
    )


def from_scratch_template() -> Pipeline:
    """A network trained whole from random weights (``from_scratch``) on image batches read from the files, every epoch.

    ``trained_model`` stays in memory for this run's evaluation and predictions, as in the
    other templates; ``model`` is the versioned ``.keras`` file logged to MLflow.
    """
    return Pipeline(
        [
            step(nodes.make_batches, ["images", "params:image_size", "params:training", "params:seed"], "batches"),
            *keras_steps("batches", shapes_step(rgb_image_shapes, ["images", "params:image_size"]), trained="trained_model"),
            step(nodes.save_model, "trained_model", "model"),
            step(
                nodes.evaluate_on_images,
                ["trained_model", "images", "params:image_size", "params:evaluation"],
                ["evaluation", "test_predictions"],
            ),
            record_step(),
        ]
    )


def template_for(variant: Mapping[str, Any]) -> Pipeline:
    """``continue_from`` fine-tunes another variant's trained model; a pretrained base's architecture gets a new head
    on the frozen base; any other architecture trains from scratch on the images."""
    if "continue_from" in variant:
        return fine_tuning_template(variant["continue_from"])
    if variant["model"].get("architecture") in TRANSFER_MODELS:
        return new_head_template()
    return from_scratch_template()


def report_pipeline() -> Pipeline:
    """Predictions for the new pictures, then the comparison table, figures and HTML report."""
    # each variant's base settings (architecture, weights): its own, or those of the variant it continues from
    variants = configured_variants(PIPELINE)
    settings = {name: f"params:{block.get('continue_from', name)}.model" for name, block in variants.items()}
    results = ["summaries", "predictions", "model_settings", "models", "images", "new_image_manifest", "new_image_predictions"]
    figures = ["accuracy_curves", "loss_curves", "misclassified", "new_predictions_grid", "filter_patterns"]
    return Pipeline(
        [
            Node(collect, settings, "model_settings", name="collect_model_settings"),
            step(
                nodes.predict_new_images,
                ["new_image_manifest", "summaries", "models", "params:classes", "params:image_size", "params:predict"],
                "new_image_predictions",
            ),
            step(
                nodes.build_report,
                [*results, "params:classes", "params:image_size", "params:reporting"],
                ["comparison", *figures, "report"],
            ),
        ]
    )


def data_pipeline() -> Pipeline:
    """Validate the image folder and label every image; check the new pictures too.

    Only the predict step at the very end reads the new pictures, but they are validated
    here: both nodes read raw folders only, so they come first in the topological order,
    before any variant's ``cache_features`` or ``train_model``, and a missing folder or a
    corrupt picture stops the run before any training instead of after it.
    """
    return Pipeline(
        [
            step(nodes.validate_images, ["raw_images@folder", "params:classes", "params:splits", "params:ingest"], "images"),
            step(nodes.validate_new_images, ["new_images@folder", "params:predict"], "new_image_manifest"),
        ]
    )


def champion() -> Node:
    """The best network as a raw-image classifier, with the predict step's threshold (for the registry)."""
    return step(
        serving.rgb_champion,
        ["summaries", "models", "images", "params:classes", "params:image_size", "params:registry", "params:predict"],
        "champion_candidate",
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``vgg16_finetune`` namespace."""
    collected = {"summaries": "summary", "predictions": "test_predictions", "models": "trained_model"}
    return experiment(PIPELINE, data_pipeline(), template_for, shared_data(), collected, report_pipeline(), champion())
