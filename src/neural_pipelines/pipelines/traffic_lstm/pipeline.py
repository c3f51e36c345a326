"""Wiring of ``traffic_lstm``.

Top-level nodes live in the ``traffic_lstm`` namespace; each model variant and each
baseline is a namespace of one template (``traffic_lstm.lstm``, ``traffic_lstm.persistence``
…), which kedro-viz shows as a collapsible group and the MLflow hook turns into one nested
run. Variant names come from ``parameters_traffic_lstm.yml``.
"""

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.traffic_lstm import nodes
from neural_pipelines.pipelines.variants import collect_nodes, namespaced

PIPELINE = "traffic_lstm"
NETWORKS = ("dense", "simple_rnn", "lstm")
BASELINES = ("persistence", "seasonal_naive_24h", "seasonal_naive_168h")

# Datasets and parameters every variant shares stay outside the variant namespaces.
SHARED_DATA = {"windows", "scaled_series", "scaler"}
SHARED_PARAMS = {"params:preprocessing", "params:training", "params:seed"}


def scoring(record_inputs: list[str]) -> list[Node]:
    """Score ``test_predictions`` and record the results: the same for networks and baselines."""
    return [
        Node(nodes.evaluate_forecast, ["test_predictions", "windows", "scaler"], "evaluation", name="evaluate"),
        Node(nodes.record_results, record_inputs, ["mlflow_metrics", "summary"], name="record_results"),
    ]


def network_template() -> Pipeline:
    """Build → fit → predict → score one Keras forecaster."""
    return Pipeline(
        [
            Node(
                nodes.build_model,
                ["params:model", "params:preprocessing", "params:training", "params:seed"],
                "untrained_model",
                name="build_model",
            ),
            Node(
                nodes.train_model,
                ["untrained_model", "windows", "params:training", "params:seed"],
                ["model", "fit_record"],
                name="train_model",
            ),
            Node(nodes.predict_windows, ["model", "windows"], "test_predictions", name="predict_test_windows"),
            *scoring(["evaluation", "fit_record"]),
        ]
    )


def baseline_template() -> Pipeline:
    """Forecast → score one naive baseline on the same test windows."""
    return Pipeline(
        [
            Node(
                nodes.forecast_baseline,
                ["scaled_series", "windows", "params:baseline", "params:preprocessing"],
                "test_predictions",
                name="forecast_baseline",
            ),
            *scoring(["evaluation"]),
        ]
    )


def data_pipeline() -> Pipeline:
    """Ingest → regular hourly series → split and scale → windows."""
    return Pipeline(
        [
            Node(nodes.ingest_traffic, ["raw_traffic", "params:ingest"], "traffic", name="ingest_traffic"),
            Node(nodes.regularize_hourly, ["traffic", "params:preprocessing"], "hourly_traffic", name="regularize_hourly"),
            Node(
                nodes.split_and_scale,
                ["hourly_traffic", "params:preprocessing"],
                ["scaled_series", "scaler"],
                name="split_and_scale",
            ),
            Node(nodes.make_windows, ["scaled_series", "params:preprocessing"], "windows", name="make_windows"),
        ]
    )


def report_pipeline() -> Pipeline:
    """Comparison table, figures and the HTML report over every variant.

    Written with full ``traffic_lstm.<variant>.*`` names: these nodes read across variants.
    """

    def full(name: str) -> str:
        return f"{PIPELINE}.{name}"

    variants = NETWORKS + BASELINES
    return Pipeline(
        [
            *collect_nodes(PIPELINE, variants, {"summaries": "summary"}),
            Node(
                nodes.build_report,
                {
                    "summaries": full("summaries"),
                    "scaled": full("scaled_series"),
                    "windows": full("windows"),
                    "scaler": full("scaler"),
                    "preprocessing": f"params:{PIPELINE}.preprocessing",
                    **{name: full(f"{name}.test_predictions") for name in variants},
                },
                [full(name) for name in ("comparison", "learning_curves", "mae_by_horizon", "test_week_forecast", "report")],
                name="build_report",
                namespace=PIPELINE,
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``traffic_lstm`` namespace."""
    networks = [namespaced(network_template(), name, SHARED_DATA, SHARED_PARAMS) for name in NETWORKS]
    baselines = [namespaced(baseline_template(), name, SHARED_DATA, SHARED_PARAMS) for name in BASELINES]
    experiment = Pipeline([data_pipeline(), *networks, *baselines], namespace=PIPELINE)
    return experiment + report_pipeline()
