"""Wiring of ``traffic_lstm``.

Top-level nodes live in the ``traffic_lstm`` namespace; every network and every naive
baseline named in ``parameters_traffic_lstm.yml`` is a namespace of one template
(``traffic_lstm.lstm``, ``traffic_lstm.persistence`` …): a block with ``model`` trains a
network, a block with ``baseline`` forecasts naively; either with a ``features`` block is
calendar-aware (``lstm_calendar``, ``gradient_boosting``). kedro-viz shows each as a
collapsible group, and the MLflow hook turns each into one nested run.
"""

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.traffic_lstm import nodes, serving
from neural_pipelines.pipelines.variants import experiment, keras_steps, record_step, shapes_step, step
from neural_pipelines.training.steps import array_shapes

PIPELINE = "traffic_lstm"

# Datasets every variant reads, outside the variant namespaces.
SHARED_DATA = {"windows", "scaled_series", "scaler"}


def scoring(trained: bool) -> list[Node]:
    """Score ``test_predictions`` and record the results: the same for networks and baselines."""
    return [Node(nodes.evaluate_forecast, ["test_predictions", "windows", "scaler"], "evaluation", name="evaluate"), record_step(trained)]


def network_template() -> Pipeline:
    """Build → fit → predict → score one of the course's Keras forecasters."""
    return Pipeline(
        [
            *keras_steps("windows", shapes_step(nodes.window_shapes, ["windows", "params:preprocessing"])),
            Node(nodes.predict_windows, ["model", "windows"], "test_predictions", name="predict_test_windows"),
            *scoring(trained=True),
        ]
    )


def calendar_features() -> Node:
    """The variant's history and known-in-advance features for the shared windows."""
    return step(nodes.window_features, ["scaled_series", "windows", "params:features", "params:preprocessing"], "model_input")


def calendar_network_template() -> Pipeline:
    """Calendar features → build → fit → predict → score one calendar-aware Keras forecaster."""
    return Pipeline(
        [
            calendar_features(),
            step(nodes.features_used, "params:features", "features_used"),
            *keras_steps("model_input", shapes_step(array_shapes, "model_input")),
            Node(nodes.predict_windows, ["model", "model_input"], "test_predictions", name="predict_test_windows"),
            *scoring(trained=True),
        ]
    )


def regressor_template() -> Pipeline:
    """Calendar features → fit → predict → score one scikit-learn forecaster."""
    return Pipeline(
        [
            calendar_features(),
            step(nodes.fit_forecast_regressor, ["model_input", "params:baseline", "params:seed"], ["regressor", "fit_record"]),
            Node(nodes.predict_regressor, ["regressor", "model_input"], "test_predictions", name="predict_test_windows"),
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
    """A ``model`` block trains a network (calendar-aware with ``features``); a ``baseline`` block
    fits a regressor on ``features``, or without them forecasts naively."""
    if "model" in variant:
        return calendar_network_template() if "features" in variant else network_template()
    return regressor_template() if "features" in variant else baseline_template()


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
        ["summaries", "models", "features", "scaler", "hourly_traffic", "params:ingest", "params:preprocessing", "params:registry"],
        "champion_candidate",
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``traffic_lstm`` namespace, its best model registered at the end."""
    collected = {"summaries": "summary", "predictions": "test_predictions", "models": "model", "features": "features_used"}
    return experiment(PIPELINE, data_pipeline(), template_for, SHARED_DATA, collected, report_pipeline(), champion())
