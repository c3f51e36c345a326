"""Wiring every experiment shares: model variants as namespaces of one template pipeline,
and the node that gathers one item of every variant for the report.

Each ``<pipeline>.<variant>`` namespace shows as a collapsible group in kedro-viz and
becomes one nested MLflow run (see ``hooks.MlflowVariantRunsHook``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kedro.pipeline import Node, Pipeline


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


def collect_nodes(pipeline: str, variants: Sequence[str], collected: dict[str, str]) -> list[Node]:
    """One ``collect_<collection>`` node per entry of ``collected`` (collection → per-variant item).

    ``{"summaries": "summary"}`` gathers ``<pipeline>.<variant>.summary`` of every variant into
    ``<pipeline>.summaries``, keyed by variant, for the report nodes that read across variants.
    """
    return [
        Node(
            collect,
            {variant: f"{pipeline}.{variant}.{item}" for variant in variants},
            f"{pipeline}.{collection}",
            name=f"collect_{collection}",
            namespace=pipeline,
        )
        for collection, item in collected.items()
    ]
