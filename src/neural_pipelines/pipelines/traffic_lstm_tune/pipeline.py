"""Wiring of ``traffic_lstm_tune``: ``traffic_lstm``'s data steps, then one study over the variant the parameters name.

``traffic_lstm_tune.variant`` (``conf/base/parameters_traffic_lstm_tune.yml``) names the
``traffic_lstm`` network to tune. The data steps are ``traffic_lstm``'s, in its namespace, so
they read its parameters and write (the same) ``traffic_lstm.windows``; the study's steps live
in ``traffic_lstm_tune.<variant>``, which the MLflow hook turns into the tuning run that every
trial nests under. The report is the parent run's, as in every experiment.

Not part of ``__default__``: tuning runs many trainings and is started on purpose.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from neural_pipelines.pipelines.traffic_lstm.pipeline import data_pipeline
from neural_pipelines.pipelines.traffic_lstm_tune import nodes
from neural_pipelines.pipelines.variants import configured_variants, project_parameters

PIPELINE = "traffic_lstm_tune"
TUNED_EXPERIMENT = "traffic_lstm"


def tuned_variant() -> str:
    """The ``traffic_lstm`` network named by ``traffic_lstm_tune.variant``; refused if it is not one."""
    variant = (project_parameters().get(PIPELINE) or {}).get("variant")
    networks = [name for name, block in configured_variants(TUNED_EXPERIMENT).items() if "model" in block]
    if variant not in networks:
        raise ValueError(
            f"traffic_lstm_tune.variant is {variant!r} (conf/base/parameters_{PIPELINE}.yml or conf/local); "
            f"name one of traffic_lstm's networks: {', '.join(networks)}."
        )
    return variant


def tuning_pipeline(variant: str) -> Pipeline:
    """Validation windows → the study, in the namespace ``traffic_lstm_tune.<variant>`` (the tuning run).

    Inside, names are short (``windows``, ``params:variant_params``); the namespace maps them
    to ``traffic_lstm``'s windows and parameters and to this pipeline's own.
    """
    return Pipeline(
        [
            Node(nodes.validation_windows, "windows", "tuning_windows", name="validation_windows"),
            Node(
                nodes.tune_variant,
                [
                    "tuning_windows",
                    "scaled_series",
                    "params:preprocessing",
                    "params:variant_params",
                    "params:seed",
                    "params:tuning",
                    "params:variant",
                ],
                ["study", "trials", "best_parameters"],
                name="tune",
            ),
        ],
        namespace=f"{PIPELINE}.{variant}",
        inputs={"windows": f"{TUNED_EXPERIMENT}.windows", "scaled_series": f"{TUNED_EXPERIMENT}.scaled_series"},
        parameters={
            "params:preprocessing": f"params:{TUNED_EXPERIMENT}.preprocessing",
            "params:variant_params": f"params:{TUNED_EXPERIMENT}.{variant}",
            "params:seed": f"params:{TUNED_EXPERIMENT}.seed",
            "params:tuning": f"params:{PIPELINE}.tuning",
            "params:variant": f"params:{PIPELINE}.variant",
        },
    )


def report_pipeline(variant: str) -> Pipeline:
    """Optuna's figures and the HTML report, in the ``traffic_lstm_tune`` namespace (the parent run's artifacts)."""
    return Pipeline(
        [
            Node(
                nodes.build_report,
                ["study", "trials", "params:tuning", "params:variant", "params:reporting"],
                ["optimization_history", "param_importances", "report"],
                name="build_report",
            )
        ],
        namespace=PIPELINE,
        inputs={"study": f"{PIPELINE}.{variant}.study", "trials": f"{PIPELINE}.{variant}.trials"},
    )


def create_pipeline(**kwargs) -> Pipeline:
    """``traffic_lstm``'s data steps, the study over the configured variant, its report."""
    variant = tuned_variant()
    return Pipeline(data_pipeline(), namespace=TUNED_EXPERIMENT) + tuning_pipeline(variant) + report_pipeline(variant)
