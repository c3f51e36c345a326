"""Wiring of ``house_prices``.

Top-level nodes (ingest, split, report) live in the ``house_prices`` namespace; every
network (a block with ``model``) and every baseline (a block with ``baseline``) named in
``parameters_house_prices.yml`` is a namespace of one template (``house_prices.mlp``,
``house_prices.linear`` …), which kedro-viz shows as a collapsible group and the MLflow hook
turns into one nested run. Every variant fits its preprocessing on the shared training rows
inside its own namespace, so each run records the ``features.*`` it used and each logged
model carries its own fitted copy. A variant without its own ``features`` block reads the
shared ``house_prices.features`` (same features by construction); ``mlp_course`` has its own
(the course's numeric-only recipe).
"""

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.house_prices import nodes
from neural_pipelines.pipelines.variants import experiment, keras_steps, record_step, shapes_step, step
from neural_pipelines.training.steps import array_shapes

PIPELINE = "house_prices"

# Datasets every variant reads, outside the variant namespaces.
SHARED_DATA = {"houses_split"}


def features() -> list[Node]:
    """Fit the variant's preprocessing on training rows, then make its training / validation arrays."""
    return [
        step(nodes.fit_preprocessing, ["houses_split", "params:features", "params:ingest"], ["preprocessor", "target_transformer"]),
        step(
            nodes.make_model_input,
            ["houses_split", "preprocessor", "target_transformer", "params:features", "params:ingest"],
            ["model_input", "input_summary"],
        ),
    ]


def pricing(regressor: str) -> list[Node]:
    """Wrap preprocessing + ``regressor`` as a raw-row price model, price the test rows, score, record."""
    return [
        step(nodes.package_price_model, ["preprocessor", "target_transformer", regressor], "price_model"),
        step(nodes.predict_test, ["price_model", "houses_split", "params:ingest"], "test_predictions"),
        Node(nodes.evaluate_prices, ["test_predictions", "input_summary"], "evaluation", name="evaluate"),
        record_step(),
    ]


def network_template() -> Pipeline:
    """Features → build → fit → price → score one Keras network."""
    return Pipeline([*features(), *keras_steps("model_input", shapes_step(array_shapes, "model_input")), *pricing("model")])


def baseline_template() -> Pipeline:
    """Features → fit → price → score one scikit-learn baseline."""
    return Pipeline(
        [
            *features(),
            step(nodes.fit_baseline, ["model_input", "params:baseline", "params:seed"], ["regressor", "fit_record"]),
            *pricing("regressor"),
        ]
    )


def data_pipeline() -> Pipeline:
    """Ingest (validate, Kaggle names) → one seeded split."""
    return Pipeline(
        [
            step(nodes.ingest_houses, ["raw_houses", "params:ingest"], "houses"),
            step(nodes.split_houses, ["houses", "params:split", "params:seed"], "houses_split"),
        ]
    )


def template_for(variant: Mapping[str, Any]) -> Pipeline:
    """A ``model`` block trains a network; a ``baseline`` block fits a scikit-learn regressor."""
    return network_template() if "model" in variant else baseline_template()


def report_pipeline() -> Pipeline:
    """Comparison table, diagnostics of the best model, importance and the HTML report."""
    return Pipeline(
        [
            step(nodes.compare_models, ["summaries", "params:report"], "comparison"),
            step(
                nodes.explain_best_model,
                ["comparison", "houses_split", "params:report", "params:ingest", "params:seed", "price_models"],
                "permutation_importance",
            ),
            step(
                nodes.build_report,
                [
                    "comparison",
                    "summaries",
                    "permutation_importance",
                    "houses",
                    "houses_split",
                    "params:report",
                    "params:split",
                    "predictions",
                ],
                ["predicted_vs_actual", "residuals", "learning_curves", "feature_importance", "report"],
            ),
        ]
    )


def champion() -> Node:
    """The best variant's raw-row price model, with two raw test rows as its input example (for the registry)."""
    return step(
        nodes.package_champion, ["summaries", "price_models", "houses_split", "params:ingest", "params:registry"], "champion_candidate"
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``house_prices`` namespace, its best model registered at the end."""
    collected = {"summaries": "summary", "price_models": "price_model", "predictions": "test_predictions"}
    return experiment(PIPELINE, data_pipeline(), template_for, SHARED_DATA, collected, report_pipeline(), champion())
