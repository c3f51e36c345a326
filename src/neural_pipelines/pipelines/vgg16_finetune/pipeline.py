"""Wiring of ``vgg16_finetune``.

Top-level nodes live in the ``vgg16_finetune`` namespace; each model variant is a namespace
(``vgg16_finetune.feature_extraction``, ``….fine_tuning``, ``….mobilenet_v2``) that kedro-viz
shows as a collapsible group and the MLflow hook turns into one nested run. Every variant
ends in the same cache → train → evaluate → record steps; they differ in where the model
comes from: ``feature_extraction`` and ``mobilenet_v2`` build a frozen base with a new head,
``fine_tuning`` continues from ``feature_extraction``'s trained model with block5 unfrozen.
Architectures, weights, optimizers and epochs are in ``parameters_vgg16_finetune.yml``.
"""

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.variants import collect, collect_nodes, namespaced
from neural_pipelines.pipelines.vgg16_finetune import nodes

PIPELINE = "vgg16_finetune"
VARIANTS = ("feature_extraction", "fine_tuning", "mobilenet_v2")

# Datasets and parameters every variant shares stay outside the variant namespaces.
SHARED_DATA = {"images", "feature_extraction.model"}
SHARED_PARAMS = {"params:seed", "params:image_size", "params:evaluation", "params:feature_extraction.model"}


def train_and_evaluate() -> list[Node]:
    """Cache the frozen part's output → fit the trainable part → save, evaluate → record (every variant).

    ``trained_model`` stays in memory for this run's evaluation and predictions; ``model`` is
    the same network as a versioned ``.keras`` file, logged to MLflow. Only ``fine_tuning``
    reads ``feature_extraction.model`` back from its file: it changes the model it gets, and
    ``feature_extraction``'s own trained model must stay as it was.
    """
    return [
        Node(
            nodes.cache_features,
            ["untrained_model", "images", "params:image_size", "params:features"],
            "features",
            name="cache_features",
        ),
        Node(
            nodes.train_model,
            ["untrained_model", "features", "params:training", "params:features", "params:seed"],
            ["trained_model", "fit_record"],
            name="train_model",
        ),
        Node(nodes.save_model, "trained_model", "model", name="save_model"),
        Node(
            nodes.evaluate_model,
            ["trained_model", "features", "images", "params:image_size", "params:features", "params:evaluation"],
            ["evaluation", "test_predictions"],
            name="evaluate_model",
        ),
        Node(nodes.record_results, ["evaluation", "fit_record"], ["mlflow_metrics", "summary"], name="record_results"),
    ]


def new_head_template() -> Pipeline:
    """A pretrained base, frozen, under a new head (``feature_extraction``, ``mobilenet_v2``)."""
    return Pipeline(
        [
            Node(
                nodes.build_model,
                ["params:model", "params:optimizer", "params:image_size", "params:seed"],
                "untrained_model",
                name="build_model",
            ),
            *train_and_evaluate(),
        ]
    )


def fine_tuning_template() -> Pipeline:
    """``feature_extraction``'s trained model with the base's last layers unfrozen, at a lower learning rate."""
    return Pipeline(
        [
            Node(
                nodes.prepare_fine_tuning,
                ["feature_extraction.model", "params:model", "params:optimizer", "params:feature_extraction.model"],
                "untrained_model",
                name="prepare_fine_tuning",
            ),
            *train_and_evaluate(),
        ]
    )


def report_pipeline() -> Pipeline:
    """Predictions for the new pictures, then the comparison table, figures and HTML report.

    Written with full ``vgg16_finetune.<variant>.*`` names: these nodes read across variants.
    """

    def full(name: str) -> str:
        return f"{PIPELINE}.{name}"

    collected = {"summaries": "summary", "predictions": "test_predictions", "models": "trained_model"}
    settings = {
        "feature_extraction": "feature_extraction.model",
        "fine_tuning": "feature_extraction.model",  # fine-tuning continues from feature_extraction's base
        "mobilenet_v2": "mobilenet_v2.model",
    }
    return Pipeline(
        [
            *collect_nodes(PIPELINE, VARIANTS, collected),
            Node(
                collect,
                {variant: f"params:{full(source)}" for variant, source in settings.items()},
                full("model_settings"),
                name="collect_model_settings",
                namespace=PIPELINE,
            ),
            Node(
                nodes.predict_new_images,
                {
                    "manifest": full("new_image_manifest"),
                    "summaries": full("summaries"),
                    "models": full("models"),
                    "classes": f"params:{full('classes')}",
                    "image_size": f"params:{full('image_size')}",
                    "predict": f"params:{full('predict')}",
                },
                full("new_image_predictions"),
                name="predict_new_images",
                namespace=PIPELINE,
            ),
            Node(
                nodes.build_report,
                {
                    "summaries": full("summaries"),
                    "predictions": full("predictions"),
                    "settings": full("model_settings"),
                    "images": full("images"),
                    "new_images": full("new_image_manifest"),
                    "new_predictions": full("new_image_predictions"),
                    "classes": f"params:{full('classes')}",
                    "image_size": f"params:{full('image_size')}",
                    "reporting": f"params:{full('reporting')}",
                },
                [
                    full(name)
                    for name in ("comparison", "accuracy_curves", "loss_curves", "misclassified", "new_predictions_grid", "report")
                ],
                name="build_report",
                namespace=PIPELINE,
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
            Node(
                nodes.validate_images,
                ["raw_images@folder", "params:classes", "params:splits", "params:ingest"],
                "images",
                name="validate_images",
            ),
            Node(nodes.validate_new_images, ["new_images@folder", "params:predict"], "new_image_manifest", name="validate_new_images"),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``vgg16_finetune`` namespace."""
    variants = [
        namespaced(new_head_template(), "feature_extraction", SHARED_DATA, SHARED_PARAMS),
        namespaced(fine_tuning_template(), "fine_tuning", SHARED_DATA, SHARED_PARAMS),
        namespaced(new_head_template(), "mobilenet_v2", SHARED_DATA, SHARED_PARAMS),
    ]
    experiment = Pipeline([data_pipeline(), *variants], namespace=PIPELINE)
    return experiment + report_pipeline()
