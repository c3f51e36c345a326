"""Wiring every experiment shares: model variants as namespaces of one template pipeline,
named by the experiment's parameter file, and the steps every Keras variant runs.

A variant is a block of ``conf/base/parameters_<pipeline>.yml`` under the pipeline's key
that has a ``model`` (a network) or a ``baseline`` (a non-neural reference) entry::

    traffic_lstm:
      training: {...}        # pipeline-level: every variant without its own `training` reads it
      lstm:                  # a variant: the namespace traffic_lstm.lstm
        model: {architecture: lstm, units: 16}

Adding a variant is adding such a block (and, for a new architecture, a builder in
``models/``): the pipeline reads the variant names from the parameters when it is created.
Each ``<pipeline>.<variant>`` namespace shows as a collapsible group in kedro-viz and becomes
one nested MLflow run (see ``hooks.MlflowVariantRunsHook``).

Kedro creates pipelines before it loads an environment's configuration, so the names come
from ``conf/base`` and ``conf/local`` (or the environment in ``KEDRO_ENV``) of the project
the command runs in; ``--env=test`` or ``--env=full`` may change a variant's settings, not
add one.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from kedro.framework.project import settings
from kedro.pipeline import Node, Pipeline
from kedro.utils import find_kedro_project

from neural_pipelines import registry
from neural_pipelines.config import VARIANT_KINDS, VARIANT_SETTINGS, is_variant, merge
from neural_pipelines.registry import RegistrySettings
from neural_pipelines.training import steps

#: The checkout this package was installed from: where the parameters are when the
#: command does not run inside a Kedro project (e.g. a test that builds a pipeline directly).
SOURCE_CHECKOUT = Path(__file__).resolve().parents[3]


@functools.cache
def _read_parameters(conf_source: str, env: str) -> dict[str, Any]:
    """The parameter files of ``conf/base`` and of ``env``, merged; interpolations are left as written.

    Read as plain YAML rather than through a second ``OmegaConfigLoader``: creating one would
    re-register OmegaConf's ``globals`` resolver for its own environment and break the
    resolution of the running session's parameters. Only names and block structure are needed.
    """
    merged: dict[str, Any] = {}
    for folder in ("base", env):
        for path in sorted((Path(conf_source) / folder).glob("**/parameters*.y*ml")):
            merge(merged, yaml.safe_load(path.read_text()) or {})
    return merged


def project_parameters() -> dict[str, Any]:
    """The parameters of the project the command runs in (``conf/base`` + ``conf/local``, or ``KEDRO_ENV``)."""
    project = find_kedro_project(Path.cwd()) or SOURCE_CHECKOUT
    return _read_parameters(str(Path(project) / settings.CONF_SOURCE), os.environ.get("KEDRO_ENV") or "local")


def configured_variants(pipeline: str, parameters: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Variant name → its parameter block, in the parameter file's order."""
    block = (project_parameters() if parameters is None else parameters).get(pipeline) or {}
    variants = {name: dict(value) for name, value in block.items() if is_variant(value)}
    if not variants:
        raise ValueError(
            f"No model variant in the '{pipeline}' parameters (conf/base/parameters_{pipeline}.yml): "
            f"a variant is a block with a {' or '.join(VARIANT_KINDS)} entry."
        )
    return variants


def pipeline_level_keys(pipeline: str, parameters: Mapping[str, Any] | None = None) -> set[str]:
    """The pipeline's parameter blocks that are not variants (``seed``, ``training`` …)."""
    block = (project_parameters() if parameters is None else parameters).get(pipeline) or {}
    return {name for name, value in block.items() if not is_variant(value)}


def namespaced(template: Pipeline, name: str, variant: Mapping[str, Any], shared_data: set[str], pipeline_keys: set[str]) -> Pipeline:
    """The template in namespace ``name``.

    It reads ``shared_data`` (datasets, and ``params:`` of other variants) un-prefixed, and so
    every pipeline-level parameter the variant does not set itself, except its settings
    (``training``, ``optimizer``, ``compile``, ``features``): those it always reads from its own
    block, which the project's config loader completes from the pipeline's (``config.py``).
    """
    shared_params = {f"params:{key}" for key in pipeline_keys if key not in variant and key not in VARIANT_SETTINGS}
    shared_params |= {item for item in shared_data if item.startswith("params:")}
    return Pipeline(
        template,
        namespace=name,
        inputs={item for item in shared_data if not item.startswith("params:")} & template.inputs(),
        parameters=shared_params & template.inputs(),
    )


def step(func: Callable[..., Any], inputs: str | list[str] | dict[str, str] | None, outputs: str | list[str] | None) -> Node:
    """A node named after its function (``make_windows``), the name ``--nodes`` and kedro-viz show."""
    return Node(func, inputs, outputs, name=func.__name__)


