"""The MLflow Model Registry: each experiment's best model as registered model ``<pipeline>``, champion or challenger.

At the end of an experiment, :func:`register_champion` (a node every registering experiment
runs after its report's numbers exist) takes the best *model* variant by the experiment's
primary test metric (``registry.metric`` in its parameters: ``test_mae``, lower is better, or
``test_accuracy``, higher is better), logs its self-contained pyfunc model (raw input in, the
answer in the user's units out: each experiment's ``serving.py``) to that variant's MLflow
run, and registers it as a new version of the registered model named after the pipeline.

The alias ``champion`` moves to the new version only when its metric is **strictly** better
than the current champion's on the same test set (the same ``dataset`` tag); otherwise the
new version gets ``challenger``. A second identical run therefore scores the same, does not
move the champion, and leaves a challenger. Earlier versions are never changed: a version
is created complete (model logged first, then registered, then tagged), and only aliases
move. The decision, both numbers and the reason are returned (the report shows them) and
logged.

Why a node and not kedro-mlflow's ``pipeline_ml_factory``: see docs/serving.md.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from neural_pipelines.datasets.pyfunc_model import DEFAULT_REQUIREMENTS, pinned
from neural_pipelines.parameters import Parameters
from neural_pipelines.reporting.report import render_template

logger = logging.getLogger(__name__)

#: Name of the self-contained model in the champion candidate's variant run.
LOGGED_MODEL_NAME = "registered_model"

#: Version tags every registered version carries.
VERSION_TAGS = ("variant", "metric", "metric_value", "dataset", "data_source", "git_sha", "run_id")


class RegistrySettings(Parameters):
    """``<pipeline>.registry``: the primary test metric that picks and compares champions.

    ``enabled: false`` skips registration (the run still reports its variants).
    """

    metric: str
    greater_is_better: bool
    enabled: bool = True
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"


class RegistryError(RuntimeError):
    """Registration failed; earlier registered versions and aliases are as they were."""


def is_better(new: float, current: float | None, greater_is_better: bool) -> bool:
    """Whether ``new`` beats ``current`` strictly (equal is not better; no current champion: any finite value is)."""
    if not math.isfinite(new):
        return False
    if current is None or not math.isfinite(current):
        return True
    return new > current if greater_is_better else new < current


def best_variant(summaries: Mapping[str, Mapping[str, Any]], settings: RegistrySettings, eligible: set[str]) -> dict[str, Any]:
    """The best eligible variant by ``settings.metric`` and, where a non-eligible one (a naive baseline) is better, that one too.

    ``eligible``: the variants that have a self-contained model (the registry holds models
    only; a naive forecast is a reference, not a model).
    """
    scored = {name: float(row[settings.metric]) for name, row in summaries.items() if row.get(settings.metric) is not None}
    missing = sorted(set(summaries) - set(scored))
    if missing:
        raise RegistryError(
            f"Variants {missing} have no '{settings.metric}' in their summary: registry.metric names a test metric they all report."
        )
    ranked = sorted(scored, key=lambda name: scored[name], reverse=settings.greater_is_better)
    models = [name for name in ranked if name in eligible]
    if not models:
        raise RegistryError(f"No variant with a model among {sorted(summaries)}: nothing to register.")
    best = models[0]
    choice: dict[str, Any] = {"variant": best, "metric": settings.metric, "value": scored[best], "beaten_by_reference": None}
    if ranked[0] != best:
        choice["beaten_by_reference"] = {"variant": ranked[0], "value": scored[ranked[0]]}
        logger.warning(
            "Registry: %s (%s %.6g) is better than the best model %s (%.6g), but it is not a model; %s is registered",
            ranked[0],
            settings.metric,
            scored[ranked[0]],
            best,
            scored[best],
            best,
        )
    return choice


def variant_run_id(client: MlflowClient, parent_run_id: str, pipeline: str, variant: str) -> str:
    """The nested MLflow run of ``<pipeline>.<variant>`` under the ``kedro run``'s parent run.

    When the variant trained in another ``kedro run`` (an Airflow task per variant, or
    ``--from-nodes``), none is under this parent: then the newest FINISHED run of that variant,
    the one that saved the model file this run packaged, and a warning names it.
    """
    parent = client.get_run(parent_run_id)
    variant_filter = f"tags.pipeline = '{pipeline}' and tags.model = '{variant}'"
    runs = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}' and {variant_filter}", max_results=2
    )
    if not runs:
        runs = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"{variant_filter} and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if runs:
            logger.warning(
                "Registry: %s.%s did not train in this kedro run; its model is logged in its newest finished run %s",
                pipeline,
                variant,
                runs[0].info.run_id,
            )
    if len(runs) != 1:
        raise RegistryError(f"Expected one MLflow run of {pipeline}.{variant} under run {parent_run_id}, found {len(runs)}.")
    return runs[0].info.run_id


def current_champion(client: MlflowClient, name: str, alias: str) -> Any | None:
    """The model version holding ``alias`` of registered model ``name``, None when there is none (or no such model)."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def decide(new_value: float, dataset: str, champion: Any | None, settings: RegistrySettings) -> dict[str, Any]:
    """Champion or challenger for a new version, with the numbers and the reason.

    The champion's metric counts only when it was measured on the same test set (its
    ``dataset`` tag and metric name equal the new version's); a champion from other data is
    not comparable, so the new version waits as challenger (the reason says how to promote it).
    """
    if champion is None:
        return {"alias": settings.champion_alias, "champion_value": None, "champion_version": None, "reason": "no champion yet"}
    tags = champion.tags or {}
    champion_value = float(tags["metric_value"]) if "metric_value" in tags else None
    base = {"champion_value": champion_value, "champion_version": int(champion.version)}
    if tags.get("dataset") != dataset or tags.get("metric") != settings.metric:
        reason = (
            f"champion v{champion.version} was scored on {tags.get('dataset')!r} by {tags.get('metric')!r}, not {dataset!r} by "
            f"{settings.metric!r}: not comparable; promote by hand with MlflowClient().set_registered_model_alias"
        )
        return {"alias": settings.challenger_alias, **base, "reason": reason}
    direction = "higher" if settings.greater_is_better else "lower"
    if is_better(new_value, champion_value, settings.greater_is_better):
        return {
            "alias": settings.champion_alias,
            **base,
            "reason": f"{settings.metric} {new_value:.6g} is {direction} than {champion_value:.6g}",
        }
    return {
        "alias": settings.challenger_alias,
        **base,
        "reason": f"{settings.metric} {new_value:.6g} is not {direction} than the champion's {champion_value:.6g} (equal is not better)",
    }


