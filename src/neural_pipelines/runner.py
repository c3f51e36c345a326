"""``IncrementalRunner``: ``kedro run`` that reruns only what changed.

``kedro run --runner=neural_pipelines.runner.IncrementalRunner`` runs exactly as the default
``SequentialRunner``, except that a node whose fingerprint equals the one recorded beside its
outputs is skipped, and its consumers load those outputs (the exact version recorded). A
node's fingerprint is made of

- its code: the function's source and that of the project code it reaches
  (:mod:`neural_pipelines.incremental.code`), the versions of the libraries it names;
- its parameters: the values of its ``params:`` inputs;
- its inputs: for a dataset a node of this run writes, that node's fingerprint; for any other
  (raw data, a file an earlier run left), the fingerprint recorded beside it when it is still
  that file, else its content's SHA-256;
- the catalog configuration (class, path, load and save arguments) of its inputs and outputs.

Which nodes run, decided before any runs (never a wrong skip: anything uncertain runs):

1. a node that cannot be fingerprinted, has no outputs (it is there for its side effects), has
   an output that is neither a local file, in memory, nor MLflow logging, or whose file outputs
   lack a record with its fingerprint (none, corrupt, the file changed or was deleted) runs;
2. every consumer of a node that runs, runs (the result may differ, even for the same fingerprint);
3. a node that runs needs its in-memory inputs: their producers run; a node whose outputs are
   all in memory runs only when a consumer runs;
4. a model variant (namespace ``<pipeline>.<variant>``) runs or is skipped as a whole, so each
   of its MLflow runs is either trained now or reused whole; with MLflow on, a variant is
   skipped only when the run that trained it is still FINISHED in the tracking store.

A skipped variant gets a nested MLflow run tagged ``reused_from`` (:mod:`neural_pipelines.incremental.mlflow_reuse`);
the MLflow artifacts of skipped nodes outside variants (the report) are re-logged into the
parent run, so the parent run always holds a whole report. Every node logs one line: "skipped
(unchanged)" or why it runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import SequentialRunner
from kedro.runner.task import Task
from pluggy import PluginManager

from neural_pipelines.hooks import MlflowVariantRunsHook, plain, variant_of
from neural_pipelines.incremental import records
from neural_pipelines.incremental.code import PROJECT_PACKAGES, CodeFingerprint, NotFingerprintable
from neural_pipelines.incremental.mlflow_reuse import reusable, reuse_run

logger = logging.getLogger(__name__)

#: Changes whenever what a fingerprint covers changes: older records then no longer match.
SALT = f"neural_pipelines.incremental {records.FORMAT} python {sys.version_info.major}.{sys.version_info.minor}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def parameter_digest(value: Any) -> str:
    """A parameter's value as canonical JSON; a value JSON cannot hold cannot be fingerprinted."""

    def refuse(item: Any) -> Any:
        item = plain(item)
        if isinstance(item, (set, frozenset, tuple)):
            return sorted(item, key=repr) if isinstance(item, (set, frozenset)) else list(item)
        raise NotFingerprintable(f"parameter value of type {type(item).__name__}")

    return digest(json.dumps(plain(value), sort_keys=True, default=refuse))


