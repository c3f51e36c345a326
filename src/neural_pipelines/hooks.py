"""Project hooks: one nested MLflow run per model variant, and data provenance.

kedro-mlflow opens one MLflow run per ``kedro run`` and logs every dataset of type
``Mlflow*`` into the *active* run. It has no child runs, so :class:`MlflowVariantRunsHook`
adds them: every node in the namespace ``<pipeline>.<variant>`` (e.g. ``traffic_lstm.lstm``)
runs, and has its outputs saved, while that variant's nested run is active. The
kedro-mlflow datasets of a variant (metrics, model, plots) therefore land in its own run,
and the MLflow UI's Compare view lines the variants up side by side.

kedro-mlflow re-activates its parent run before every node and refuses to do so while
another run is active, so a variant run is only active from the moment its node starts
until the node's last output is saved; it is re-opened for the variant's next node.
"""

from __future__ import annotations

import logging
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from mlflow.entities import RunStatus

logger = logging.getLogger(__name__)

#: Provenance values allowed in the ``data_source`` tag (DESIGN.md, "Data").
DATA_SOURCES = ("bundled", "generated", "download", "user")

#: Variant parameters (by their last key) copied into the variant run's tags.
TAGGED_PARAMS = ("weights",)


def variant_of(node: Node) -> tuple[str, str] | None:
    """Return ``(pipeline, variant)`` for a node inside ``<pipeline>.<variant>``, else None."""
    parts = (node.namespace or "").split(".")
    if len(parts) < 2:  # noqa: PLR2004
        return None
    return parts[0], parts[1]