def register_version(
    client: MlflowClient, name: str, model_uri: str, run_id: str, tags: Mapping[str, str], settings: RegistrySettings
) -> dict[str, Any]:
    """Register ``model_uri`` as a new version of ``name``, tag it, and give it ``champion`` or ``challenger``.

    The decision is taken against the champion *before* the new version exists, so a failure
    half-way leaves at most a new version without an alias; existing versions and aliases are
    only ever read, except the one alias that moves.
    """
    value = float(tags["metric_value"])
    champion = current_champion(client, name, settings.champion_alias)
    decision = decide(value, str(tags["dataset"]), champion, settings)
    try:
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name, description=f"The best model of the `{name}` experiment (kedro run --pipelines={name}).")
        version = mlflow.register_model(model_uri, name, tags=dict(tags))
        client.set_registered_model_alias(name, decision["alias"], version.version)
    except MlflowException as error:
        raise RegistryError(
            f"Registering {model_uri} as model '{name}' in the registry at {mlflow.get_registry_uri()} failed: {error.message}. "
            "Existing versions and their aliases are unchanged."
        ) from error
    decision |= {"model_name": name, "version": int(version.version), "value": value, "metric": settings.metric, "run_id": run_id}
    logger.info(
        "Registry: %s v%s (%s %s = %.6g) is now %s; champion before: %s (%s); %s",
        name,
        version.version,
        tags.get("variant"),
        settings.metric,
        value,
        decision["alias"],
        f"v{decision['champion_version']}" if decision["champion_version"] else "none",
        "—" if decision["champion_value"] is None else f"{decision['champion_value']:.6g}",
        decision["reason"],
    )
    return decision


