"""Wiring of ``image_cnn``.

Top-level nodes live in the ``image_cnn`` namespace; each model variant is a namespace of
one train → evaluate template (``image_cnn.dnn``, ``image_cnn.deep_cnn`` …), which kedro-viz
shows as a collapsible group and the MLflow hook turns into one nested run. Architectures,
optimizers and epochs of every variant are in ``parameters_image_cnn.yml``.
"""

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.image_cnn import nodes
from neural_pipelines.pipelines.variants import collect_nodes, namespaced

PIPELINE = "image_cnn"
VARIANTS = ("dnn", "cnn", "cnn_dnn", "deep_cnn", "mnist_cnn")

# Datasets and parameters every variant shares stay outside the variant namespaces.
SHARED_DATA = {"splits"}
SHARED_PARAMS = {"params:seed", "params:classes", "params:image_shape", "params:evaluation"}


def variant_template() -> Pipeline:
    """Build → fit → evaluate → record one classifier."""
    return Pipeline(
        [
            Node(
                nodes.build_model,
                ["params:model", "params:optimizer", "params:training", "params:image_shape", "params:classes", "params:seed"],
                "untrained_model",
                name="build_model",
            ),
            Node(
                nodes.train_model,
                ["untrained_model", "splits", "params:training", "params:seed"],
                ["model", "fit_record"],
                name="train_model",
            ),
            Node(
                nodes.evaluate_model,
                ["model", "splits", "params:classes", "params:evaluation"],
                ["evaluation", "test_predictions"],
                name="evaluate_model",
            ),
            Node(nodes.plot_confusion_matrix, ["evaluation", "params:classes"], "confusion_matrix", name="plot_confusion_matrix"),
            Node(nodes.record_results, ["evaluation", "fit_record"], ["mlflow_metrics", "summary"], name="record_results"),
        ]
    )


def data_pipeline() -> Pipeline:
    """Ingest and validate → uint8 images → stratified train / validation / test split."""
    return Pipeline(
        [
            Node(
                nodes.ingest_images,
                ["raw_images", "params:classes", "params:image_shape", "params:ingest"],
                "images",
                name="ingest_images",
            ),
            Node(nodes.split_images, ["images", "params:preprocessing", "params:seed"], "splits", name="split_images"),
        ]
    )


def report_pipeline() -> Pipeline:
    """Comparison table, figures and the HTML report over every variant.

    Written with full ``image_cnn.<variant>.*`` names: these nodes read across variants.
    """

    def full(name: str) -> str:
        return f"{PIPELINE}.{name}"

    collected = {"summaries": "summary", "predictions": "test_predictions", "models": "model"}
    return Pipeline(
        [
            *collect_nodes(PIPELINE, VARIANTS, collected),
            Node(
                nodes.build_report,
                {
                    "summaries": full("summaries"),
                    "predictions": full("predictions"),
                    "models": full("models"),
                    "splits": full("splits"),
                    "classes": f"params:{PIPELINE}.classes",
                    "preprocessing": f"params:{PIPELINE}.preprocessing",
                    "reporting": f"params:{PIPELINE}.reporting",
                },
                [
                    full(name)
                    for name in (
                        "comparison",
                        "accuracy_curves",
                        "loss_curves",
                        "best_confusion_matrix",
                        "misclassified",
                        "first_layer_filters",
                        "feature_maps",
                        "report",
                    )
                ],
                name="build_report",
                namespace=PIPELINE,
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``image_cnn`` namespace."""
    variants = [namespaced(variant_template(), name, SHARED_DATA, SHARED_PARAMS) for name in VARIANTS]
    experiment = Pipeline([data_pipeline(), *variants], namespace=PIPELINE)
    return experiment + report_pipeline()