def shapes_step(func: Callable[..., dict[str, Any]], inputs: str | list[str]) -> Node:
    """The variant's ``model_shapes`` (input shape, outputs) from its data or parameters, inside its namespace.

    Computed per variant, not once for the pipeline, so ``kedro run --namespaces=<pipeline>.<variant>``
    runs on the persisted data alone.
    """
    return Node(func, inputs, "model_shapes", name="model_shapes")


def build_step() -> Node:
    """Seeded build of one Keras variant for its ``model_shapes``."""
    return step(
        steps.build_model,
        ["params:model", "params:optimizer", "params:compile", "params:training", "model_shapes", "params:seed"],
        "untrained_model",
    )


def keras_steps(data: str, shapes: Node, trained: str = "model") -> list[Node]:
    """Shapes → seeded build → train of one Keras variant, on the ``data`` dataset (arrays or tf.data).

    ``trained`` names the trained model's dataset: ``model`` (the versioned ``.keras`` file) by
    default, or one in memory that a later node hands on to the file.
    """
    return [
        shapes,
        build_step(),
        step(steps.train_model, ["untrained_model", data, "params:training", "params:seed"], [trained, "fit_record"]),
    ]


def record_step(trained: bool = True) -> Node:
    """MLflow metrics and the summary row from the variant's ``evaluation`` (and ``fit_record`` when it trained)."""
    inputs = ["evaluation", "fit_record"] if trained else ["evaluation"]
    return step(steps.record_results, inputs, ["mlflow_metrics", "summary"])


def collect(**items: Any) -> dict[str, Any]:
    """Every variant's item (summary, predictions, model …) in one dict keyed by variant name."""
    return items


def collect_summaries(**summaries: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every variant's summary keyed by variant name, each naming its ``model`` (the variant)."""
    return {name: {"model": name, **summary} for name, summary in summaries.items()}


def collect_nodes(pipeline: str, variants: Sequence[str], collected: dict[str, str], produced: set[str] | None = None) -> list[Node]:
    """One ``collect_<collection>`` node per entry of ``collected`` (collection → per-variant item).

    ``{"summaries": "summary"}`` gathers ``<pipeline>.<variant>.summary`` of every variant into
    ``<pipeline>.summaries``, keyed by variant, for the report nodes that read across variants.
    With ``produced`` (the variants' outputs), a variant that does not produce the item is left
    out of that collection (``models``: a naive baseline has none).
    """
    return [
        Node(
            collect_summaries if collection == "summaries" else collect,
            {
                variant: f"{pipeline}.{variant}.{item}"
                for variant in variants
                if produced is None or f"{pipeline}.{variant}.{item}" in produced
            },
            f"{pipeline}.{collection}",
            name=f"collect_{collection}",
            namespace=pipeline,
        )
        for collection, item in collected.items()
    ]


def registry_pipeline(package: Node, pipeline: str) -> Pipeline:
    """Package the best model → register it (champion or challenger) → the report with the registry's decision.

    ``package`` reads the experiment's collections by their short names and returns the
    ``champion_candidate`` (``registry.register_champion`` says what it holds). The report
    pipeline's ``report`` is renamed ``report_body``; the registry's section completes it.
    """

    def register_champion(candidate: dict[str, Any], summaries: dict[str, Any], settings: RegistrySettings) -> dict[str, Any]:
        return registry.register_champion(candidate, summaries, settings, pipeline)

    register_champion.__doc__ = registry.register_champion.__doc__
    register = step(register_champion, ["champion_candidate", "summaries", "params:registry"], "registration")
    section = step(registry.add_registry_section, ["report_body", "registration"], "report")
    return Pipeline([package, register, section])


def experiment(
    pipeline: str,
    data: Pipeline,
    template_for: Callable[[Mapping[str, Any]], Pipeline],
    shared_data: set[str],
    collected: dict[str, str],
    report: Pipeline,
    champion: Node | None = None,
) -> Pipeline:
    """The whole experiment in the ``pipeline`` namespace: ``data``, one template per configured variant, the report.

    ``template_for`` picks a variant's template from its parameter block (e.g. a network's
    or a baseline's); ``collected`` names what the report gathers from every variant
    (``{"summaries": "summary"}``: ``<pipeline>.summaries``, keyed by variant; a variant that
    does not produce the item is left out); ``report``'s nodes read those collections and the
    experiment's own datasets by their short names. ``champion`` (a node that packages the
    best model as ``champion_candidate``) adds the model registry (:func:`registry_pipeline`).
    """
    keys = pipeline_level_keys(pipeline)
    variants = configured_variants(pipeline)
    parts = [namespaced(template_for(block), name, block, shared_data, keys) for name, block in variants.items()]
    if champion is not None:
        report = Pipeline(report, outputs={"report": "report_body"}) + registry_pipeline(champion, pipeline)
    produced = {output for part in parts for output in part.all_outputs()}
    produced = {f"{pipeline}.{name}" for name in produced}
    return Pipeline([data, *parts, report], namespace=pipeline) + Pipeline(collect_nodes(pipeline, list(variants), collected, produced))