def register_champion(
    candidate: Mapping[str, Any], summaries: Mapping[str, Mapping[str, Any]], settings: RegistrySettings, pipeline: str
) -> dict[str, Any]:
    """Log the best model variant's self-contained model to its run and register it (champion or challenger).

    ``candidate`` (the experiment's ``package_champion`` node): ``variant``, ``python_model``
    (an ``mlflow.pyfunc.PythonModel`` with ``mlflow_signature()``), ``input_example`` and
    ``choice`` (:func:`best_variant`'s answer). Needs the ``kedro run``'s MLflow run to be
    active (kedro-mlflow's); with tracking off, nothing is registered and the answer says so.
    Returns the decision: model name, version, alias, both metric values, the reason, and
    any naive baseline that beat the registered model.
    """
    choice = dict(candidate["choice"])
    if not settings.enabled or candidate.get("python_model") is None:
        return {"registered": False, "reason": "registry.enabled is false", **choice}
    parent = mlflow.active_run()
    if parent is None:
        logger.warning("Registry: no active MLflow run (tracking disabled): %s is not registered", pipeline)
        return {"registered": False, "reason": "MLflow tracking is off for this run", **choice}
    client = MlflowClient()
    run_id = variant_run_id(client, parent.info.run_id, pipeline, choice["variant"])
    run_tags = client.get_run(run_id).data.tags
    model = candidate["python_model"]
    signature = model.mlflow_signature() if hasattr(model, "mlflow_signature") else None
    mlflow.start_run(run_id=run_id, nested=True)
    try:
        info = mlflow.pyfunc.log_model(
            name=LOGGED_MODEL_NAME,
            python_model=model,
            signature=signature,
            input_example=candidate.get("input_example"),
            pip_requirements=pinned(list(DEFAULT_REQUIREMENTS)),  # stated: inferring them reloads the model in a subprocess
        )
    except Exception as error:
        mlflow.end_run("FINISHED")  # the variant's own results are complete; only the extra model failed
        raise RegistryError(f"Logging {pipeline}.{choice['variant']}'s self-contained model to run {run_id} failed: {error}") from error
    mlflow.end_run("FINISHED")
    tags = {
        "variant": choice["variant"],
        "metric": settings.metric,
        "metric_value": repr(float(choice["value"])),
        "dataset": run_tags.get("dataset", "unknown"),
        "data_source": run_tags.get("data_source", "unknown"),
        "git_sha": run_tags.get("git_sha", "unknown"),
        "run_id": run_id,
    }
    decision = register_version(client, pipeline, info.model_uri, run_id, tags, settings)
    decision |= {"registered": True, "variant": choice["variant"], "beaten_by_reference": choice["beaten_by_reference"]}
    mlflow.set_tags({f"registry.{key}": str(decision[key]) for key in ("version", "alias", "reason")})
    return decision


def registration_table(decision: Mapping[str, Any]) -> pd.DataFrame:
    """The decision as a two-column table for the report (what was registered, against what, and why)."""
    rows = [
        (
            "registered model",
            f"{decision.get('model_name', '—')} v{decision.get('version', '—')}" if decision.get("registered") else "not registered",
        ),
        ("variant", decision.get("variant")),
        (str(decision.get("metric")), decision.get("value")),
        ("alias given", decision.get("alias", "—")),
        ("champion before", f"v{decision['champion_version']}" if decision.get("champion_version") else "none"),
        ("champion's metric before", "—" if decision.get("champion_value") is None else decision["champion_value"]),
        ("reason", decision.get("reason")),
    ]
    if decision.get("beaten_by_reference"):
        reference = decision["beaten_by_reference"]
        rows.append(("better, but not a model", f"{reference['variant']} ({reference['value']:.6g})"))
    return pd.DataFrame(rows, columns=["item", "value"])


def add_registry_section(report: str, registration: Mapping[str, Any]) -> str:
    """The experiment's HTML report with the registry's decision as its last section (template ``registry.html.j2``)."""
    section = render_template("registry.html.j2", decision=dict(registration), table=registration_table(registration))
    closing = report.rfind("</body>")
    return report + section if closing < 0 else report[:closing] + section + report[closing:]


def load_registered_model(model_uri: str) -> tuple[Any, str]:
    """The model at ``model_uri`` (``models:/<name>@champion``, ``models:/<name>/<version>``, ``runs:/<run_id>/<path>``) and what it is.

    The inference pipelines' first step. Returns the loaded ``mlflow.pyfunc`` model and its
    description for the output tables: ``<name> v<version>`` for a registered model, else
    the URI. A URI that names nothing stops with the registry it looked in and the fix.
    """
    client = MlflowClient()
    described = model_uri
    try:
        if model_uri.startswith("models:/"):
            name, _, rest = model_uri.removeprefix("models:/").partition("@")
            if rest:
                version = client.get_model_version_by_alias(name, rest).version
            else:
                name, _, version = model_uri.removeprefix("models:/").partition("/")
            described = f"{name} v{version}"
        model = mlflow.pyfunc.load_model(model_uri)
    except MlflowException as error:
        raise RegistryError(
            f"No model at {model_uri} in the registry at {mlflow.get_registry_uri()}: {error.message}. Fix: train and register one "
            "first (kedro run --pipelines=<experiment>), or set model_uri to an existing version (models:/<name>/<version>) or run "
            "(runs:/<run_id>/registered_model) with --params."
        ) from error
    logger.info("Loaded %s (%s)", described, model_uri)
    return model, described
