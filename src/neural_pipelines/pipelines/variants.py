"""Wiring every experiment shares: model variants as namespaces of one template pipeline,
and the node that gathers one item of every variant for the report.

Each ``<pipeline>.<variant>`` namespace shows as a collapsible group in kedro-viz and
becomes one nested MLflow run (see ``hooks.MlflowVariantRunsHook``).
"""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Pipeline


def namespaced(template: Pipeline, name: str, shared_data: set[str], shared_params: set[str]) -> Pipeline:
    """The template in namespace ``name``, reading the shared data and parameters it uses un-prefixed."""
    return Pipeline(
        template,
        namespace=name,
        inputs=shared_data & template.inputs(),
        parameters=shared_params & template.inputs(),
    )


def collect(**items: Any) -> dict[str, Any]:
    """Every variant's item (summary, predictions, model …) in one dict keyed by variant name."""
    return items
