"""Running an Optuna study whose every trial is a nested MLflow run.

:func:`run_study` opens (or resumes) the study in its RDB storage, with a seeded TPE sampler
and a median pruner, and runs the trials the budget still allows. Each trial is an MLflow run
nested under the run active when the study starts (in a ``kedro run``: the tuning run the
project's hook opened), named ``<study>.trial_<n>``, holding the trial's values as params,
the monitored value per epoch (via :class:`TrialReporter`), the objective as a metric and its
state as a tag. A pruned trial ends FINISHED and tagged ``pruned``; a failed one FAILED.

Resuming. A trial left RUNNING by a process that no longer exists (a kill, a crash) is
marked FAIL and queued again with the same values, so the rerun trains exactly what was
interrupted; so is a trial stopped by Ctrl-C (Optuna marks it FAIL itself). Optuna's
heartbeat does the same only after a grace period, during which a rerun would count the
dead trial as running; the process check is immediate. The budget counts
complete and pruned trials already stored: a rerun never runs more than ``n_trials`` in all.
The sampler is seeded with ``seed`` plus the number of stored trials: a fresh study draws the
same values for the same seed, and a resumed one does not repeat the draws it already made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mlflow
import optuna
from mlflow.entities import Metric, RunStatus, RunTag
from optuna.trial import TrialState

from neural_pipelines.hooks import process_alive, process_tags
from neural_pipelines.tuning.search import suggest
from neural_pipelines.tuning.settings import TuningSettings

logger = logging.getLogger(__name__)

#: Trial states that use up the budget.
FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)

#: Tags of the run active when a study starts that every trial's run carries too (which pipeline, model, data, commit).
INHERITED_TAGS = ("pipeline", "model", "dataset", "data_source", "git_sha")

#: The study attribute that records what its trials were run on (see :func:`check_fingerprint`).
FINGERPRINT_ATTR = "fingerprint"


class TrialReporter:
    """Reports a trial's monitored value each epoch: to Optuna (for pruning) and to the trial's MLflow run.

    Raises ``optuna.TrialPruned`` when the pruner says the trial is worse than its peers.
    """

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor

    def report(self, step: int, logs: Mapping[str, float]) -> None:
        """Record ``logs`` (every value, at ``step``) in MLflow and ``logs[monitor]`` in Optuna; prune if told to."""
        if self.monitor not in logs:
            raise KeyError(f"The tuning monitor {self.monitor!r} is not among the logged values ({', '.join(logs)}); set tuning.monitor.")
        mlflow.log_metrics({key: float(value) for key, value in logs.items()}, step=step)
        self.trial.report(float(logs[self.monitor]), step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"trial {self.trial.number} pruned at step {step}: {self.monitor}={logs[self.monitor]:.4g}")

    def keras_callback(self) -> Any:
        """A Keras callback that reports after every epoch (step = epoch, counted from 1 as in the variants' runs)."""
        import keras

        reporter = self

        class _PruningCallback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                reporter.report(epoch + 1, logs or {})

        return _PruningCallback()


Objective = Callable[[dict[str, Any], TrialReporter], float]


def _process_gone(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether the process that started ``trial`` on this host no longer exists.

    Trials of other hosts are left alone (they may be running there); a trial with no record
    of its process (started by other code) counts as gone.
    """
    host, pid = trial.user_attrs.get("process.host"), str(trial.user_attrs.get("process.pid", ""))
    if host is None or not pid.isdigit():
        return True
    return host == socket.gethostname() and not process_alive(int(pid))


def requeue_interrupted(study: optuna.Study) -> list[int]:
    """Queue again, with the same values, every trial that was interrupted and not retried yet; return their numbers.

    Interrupted: left RUNNING by a process that no longer exists (marked FAIL here), or failed
    by a Ctrl-C (tagged ``interrupted`` when it stopped).
    """
    retried = {trial.user_attrs.get("retry_of") for trial in study.get_trials(deepcopy=False)}
    dead = [trial for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if _process_gone(trial)]
    for trial in dead:
        study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)  # Optuna's own storage API; no public setter
    stopped = [trial for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if trial.user_attrs.get("interrupted")]
    interrupted = sorted(
        {trial.number: trial for trial in [*dead, *stopped] if trial.number not in retried}.values(), key=lambda t: t.number
    )
    for trial in interrupted:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
    if interrupted:
        logger.warning(
            "Study %s: trial(s) %s were interrupted: queued again with the same values",
            study.study_name,
            ", ".join(str(trial.number) for trial in interrupted),
        )
    return [trial.number for trial in interrupted]


def fingerprint_of(settings: TuningSettings, context: Mapping[str, Any] | None = None) -> str:
    """A hash of what makes trials comparable: the search space, fixed values, direction and monitor, and ``context``
    (e.g. the base parameters and the data). ``n_trials``, the time budget and the pruner may change between reruns."""
    payload = {
        "search_space": {path: spec.model_dump() for path, spec in settings.search_space.items()},
        "fixed": settings.fixed,
        "direction": settings.direction,
        "monitor": settings.monitor,
        "context": context or {},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_fingerprint(study: optuna.Study, fingerprint: str, settings: TuningSettings) -> None:
    """Record ``fingerprint`` on a new study; refuse to resume one whose trials ran on something else."""
    stored = study.user_attrs.get(FINGERPRINT_ATTR)
    if stored is None:
        study.set_user_attr(FINGERPRINT_ATTR, fingerprint)
    elif stored != fingerprint:
        raise ValueError(
            f"The stored study {settings.study_name!r} in {settings.storage} was run with another search space, base "
            "parameters or data, so its trials cannot be compared with new ones. Set a new tuning.study_name to start a "
            f"study beside it, or delete {settings.storage} to start over."
        )


def create_study(settings: TuningSettings, fingerprint: str | None = None) -> optuna.Study:
    """The study ``settings.study_name`` in its storage, created or loaded, with a seeded TPE sampler and the pruner."""
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(n_startup_trials=settings.pruner.n_startup_trials, n_warmup_steps=settings.pruner.n_warmup_steps)
        if settings.pruner.enabled
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=settings.study_name, storage=settings.storage_url(), direction=settings.direction, pruner=pruner, load_if_exists=True
    )
    if study.direction.name.lower() != settings.direction:
        raise ValueError(
            f"The stored study {settings.study_name!r} in {settings.storage} {study.direction.name.lower()}s; tuning.direction "
            f"says {settings.direction}. Set a new tuning.study_name, or delete {settings.storage} to start over."
        )
    if fingerprint is not None:
        check_fingerprint(study, fingerprint, settings)
    study.sampler = optuna.samplers.TPESampler(seed=settings.seed + len(study.trials), n_startup_trials=settings.sampler_startup_trials)
    return study


def run_study(
    objective: Objective,
    settings: TuningSettings,
    *,
    tags: Mapping[str, str] | None = None,
    catch: Sequence[type[Exception]] = (),
    fingerprint: str | None = None,
) -> optuna.Study:
    """Run the trials ``settings`` still allows (budget and time) and return the study.

    ``objective(values, reporter)`` gets the trial's suggested values (dotted path → value)
    and returns the value to optimize; it reports per-epoch values through ``reporter`` (e.g.
    ``reporter.keras_callback()``). Every trial's MLflow run carries the active run's
    :data:`INHERITED_TAGS` and ``tags``; an exception in ``catch`` fails that trial only, any
    other stops the study (and fails its trial).
    """
    study = create_study(settings, fingerprint)
    requeue_interrupted(study)
    finished = len(study.get_trials(deepcopy=False, states=FINISHED_STATES))
    remaining = max(0, settings.n_trials - finished)
    logger.info(
        "Study %s (%s): %d trial(s) stored, %d finished; running up to %d more (timeout %s s)",
        settings.study_name,
        settings.storage,
        len(study.trials),
        finished,
        remaining,
        settings.timeout_seconds,
    )
    if remaining:
        trial_function = _mlflow_trial(objective, settings, {**inherited_tags(), **(tags or {})})
        study.optimize(trial_function, n_trials=remaining, timeout=settings.timeout_seconds, catch=tuple(catch), gc_after_trial=True)
    return study


def inherited_tags() -> dict[str, str]:
    """The active MLflow run's :data:`INHERITED_TAGS` (none without an active run)."""
    active = mlflow.active_run()
    if active is None:
        return {}
    tags = mlflow.MlflowClient().get_run(active.info.run_id).data.tags
    return {key: tags[key] for key in INHERITED_TAGS if key in tags}


def _end_trial_run(state: str, status: RunStatus, metrics: Mapping[str, float] | None = None) -> None:
    """Tag the active trial run with its Optuna ``state`` (and ``pruned``), log ``metrics``, end it with ``status`` — one write."""
    run_id = mlflow.active_run().info.run_id
    tags = {"trial_state": state, "pruned": str(state == "PRUNED").lower()}
    mlflow.MlflowClient().log_batch(
        run_id,
        metrics=[Metric(key, float(value), int(time.time() * 1000), 0) for key, value in (metrics or {}).items()],
        tags=[RunTag(key, value) for key, value in tags.items()],
    )
    mlflow.end_run(RunStatus.to_string(status))


def _mlflow_trial(objective: Objective, settings: TuningSettings, tags: dict[str, str]) -> Callable[[optuna.Trial], float]:
    """``objective`` as an Optuna objective that runs inside its own nested MLflow run."""

    def trial_function(trial: optuna.Trial) -> float:
        trial.set_user_attr("process.host", process_tags()["process.host"])
        trial.set_user_attr("process.pid", process_tags()["process.pid"])
        values = suggest(trial, settings.search_space)
        run_tags = {
            **tags,
            **process_tags(),
            "study_name": settings.study_name,
            "trial_number": str(trial.number),
            "trial_state": "RUNNING",
        }
        run = mlflow.start_run(run_name=f"{settings.study_name}.trial_{trial.number}", nested=True, tags=run_tags)
        trial.set_user_attr("mlflow_run_id", run.info.run_id)
        try:
            mlflow.log_params({**values, **settings.fixed})
            value = float(objective(values, TrialReporter(trial, settings.monitor)))
        except optuna.TrialPruned:
            _end_trial_run("PRUNED", RunStatus.FINISHED)  # the run did what was asked: it stopped early
            raise
        except Exception:
            _end_trial_run("FAIL", RunStatus.FAILED)
            raise
        except BaseException:  # KeyboardInterrupt, SystemExit: stopped from outside; the next run trains these values again
            trial.set_user_attr("interrupted", True)
            _end_trial_run("FAIL", RunStatus.KILLED)
            raise
        _end_trial_run("COMPLETE", RunStatus.FINISHED, {"objective": value})
        logger.info("Trial %d of %s: %s=%.5g with %s", trial.number, settings.study_name, settings.monitor, value, values)
        return value

    return trial_function
