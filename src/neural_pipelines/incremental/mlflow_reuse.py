"""A skipped model variant in the new MLflow run: a nested run tagged ``reused_from``, its numbers copied.

The variant was not retrained, so its run in this ``kedro run`` is a copy, marked as one:

- name ``<pipeline>.<variant>`` and the earlier run's tags (``pipeline``, ``model``, ``dataset``,
  ``data_source``, ``git_sha`` of the code that trained it), nested under the new parent run;
- tag ``reused_from`` = the run that trained it, ``reused`` = ``true``, and a run description
  (``mlflow.note.content``) saying so, so a filter ``tags.reused_from != ''`` or the UI shows it;
- every param and every metric point of that run, with the original steps and timestamps: the
  Compare view lines it up with the variants trained now, curves included;
- the artifacts its nodes would have logged (``evaluation/…``), re-logged from the exact file
  versions the skip reused, and the earlier run's logged models linked as this run's outputs.
  The model files themselves stay in the earlier run: ``runs:/<reused_from>/model`` loads it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from mlflow.entities import LoggedModelOutput, Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from neural_pipelines.hooks import process_tags

logger = logging.getLogger(__name__)

#: Tags of the earlier run that describe that run, not the variant: not copied.
NOT_COPIED = ("process.", "mlflow.", "killed_reason", "reused")
#: MLflow's limits for one ``log_batch``.
MAX_PARAMS, MAX_ENTITIES = 100, 1000


def reusable(run_id: str | None) -> str | None:
    """Why the MLflow run ``run_id`` cannot be reused, or None when it can (it exists, FINISHED, not deleted)."""
    if not run_id:
        return "its outputs record no MLflow run"
    try:
        run = MlflowClient().get_run(run_id)
    except MlflowException:
        return f"its MLflow run {run_id} is not in this tracking store"
    if run.info.lifecycle_stage != "active" or run.info.status != RunStatus.to_string(RunStatus.FINISHED):
        return f"its MLflow run {run_id} is {run.info.status} ({run.info.lifecycle_stage})"
    return None


def reuse_run(parent_run_id: str, name: str, original_id: str, artifacts: Iterable[tuple[Path, str | None]]) -> str:
    """Create, fill and finish the reused copy of ``original_id`` named ``name`` under ``parent_run_id``; return its id."""
    client = MlflowClient()
    parent, original = client.get_run(parent_run_id), client.get_run(original_id)
    tags = {key: value for key, value in original.data.tags.items() if not key.startswith(NOT_COPIED)}
    tags |= {
        "mlflow.parentRunId": parent_run_id,
        "reused_from": original_id,
        "reused": "true",
        "mlflow.note.content": (
            f"Not retrained: its code, parameters and inputs are unchanged since run {original_id}, "
            f"whose outputs this kedro run reused. Params and metrics are copied from that run; "
            f"its model is there (runs:/{original_id}/model)."
        ),
        **process_tags(),
    }
    run = client.create_run(parent.info.experiment_id, tags=tags, run_name=name)
    run_id = run.info.run_id
    try:
        params = [Param(key, value) for key, value in original.data.params.items()]
        for start in range(0, len(params), MAX_PARAMS):
            client.log_batch(run_id, params=params[start : start + MAX_PARAMS])
        metrics = [
            Metric(key, point.value, point.timestamp, point.step)
            for key in sorted(original.data.metrics)
            for point in client.get_metric_history(original_id, key)
        ]
        for start in range(0, len(metrics), MAX_ENTITIES):
            client.log_batch(run_id, metrics=metrics[start : start + MAX_ENTITIES])
        for path, artifact_path in artifacts:
            client.log_artifact(run_id, str(path), artifact_path)
        models = client.search_logged_models(experiment_ids=[original.info.experiment_id], filter_string=f"source_run_id = '{original_id}'")
        if models:
            client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0) for model in models])
    except BaseException:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    logger.info("MLflow: run '%s' (%s) reuses run %s (%d params, %d metric points)", name, run_id, original_id, len(params), len(metrics))
    return run_id
