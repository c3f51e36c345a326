"""Wiring of ``house_prices``.

Top-level nodes (ingest, split, report) live in the ``house_prices`` namespace; each network
and each baseline is a namespace of one template (``house_prices.mlp``,
``house_prices.linear`` …), which kedro-viz shows as a collapsible group and the MLflow hook
turns into one nested run. Every variant fits its preprocessing on the shared training rows
inside its own namespace, so each run records the ``features.*`` it used and each logged
model carries its own fitted copy. ``mlp``, ``wide_deep`` and the baselines read the one
shared ``house_prices.features`` block (same features by construction); ``mlp_course`` reads
its own ``house_prices.mlp_course.features`` (the course's numeric-only recipe).
"""

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.house_prices import nodes
from neural_pipelines.pipelines.variants import collect_nodes, namespaced

PIPELINE = "house_prices"
NETWORKS = ("mlp_course", "mlp", "wide_deep")
BASELINES = ("linear", "gradient_boosting")
VARIANTS = NETWORKS + BASELINES

# Variants with their own `features` block; the others share house_prices.features.
OWN_FEATURES = {"mlp_course"}

# Datasets and parameters every variant shares stay outside the variant namespaces.
SHARED_DATA = {"houses_split"}
SHARED_PARAMS = {"params:ingest", "params:seed"}


def shared_params(name: str) -> set[str]:
    """Parameters a variant reads un-prefixed: the shared ones, plus the feature settings unless it has its own."""
    return SHARED_PARAMS if name in OWN_FEATURES else SHARED_PARAMS | {"params:features"}


def features() -> list[Node]:
    """Fit the variant's preprocessing on training rows, then make its training / validation arrays."""
    return [
        Node(
            nodes.fit_preprocessing,
            ["houses_split", "params:features", "params:ingest"],
            ["preprocessor", "target_transformer"],
            name="fit_preprocessing",
        ),
        Node(
            nodes.make_model_input,
            ["houses_split", "preprocessor", "target_transformer", "params:features", "params:ingest"],
            ["model_input", "input_summary"],
            name="make_model_input",
        ),
    ]


def pricing(regressor: str) -> list[Node]:
    """Wrap preprocessing + ``regressor`` as a raw-row price model, price the test rows, score, record."""
    return [
        Node(
            nodes.package_price_model,
            ["preprocessor", "target_transformer", regressor],
            "price_model",
            name="package_price_model",
        ),
        Node(nodes.predict_test, ["price_model", "houses_split", "params:ingest"], "test_predictions", name="predict_test"),
        Node(nodes.evaluate_prices, "test_predictions", "evaluation", name="evaluate"),
        Node(
            nodes.record_results,
            ["evaluation", "input_summary", "fit_record"],
            ["mlflow_metrics", "summary"],
            name="record_results",
        ),
    ]


def network_template() -> Pipeline:
    """Features → build → fit → price → score one Keras network."""
    return Pipeline(
        [
            *features(),
            Node(
                nodes.build_model,
                ["params:model", "params:training", "model_input", "params:seed"],
                "untrained_model",
                name="build_model",
            ),
            Node(
                nodes.train_model,
                ["untrained_model", "model_input", "params:training", "params:seed"],
                ["model", "fit_record"],
                name="train_model",
            ),
            *pricing("model"),
        ]
    )


def baseline_template() -> Pipeline:
    """Features → fit → price → score one scikit-learn baseline."""
    return Pipeline(
        [
            *features(),
            Node(
                nodes.fit_baseline,
                ["model_input", "params:baseline", "params:seed"],
                ["regressor", "fit_record"],
                name="fit_baseline",
            ),
            *pricing("regressor"),
        ]
    )


def data_pipeline() -> Pipeline:
    """Ingest (validate, Kaggle names) → one seeded split."""
    return Pipeline(
        [
            Node(nodes.ingest_houses, ["raw_houses", "params:ingest"], "houses", name="ingest_houses"),
            Node(nodes.split_houses, ["houses", "params:split", "params:seed"], "houses_split", name="split_houses"),
        ]
    )


def report_pipeline() -> Pipeline:
    """Comparison table, diagnostics of the best model, importance and the HTML report.

    Written with full ``house_prices.<variant>.*`` names: these nodes read across variants.
    """

    def full(name: str) -> str:
        return f"{PIPELINE}.{name}"

    def param(name: str) -> str:
        return f"params:{PIPELINE}.{name}"

    return Pipeline(
        [
            *collect_nodes(PIPELINE, VARIANTS, {"summaries": "summary"}),
            Node(
                nodes.compare_models,
                [full("summaries"), param("report")],
                full("comparison"),
                name="compare_models",
                namespace=PIPELINE,
            ),
            Node(
                nodes.explain_best_model,
                {
                    "comparison": full("comparison"),
                    "houses": full("houses_split"),
                    "report": param("report"),
                    "ingest": param("ingest"),
                    "seed": param("seed"),
                    **{name: full(f"{name}.price_model") for name in VARIANTS},
                },
                full("permutation_importance"),
                name="explain_best_model",
                namespace=PIPELINE,
            ),
            Node(
                nodes.build_report,
                {
                    "comparison": full("comparison"),
                    "summaries": full("summaries"),
                    "importance": full("permutation_importance"),
                    "houses": full("houses"),
                    "houses_split": full("houses_split"),
                    "report": param("report"),
                    "split": param("split"),
                    **{name: full(f"{name}.test_predictions") for name in VARIANTS},
                },
                [full(name) for name in ("predicted_vs_actual", "residuals", "learning_curves", "feature_importance", "report")],
                name="build_report",
                namespace=PIPELINE,
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``house_prices`` namespace."""
    networks = [namespaced(network_template(), name, SHARED_DATA, shared_params(name)) for name in NETWORKS]
    baselines = [namespaced(baseline_template(), name, SHARED_DATA, shared_params(name)) for name in BASELINES]
    experiment = Pipeline([data_pipeline(), *networks, *baselines], namespace=PIPELINE)
    return experiment + report_pipeline()
