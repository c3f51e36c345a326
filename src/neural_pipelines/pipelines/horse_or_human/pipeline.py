"""Wiring of ``horse_or_human``.

Top-level nodes live in the ``horse_or_human`` namespace; each model variant (``cnn``,
``cnn_augmented``) is a namespace of one build → train → evaluate → record template, which
kedro-viz shows as a collapsible group and the MLflow hook turns into one nested run.
Architectures, augmentation, optimizers and epochs are in ``parameters_horse_or_human.yml``.

The image folder is ``horse_or_human.raw_images@folder``: in the base environment the same
folder that ``sample_images`` writes as ``horse_or_human.raw_images@generated`` (Kedro
transcoding, so ``kedro run`` runs the generator first); in ``full`` the course's download.
"""

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.horse_or_human import nodes
from neural_pipelines.pipelines.variants import collect_nodes, namespaced

PIPELINE = "horse_or_human"
VARIANTS = ("cnn", "cnn_augmented")

# Datasets and parameters every variant shares stay outside the variant namespaces.
SHARED_DATA = {"images"}
SHARED_PARAMS = {
    "params:seed",
    "params:classes",
    "params:splits",
    "params:image_size",
    "params:evaluation",
    "params:reporting",
}


def variant_template() -> Pipeline:
    """Build → fit → evaluate → plot mistakes → record one classifier."""
    return Pipeline(
        [
            Node(
                nodes.build_model,
                ["params:model", "params:optimizer", "params:training", "params:image_size", "params:seed"],
                "untrained_model",
                name="build_model",
            ),
            Node(
                nodes.train_model,
                ["untrained_model", "images", "params:image_size", "params:splits", "params:training", "params:seed"],
                ["model", "fit_record"],
                name="train_model",
            ),
            Node(
                nodes.evaluate_model,
                ["model", "images", "params:classes", "params:image_size", "params:splits", "params:evaluation"],
                ["evaluation", "predictions"],
                name="evaluate_model",
            ),
            Node(
                nodes.plot_misclassified,
                ["evaluation", "predictions", "params:classes", "params:image_size", "params:evaluation", "params:reporting"],
                "misclassified",
                name="plot_misclassified",
            ),
            Node(nodes.record_results, ["evaluation", "fit_record"], ["mlflow_metrics", "summary"], name="record_results"),
        ]
    )


def data_pipeline() -> Pipeline:
    """Validate the image folder → manifest with labels."""
    return Pipeline(
        [
            Node(
                nodes.validate_images,
                ["raw_images@folder", "params:classes", "params:splits", "params:ingest"],
                "images",
                name="validate_images",
            ),
        ]
    )


def report_pipeline() -> Pipeline:
    """Comparison table, figures and the HTML report over every variant.

    Written with full ``horse_or_human.<variant>.*`` names: these nodes read across variants.
    """

    def full(name: str) -> str:
        return f"{PIPELINE}.{name}"

    collected = {"summaries": "summary", "all_predictions": "predictions", "models": "model"}
    return Pipeline(
        [
            *collect_nodes(PIPELINE, VARIANTS, collected),
            Node(
                nodes.build_report,
                {
                    "summaries": full("summaries"),
                    "predictions": full("all_predictions"),
                    "models": full("models"),
                    "images": full("images"),
                    "classes": f"params:{PIPELINE}.classes",
                    "image_size": f"params:{PIPELINE}.image_size",
                    "splits": f"params:{PIPELINE}.splits",
                    "evaluation": f"params:{PIPELINE}.evaluation",
                    "reporting": f"params:{PIPELINE}.reporting",
                },
                [full(name) for name in ("comparison", "accuracy_curves", "loss_curves", "augmented_samples", "report")],
                name="build_report",
                namespace=PIPELINE,
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``horse_or_human`` namespace."""
    variants = [namespaced(variant_template(), name, SHARED_DATA, SHARED_PARAMS) for name in VARIANTS]
    experiment = Pipeline([data_pipeline(), *variants], namespace=PIPELINE)
    return experiment + report_pipeline()