@dataclass
class Plan:
    """What the run does with each node: its fingerprint (and parts), why it runs, the versions a skip reuses."""

    fingerprints: dict[str, str | None] = field(default_factory=dict)
    parts: dict[str, dict[str, str]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # node → why it runs (absent: skipped)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)  # node → output → version it reuses
    run_ids: dict[str, str | None] = field(default_factory=dict)  # node → MLflow run that produced its outputs

    def runs(self, node: Node) -> bool:
        return node.name in self.reasons

    def must_run(self, node: Node, reason: str) -> bool:
        """Mark ``node`` to run (its first reason is kept); True when that is news."""
        if node.name in self.reasons:
            return False
        self.reasons[node.name] = reason
        return True


class Planner:
    """Fingerprints every node of a pipeline and decides which run (module docstring, steps 1–4)."""

    def __init__(self, pipeline: Pipeline, catalog: CatalogProtocol, code: CodeFingerprint, mlflow_active: bool) -> None:
        self._pipeline, self._catalog, self._code, self._mlflow = pipeline, catalog, code, mlflow_active
        self._producers = {output: node for node in pipeline.nodes for output in node.outputs}
        self._consumers: dict[str, list[Node]] = defaultdict(list)
        for node in pipeline.nodes:
            for name in node.inputs:
                self._consumers[name].append(node)
        self.plan = Plan()

    def decide(self) -> Plan:
        for node in self._pipeline.nodes:  # topological: producers first
            self._fingerprint(node)
            try:
                self._check_outputs(node)
            except Exception as err:  # an output that cannot be inspected: uncertain, so it runs
                self.plan.must_run(node, f"its outputs cannot be checked: {type(err).__name__}: {err}")
        self._propagate()
        return self.plan

    def _fingerprint(self, node: Node) -> None:
        parts: dict[str, str] = {"salt": SALT, "signature": f"{node.inputs} -> {node.outputs}"}
        try:
            parts["code"] = self._code.digest(node.func)
            for name in node.inputs:
                parts[name] = self._input_part(name)
            for name in node.outputs:
                dataset = self._catalog.get(name)
                if records.kind(dataset) != "memory":
                    parts[f"output {name}"] = digest(records.describe(dataset))
        except NotFingerprintable as err:
            self.plan.fingerprints[node.name] = None
            self.plan.must_run(node, f"cannot be fingerprinted: {err}")
            return
        except Exception as err:  # a source or file that cannot be read: uncertain, so it runs
            self.plan.fingerprints[node.name] = None
            self.plan.must_run(node, f"cannot be fingerprinted: {type(err).__name__}: {err}")
            return
        self.plan.parts[node.name] = parts
        self.plan.fingerprints[node.name] = digest(json.dumps(parts, sort_keys=True))

    def _input_part(self, name: str) -> str:
        if name.startswith("params:") or name == "parameters":
            return parameter_digest(self._catalog.load(name))
        dataset = self._catalog.get(name)
        if name in self._producers:
            upstream = self.plan.fingerprints[self._producers[name].name]
            if upstream is None:
                raise NotFingerprintable(f"its input '{name}' comes from a node that cannot be fingerprinted")
            source = f"produced by {upstream}"
        else:
            source = self._free_input(name, dataset)
        return digest(f"{source} as {name}" + ("" if records.kind(dataset) == "memory" else f" read by {records.describe(dataset)}"))

    @staticmethod
    def _free_input(name: str, dataset: Any) -> str:
        """An input no node of this run writes: the fingerprint an earlier run recorded beside it, else its content."""
        if records.kind(dataset) == "file":
            try:
                version = records.load_path(dataset).parent.name if records.versioned(dataset) else None
                return f"produced by {records.read_record(dataset, version).fingerprint}"
            except Exception:  # no usable record: the file's content says what it is
                return f"content {records.input_digest(name, dataset)}"
        return f"content {records.input_digest(name, dataset)}"

    def _check_outputs(self, node: Node) -> None:
        """Step 1: whether the outputs on disk hold this fingerprint, and which version a skip would reuse."""
        fingerprint = self.plan.fingerprints[node.name]
        if fingerprint is None:
            return
        if not node.outputs:
            self.plan.must_run(node, "has no outputs (it runs for its side effects)")
            return
        kinds = {name: records.kind(self._catalog.get(name)) for name in node.outputs}
        if unknown := [name for name, kind in kinds.items() if kind == "unknown"]:
            self.plan.must_run(node, f"its output '{unknown[0]}' ({type(self._catalog.get(unknown[0])).__name__}) cannot be checked")
            return
        if "mlflow" in kinds.values() and self._mlflow and variant_of(node) is None:
            self.plan.must_run(node, "it logs to the parent MLflow run, which only a run of it can fill")
            return
        files = [name for name, kind in kinds.items() if kind == "file"]
        if not files and "mlflow" in kinds.values():
            self.plan.must_run(node, "it only logs to MLflow, and nothing on disk says which run holds that")
            return
        found: dict[str, records.Record] = {}
        for name in files:
            record = self._matching_record(node, name, fingerprint)
            if record is None:
                return
            found[name] = record
        self.plan.versions[node.name] = {name: record.version for name, record in found.items() if record.version}
        run_ids = {record.mlflow_run_id for record in found.values()}
        if run_ids:  # nodes whose outputs are all in memory have none, and say nothing about it
            self.plan.run_ids[node.name] = run_ids.pop() if len(run_ids) == 1 else None

    def _matching_record(self, node: Node, name: str, fingerprint: str) -> records.Record | None:
        dataset = self._catalog.get(name)
        if records.versioned(dataset):
            by_version, problems = records.version_records(dataset)
        else:
            try:
                by_version, problems = {"": records.read_record(dataset, None)}, []
            except ValueError as err:
                by_version, problems = {}, [str(err)]
        for record in by_version.values():
            if record.fingerprint == fingerprint:
                return record
        if by_version:
            newest = next(iter(by_version.values()))
            now = self.plan.parts[node.name]
            changed = sorted(key for key in {*newest.parts, *now} if newest.parts.get(key) != now.get(key))
            self.plan.must_run(node, f"changed since its last recorded run: {', '.join(changed)}")
        else:
            self.plan.must_run(node, f"no usable record of '{name}': {problems[0] if problems else 'never saved'}")
        return None

    def _propagate(self) -> None:
        """Steps 2–4 until nothing changes."""
        nodes = self._pipeline.nodes
        variants: dict[tuple[str, str], list[Node]] = defaultdict(list)
        for node in nodes:
            if variant := variant_of(node):
                variants[variant].append(node)
        changed = True
        while changed:
            changed = False
            for node in nodes:
                if not self.plan.runs(node):
                    changed |= self._needed(node)
                    continue
                for output in node.outputs:
                    for consumer in self._consumers[output]:
                        changed |= self.plan.must_run(consumer, f"its input '{output}' is recomputed by {node.name}")
                for name in node.inputs:
                    producer = self._producers.get(name)
                    if producer is not None and records.kind(self._catalog.get(name)) == "memory":
                        changed |= self.plan.must_run(producer, f"{node.name} runs and needs '{name}', which lives in memory only")
            for (pipeline, model), members in variants.items():
                changed |= self._whole_variant(f"{pipeline}.{model}", members)

    def _needed(self, node: Node) -> bool:
        """A node whose outputs are all in memory runs when something of this run reads them."""
        kinds = [records.kind(self._catalog.get(name)) for name in node.outputs]
        if kinds and all(kind == "memory" for kind in kinds) and not any(self._consumers[name] for name in node.outputs):
            return self.plan.must_run(node, "its in-memory outputs are results of this run")
        return False

    def _whole_variant(self, variant: str, members: list[Node]) -> bool:
        running = [node for node in members if self.plan.runs(node)]
        if running:
            reason = f"model variant {variant} reruns as a whole ({running[0].name}: {self.plan.reasons[running[0].name]})"
            marked = [self.plan.must_run(node, reason) for node in members]  # every member, not just up to the first
            return any(marked)
        if not self._mlflow:
            return False
        run_ids = {self.plan.run_ids.get(node.name) for node in members if node.name in self.plan.run_ids}
        problem = "its nodes' outputs come from different MLflow runs" if len(run_ids) != 1 else reusable(next(iter(run_ids)))
        if problem:
            marked = [self.plan.must_run(node, f"model variant {variant} cannot be reused in MLflow: {problem}") for node in members]
            return any(marked)
        return False


class IncrementalRunner(SequentialRunner):
    """``SequentialRunner`` that skips nodes whose code, parameters and inputs are unchanged (module docstring).

    Args:
        is_async: as ``SequentialRunner``.
        code_packages: packages whose code is fingerprinted by its source (``kedro run
            --runner-params=code_packages=…`` is not needed for this project).
    """

    def __init__(self, is_async: bool = False, code_packages: Iterable[str] = PROJECT_PACKAGES) -> None:
        super().__init__(is_async=is_async)
        self._code_packages = tuple(code_packages)
        self.last_plan: Plan | None = None

    def _run(
        self, pipeline: Pipeline, catalog: CatalogProtocol, hook_manager: PluginManager | None = None, run_id: str | None = None
    ) -> None:
        parent = mlflow.active_run()
        plan = Planner(pipeline, catalog, CodeFingerprint(self._code_packages), mlflow_active=parent is not None).decide()
        self.last_plan = plan
        running = [node for node in pipeline.nodes if plan.runs(node)]
        for node in pipeline.nodes:
            if plan.runs(node):
                self._logger.info("Incremental: %s runs: %s", node.name, plan.reasons[node.name])
            else:
                self._logger.info("Incremental: %s skipped (unchanged)", node.name)
                for name, version in plan.versions.get(node.name, {}).items():
                    records.pin_load_version(catalog.get(name), version)
        skipped = len(pipeline.nodes) - len(running)
        self._logger.info("Incremental: %d of %d nodes run, %d skipped", len(running), len(pipeline.nodes), skipped)
        if parent is not None:
            reuse_in_mlflow(pipeline, catalog, plan, parent.info.run_id)
        variant_hook = next((plugin for plugin in _plugins(hook_manager) if isinstance(plugin, MlflowVariantRunsHook)), None)
        to_run = Pipeline(running)
        load_counts = Counter(chain.from_iterable(node.inputs for node in running))
        for done, node in enumerate(running, start=1):
            try:
                Task(node=node, catalog=catalog, hook_manager=hook_manager, is_async=self._is_async, run_id=run_id).execute()
            except Exception:
                self._suggest_resume_scenario(pipeline, [n for n in pipeline.nodes if n not in running[done - 1 :]], catalog)
                raise
            mlflow_run_id = (variant_hook.run_id_of(node) if variant_hook else None) or (parent.info.run_id if parent else None)
            for name in node.outputs:
                dataset = catalog.get(name)
                if plan.fingerprints[node.name] is not None and records.kind(dataset) == "file":
                    try:
                        records.write_record(dataset, node.name, plan.fingerprints[node.name], plan.parts[node.name], mlflow_run_id)
                    except OSError as err:  # the output is saved; without its record the node just runs next time
                        self._logger.warning("Incremental: no fingerprint record for %s (%s); %s will run next time", name, err, node.name)
            self._logger.info("Completed node: %s", node.name)
            self._logger.info("Completed %d out of %d tasks", done, len(running))
            self._release_datasets(node, catalog, load_counts, to_run)


def _plugins(hook_manager: PluginManager | None) -> list[Any]:
    get_plugins = getattr(hook_manager, "get_plugins", None)
    plugins = get_plugins() if callable(get_plugins) else None
    return list(plugins) if isinstance(plugins, (set, list, tuple)) else []


def mlflow_artifacts(catalog: CatalogProtocol, nodes: Iterable[Node]) -> list[tuple[Path, str | None]]:
    """The local files the MLflow artifact outputs of ``nodes`` hold (their pinned versions), with their artifact folders."""
    found = []
    for node in nodes:
        for name in node.outputs:
            dataset = catalog.get(name)
            if hasattr(dataset, "artifact_path") and getattr(dataset, "_logging_activated", False) and records.kind(dataset) == "file":
                found.append((records.load_path(dataset), dataset.artifact_path))
    return found


def reuse_in_mlflow(pipeline: Pipeline, catalog: CatalogProtocol, plan: Plan, parent_run_id: str) -> None:
    """A reused run per skipped variant; the skipped report's artifacts re-logged into the parent run."""
    skipped = [node for node in pipeline.nodes if not plan.runs(node)]
    variants: dict[tuple[str, str], list[Node]] = defaultdict(list)
    others = []
    for node in skipped:
        if variant := variant_of(node):
            variants[variant].append(node)
        else:
            others.append(node)
    client = mlflow.MlflowClient()
    for path, artifact_path in mlflow_artifacts(catalog, others):
        client.log_artifact(parent_run_id, str(path), artifact_path)
    for (pipeline_name, model), members in variants.items():
        original = next(plan.run_ids[node.name] for node in members if plan.run_ids.get(node.name))
        reuse_run(parent_run_id, f"{pipeline_name}.{model}", original, mlflow_artifacts(catalog, members))