def flatten_params(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested parameter dicts into MLflow-style dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def variant_params(node_inputs: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The node's ``params:`` inputs, flattened, with the namespace prefix removed.

    ``params:traffic_lstm.lstm.model`` and ``params:traffic_lstm.dense.model`` both become
    ``model.*`` so the same hyperparameter has the same name in every variant's run.
    """
    params: dict[str, Any] = {}
    for name, value in node_inputs.items():
        if not name.startswith("params:"):
            continue
        key = name.removeprefix("params:")
        for scope in (f"{namespace}.", f"{namespace.split('.')[0]}."):
            key = key.removeprefix(scope)
        params.update(flatten_params(value, f"{key}.") if isinstance(value, dict) else {key: value})
    return params


def run_tags_from_params(params: dict[str, Any]) -> dict[str, str]:
    """Variant parameters that also become run tags, so the runs table can filter on them.

    ``weights`` (the pretrained weights a base network starts from) changes what a
    transfer-learning accuracy means; ``None`` is spelled out, since in the base environment
    it means nothing could be downloaded and the base starts from random numbers.
    """
    tags: dict[str, str] = {}
    for key, value in params.items():
        if key.split(".")[-1] in TAGGED_PARAMS:
            tags[key.split(".")[-1]] = "none (random initialization)" if value is None else str(value)
    return tags


def git_sha(project_path: Path) -> str:
    """The checked-out commit, or ``unknown`` outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_path,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def describe_source(dataset: Any, dataset_name: str) -> str:
    """A human-readable location for a dataset: its file path where it has one."""
    filepath = getattr(dataset, "_filepath", None)
    if filepath is not None:
        return str(filepath)
    return dataset_name


def data_provenance(pipeline_name: str, pipeline: Pipeline, catalog: CatalogProtocol) -> dict[str, str]:
    """``dataset`` and ``data_source`` tags for a pipeline, read from its raw input's catalog metadata.

    Every raw entry the project ships declares ``metadata: {data_source, dataset}``; an
    entry without them is one a user pointed at their own file, hence ``user``. The raw input
    is what the pipeline's own nodes read but do not write — not the whole run's free
    inputs: in ``kedro run`` the ``sample_images`` generator writes the image folders that
    ``horse_or_human`` and ``vgg16_finetune`` read, so those are not free inputs there.
    Only inputs upstream of the model variants count: a folder of new pictures that a
    predict step reads says nothing about what the models were trained on.
    """
    own_nodes = [node for node in pipeline.nodes if (node.namespace or "").split(".")[0] == pipeline_name]
    variant_nodes = [node.name for node in own_nodes if variant_of(node)]
    if variant_nodes:  # the models' data, not e.g. a folder of new pictures a predict step reads
        upstream = {node.name for node in pipeline.to_nodes(*variant_nodes).nodes}
        own_nodes = [node for node in own_nodes if node.name in upstream]
    read = set().union(*(node.inputs for node in own_nodes)) - set().union(*(node.outputs for node in own_nodes))
    for name in sorted(read):
        if name.startswith("params:") or name == "parameters" or not name.startswith(f"{pipeline_name}."):
            continue
        dataset = catalog.get(name)
        metadata = getattr(dataset, "metadata", None) or {}
        layer = (metadata.get("kedro-viz") or {}).get("layer")
        if "data_source" in metadata or layer == "raw":
            source = metadata.get("data_source", "user")
            if source not in DATA_SOURCES:
                raise ValueError(
                    f"Catalog entry '{name}' declares metadata.data_source={source!r}; "
                    f"use one of {', '.join(DATA_SOURCES)}."
                )
            return {"data_source": source, "dataset": str(metadata.get("dataset", describe_source(dataset, name)))}
    return {"data_source": "unknown", "dataset": "unknown"}


class MlflowVariantRunsHook:
    """Opens one MLflow run per model variant, nested under kedro-mlflow's run.

    Tags: ``pipeline``, ``model``, ``dataset``, ``data_source``, ``git_sha`` (and ``weights``
    where a variant has such a parameter). Params: every
    ``params:`` input of the variant's nodes (namespace stripped) and ``n_params`` /
    ``n_trainable_params`` of any Keras model a node returns.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._run_ids: dict[tuple[str, str], str] = {}
        self._pending_nodes: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._unsaved_outputs: set[str] = set()
        self._active: tuple[str, str] | None = None
        self._base_tags: dict[str, dict[str, str]] = {}
        self._enabled = False

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol) -> None:
        self._reset()
        parent = mlflow.active_run()
        self._enabled = parent is not None
        if not self._enabled:
            return
        sha = git_sha(Path(run_params.get("project_path") or "."))
        for node in pipeline.nodes:
            variant = variant_of(node)
            if variant:
                self._pending_nodes[variant].add(node.name)
        for pipeline_name in {pipeline_name for pipeline_name, _ in self._pending_nodes}:
            self._base_tags[pipeline_name] = {
                "pipeline": pipeline_name,
                "git_sha": sha,
                **data_provenance(pipeline_name, pipeline, catalog),
            }
            logger.info(
                "MLflow: pipeline '%s' reads %s data (%s)",
                pipeline_name,
                self._base_tags[pipeline_name]["data_source"],
                self._base_tags[pipeline_name]["dataset"],
            )
        mlflow.set_tags({"git_sha": sha})

    @hook_impl(trylast=True)
    def before_node_run(self, node: Node, inputs: dict[str, Any]) -> None:
        # trylast: kedro-mlflow's own before_node_run has re-activated the parent run.
        variant = variant_of(node) if self._enabled else None
        if variant is None:
            return
        self._open(variant)
        params = variant_params(inputs, node.namespace)
        mlflow.log_params(params)
        if tags := run_tags_from_params(params):
            mlflow.set_tags(tags)
        self._unsaved_outputs = set(node.outputs)

    @hook_impl
    def after_node_run(self, node: Node, outputs: dict[str, Any]) -> None:
        if self._active is None:
            return
        for value in outputs.values():
            count_params = getattr(value, "count_params", None)
            if callable(count_params) and hasattr(value, "trainable_weights"):
                trainable = int(sum(np.prod(w.shape) for w in value.trainable_weights))
                mlflow.log_params({"n_params": int(count_params()), "n_trainable_params": trainable})
        self._pending_nodes[self._active].discard(node.name)
        if not node.outputs:
            self._close(RunStatus.FINISHED)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        if self._active is None:
            return
        self._unsaved_outputs.discard(dataset_name)
        if not self._unsaved_outputs:
            self._close(RunStatus.FINISHED)

    @hook_impl(tryfirst=True)
    def on_node_error(self, node: Node) -> None:
        if self._active is not None:
            logger.error("MLflow: variant run '%s' failed in node '%s'", self._active[1], node.name)
            self._close(RunStatus.FAILED)

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self) -> None:
        # tryfirst: close our runs before kedro-mlflow ends whatever run is active as FAILED.
        if self._active is not None:
            self._close(RunStatus.FAILED)
        client = mlflow.MlflowClient()
        for variant, pending in self._pending_nodes.items():
            if pending and variant in self._run_ids:
                client.set_terminated(self._run_ids[variant], RunStatus.to_string(RunStatus.FAILED))

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        if self._active is not None:
            self._close(RunStatus.FINISHED)

    def _open(self, variant: tuple[str, str]) -> None:
        pipeline_name, model = variant
        if variant in self._run_ids:
            mlflow.start_run(run_id=self._run_ids[variant], nested=True)
        else:
            tags = {**self._base_tags[pipeline_name], "model": model}
            run = mlflow.start_run(run_name=model, nested=True, tags=tags)
            self._run_ids[variant] = run.info.run_id
            logger.info("MLflow: run '%s' (%s) started for %s.%s", model, run.info.run_id, pipeline_name, model)
        self._active = variant

    def _close(self, status: RunStatus) -> None:
        mlflow.end_run(RunStatus.to_string(status))
        self._active = None


class DataSourceHook:
    """Records where each loaded table came from, so validation errors can name the file.

    Node functions never see file paths; the file path of a loaded DataFrame travels in
    ``DataFrame.attrs["source"]``, which :func:`neural_pipelines.validation.source_of` reads.
    """

    def __init__(self) -> None:
        self._catalog: CatalogProtocol | None = None

    @hook_impl
    def after_catalog_created(self, catalog: CatalogProtocol) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        attrs = getattr(data, "attrs", None)
        if self._catalog is None or not isinstance(attrs, dict):
            return
        attrs.setdefault("source", describe_source(self._catalog.get(dataset_name), dataset_name))
