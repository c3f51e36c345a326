"""Wiring of ``traffic_lstm``.

Top-level nodes live in the ``traffic_lstm`` namespace; every network and every naive
baseline named in ``parameters_traffic_lstm.yml`` is a namespace of one template
(``traffic_lstm.lstm``, ``traffic_lstm.persistence`` …): a block with ``model`` trains a
network, a block with ``baseline`` forecasts naively. kedro-viz shows each as a
collapsible group, and the MLflow hook turns each into one nested run.
"""

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.traffic_lstm import nodes, serving
from neural_pipelines.pipelines.variants import experiment, keras_steps, record_step, shapes_step, step

PIPELINE = "traffic_lstm"

# Datasets every variant reads, outside the variant namespaces.
SHARED_DATA = {"windows", "scaled_series", "scaler"}


def scoring(trained: bool) -> list[Node]:
    """Score ``test_predictions`` and record the results: the same for networks and baselines."""
    return [Node(nodes.evaluate_forecast, ["test_predictions", "windows", "scaler"], "evaluation", name="evaluate"), record_step(trained)]


def network_template() -> Pipeline:
    """Build → fit → predict → score one Keras forecaster."""
    return Pipeline(
        [
            *keras_steps("windows", shapes_step(nodes.window_shapes, ["windows", "params:preprocessing"])),
            Node(nodes.predict_windows, ["model", "windows"], "test_predictions", name="predict_test_windows"),
            *scoring(trained=True),
        ]
    )


def baseline_template() -> Pipeline:
    """Forecast → score one naive baseline on the same test windows."""
    return Pipeline(
        [
            step(nodes.forecast_baseline, ["scaled_series", "windows", "params:baseline", "params:preprocessing"], "test_predictions"),
            *scoring(trained=False),
        ]
    )


def template_for(variant: Mapping[str, Any]) -> Pipeline:
    """A ``model`` block trains a network; a ``baseline`` block forecasts naively."""
    return network_template() if "model" in variant else baseline_template()


def data_pipeline() -> Pipeline:
    """Ingest → regular hourly series → split and scale → windows."""
    return Pipeline(
        [
            step(nodes.ingest_traffic, ["raw_traffic", "params:ingest"], "traffic"),
            step(nodes.regularize_hourly, ["traffic", "params:preprocessing"], "hourly_traffic"),
            step(nodes.split_and_scale, ["hourly_traffic", "params:preprocessing"], ["scaled_series", "scaler"]),
            step(nodes.make_windows, ["scaled_series", "params:preprocessing"], "windows"),
        ]
    )


def report_pipeline() -> Pipeline:
    """Comparison table, figures and the HTML report over every variant's summary and test predictions."""
    return Pipeline(
        [
            step(
                nodes.build_report,
                ["summaries", "predictions", "scaled_series", "windows", "scaler", "params:preprocessing", "params:reporting"],
                ["comparison", "learning_curves", "mae_by_horizon", "test_week_forecast", "report"],
            )
        ]
    )


def champion() -> Node:
    """The best trained forecaster with the scaler and settings: raw recent counts in, vehicles/hour out (for the registry)."""
    return step(
        serving.package_champion,
        ["summaries", "models", "scaler", "hourly_traffic", "params:ingest", "params:preprocessing", "params:registry"],
        "champion_candidate",
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``traffic_lstm`` namespace, its best model registered at the end."""
    collected = {"summaries": "summary", "predictions": "test_predictions", "models": "model"}
    return experiment(PIPELINE, data_pipeline(), template_for, SHARED_DATA, collected, report_pipeline(), champion())
