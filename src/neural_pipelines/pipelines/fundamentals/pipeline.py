"""Wiring of ``fundamentals``.

Three tables feed the variants: the course's six points, iris and a regression table.
A variant's ``data`` entry in ``parameters_fundamentals.yml`` (``points``, ``iris`` or
``regression``) picks its template, and ``model`` (a Keras network) or ``baseline`` (a
scikit-learn estimator) how it learns. Every variant is a namespace of its template
(``fundamentals.perceptron`` …): one box in kedro-viz, one nested MLflow run, tagged with
the table it read.
"""

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.fundamentals import nodes
from neural_pipelines.pipelines.variants import build_step, experiment, keras_steps, record_step, shapes_step, step
from neural_pipelines.training import steps
from neural_pipelines.training.steps import array_shapes

PIPELINE = "fundamentals"

# Datasets the variants read, outside the variant namespaces.
SHARED_DATA = {"points_input", "iris_split", "regression_split"}


def line_template() -> Pipeline:
    """The single neuron: build → fit on the six points → its weight, bias and predictions."""
    return Pipeline(
        [
            *keras_steps("points_input", shapes_step(array_shapes, "points_input")),
            Node(nodes.evaluate_line, ["model", "points_input", "params:probes"], "evaluation", name="evaluate"),
            record_step(),
        ]
    )


def classifier_template() -> Pipeline:
    """One scikit-learn classifier on iris: its columns and target → fit → accuracy, confusion matrix, probe flowers."""
    return Pipeline(
        [
            step(nodes.classifier_input, ["iris_split", "params:features", "params:iris"], "model_input"),
            step(nodes.fit_baseline, ["model_input", "params:baseline", "params:seed"], ["estimator", "fit_record"]),
            Node(nodes.evaluate_classifier, ["estimator", "model_input", "params:probes"], "evaluation", name="evaluate"),
            record_step(),
        ]
    )


def regression_network_template() -> Pipeline:
    """One Keras regressor: inputs → build → adapt its Normalization layers on the training rows → train → score."""
    return Pipeline(
        [
            step(nodes.regression_input, ["regression_split", "params:features", "params:regression"], "model_input"),
            shapes_step(array_shapes, "model_input"),
            build_step(),
            step(nodes.adapt_normalization, ["untrained_model", "model_input"], "adapted_model"),
            step(steps.train_model, ["adapted_model", "model_input", "params:training", "params:seed"], ["model", "fit_record"]),
            Node(nodes.evaluate_regressor, ["model", "model_input"], "evaluation", name="evaluate"),
            record_step(),
        ]
    )


def regression_baseline_template() -> Pipeline:
    """One scikit-learn regressor: inputs → fit → score."""
    return Pipeline(
        [
            step(nodes.regression_input, ["regression_split", "params:features", "params:regression"], "model_input"),
            step(nodes.fit_baseline, ["model_input", "params:baseline", "params:seed"], ["estimator", "fit_record"]),
            Node(nodes.evaluate_regressor, ["estimator", "model_input"], "evaluation", name="evaluate"),
            record_step(),
        ]
    )


def template_for(variant: Mapping[str, Any]) -> Pipeline:
    """The variant's ``data`` picks its table; ``model`` or ``baseline`` how it learns."""
    data = variant.get("data")
    if data == "points" and "model" in variant:
        return line_template()
    if data == "iris" and "baseline" in variant:
        return classifier_template()
    if data == "regression":
        return regression_network_template() if "model" in variant else regression_baseline_template()
    raise ValueError(
        f"fundamentals variant with data={data!r} and {'model' if 'model' in variant else 'baseline'}: use data: points with a model, "
        "iris with a baseline, or regression with either (conf/base/parameters_fundamentals.yml)."
    )


def data_pipeline() -> Pipeline:
    """The six points as arrays; iris and the regression table validated and split once for every variant."""
    return Pipeline(
        [
            step(nodes.points_input, "points", "points_input"),
            step(nodes.ingest_iris, ["raw_iris", "params:iris"], "iris_table"),
            step(nodes.split_iris, ["iris_table", "params:split", "params:iris", "params:seed"], "iris_split"),
            step(nodes.ingest_regression_table, ["raw_regression", "params:regression"], "regression_table"),
            step(nodes.split_regression, ["regression_table", "params:split", "params:seed"], "regression_split"),
        ]
    )


def report_pipeline() -> Pipeline:
    """Comparison table, the course's numbers beside the measured ones, figures and the HTML report."""
    return Pipeline(
        [
            step(nodes.compare_models, "summaries", "comparison"),
            step(nodes.course_comparison, ["summaries", "params:report"], "course_comparison"),
            step(
                nodes.build_report,
                ["comparison", "course_comparison", "summaries", "iris_split", "regression_split", "params:report", "params:iris"],
                ["fitted_line", "decision_boundary", "learning_curves", "report"],
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """The whole experiment in the ``fundamentals`` namespace."""
    return experiment(PIPELINE, data_pipeline(), template_for, SHARED_DATA, {"summaries": "summary"}, report_pipeline())
