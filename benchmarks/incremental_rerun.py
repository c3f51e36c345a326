"""How much of a `kedro run --pipelines=traffic_lstm` does `IncrementalRunner` save on a rerun?

In a temporary copy of the project (its own data/ and mlflow.db), in this one process:

1. a full run with `--runner=neural_pipelines.runner.IncrementalRunner` (nothing recorded yet,
   so every node runs); its pipeline time, and how long the `lstm` variant's nodes and the
   nodes downstream of them (the collections and the report) took, each node timed from its
   first input load to the next node's;
2. (a) the same run again: ratio_identical = its pipeline time / the first run's (target <= 0.10);
3. (b) with `traffic_lstm.lstm.model.units` changed (16 -> 32): ratio_one_variant = its
   pipeline time / (the first run's lstm nodes + report nodes) (target <= 1.3), and its `lstm`
   metrics must equal those of a from-scratch run with the same parameters (a second fresh
   project running the data nodes and the `lstm` variant with the default runner).

    python benchmarks/incremental_rerun.py [--units 32] [--env base]

"Pipeline time" is what Kedro logs as "Pipeline execution completed in …": the runner's wall
time, planning, loads, saves, node hooks and the MLflow copies of reused variants included;
the wall time of the whole `session.run` (catalog, kedro-mlflow's start and end of the run)
is printed beside it. The last line is
`ratio_identical=<x> ratio_one_variant=<y>`; the exit status is 1 if a target is missed or the
metrics differ. Variant names other than `lstm` are read from the pipeline, never assumed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VARIANT = "traffic_lstm.lstm"


class NodeTimer:
    """Seconds per node: from its first input load (or its start) to the next node's, the last one to the pipeline's end."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, float]] = []
        self.end = 0.0

    def _start(self, node: Any) -> None:
        if not self.starts or self.starts[-1][0] != node.name:
            self.starts.append((node.name, time.perf_counter()))

    def seconds(self) -> dict[str, float]:
        if not self.starts:  # nothing ran
            return {}
        ends = [start for _, start in self.starts[1:]] + [self.end]
        return {name: end - start for (name, start), end in zip(self.starts, ends, strict=True)}


def timer_hooks(timer: NodeTimer) -> Any:
    from kedro.framework.hooks import hook_impl

    class Hooks:
        @hook_impl(tryfirst=True)
        def before_dataset_loaded(self, dataset_name: str, node: Any) -> None:
            timer._start(node)

        @hook_impl(tryfirst=True)
        def before_node_run(self, node: Any) -> None:
            timer._start(node)

        @hook_impl(trylast=True)
        def after_pipeline_run(self) -> None:
            timer.end = time.perf_counter()

    return Hooks()


def temp_project(folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    (folder / "data").mkdir()
    return folder


def run(project: Path, env: str, params: dict | None = None, incremental: bool = True, node_names: list[str] | None = None) -> dict:
    """One in-process `kedro run --pipelines=traffic_lstm` in ``project``.

    Returns its pipeline and session seconds, each node's seconds, the nodes that ran and lstm's test metrics.
    """
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.runner import SequentialRunner

    from neural_pipelines.runner import IncrementalRunner

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
    os.chdir(project)  # MLflow's SQLite store writes artifacts to ./mlruns; variants are read from ./conf
    runner = IncrementalRunner() if incremental else SequentialRunner()
    timer = NodeTimer()
    runner_run, pipeline_seconds = runner.run, []

    def timed_run(*args: Any, **kwargs: Any) -> Any:  # Kedro's "Pipeline execution completed in …": the runner's own time
        started = time.perf_counter()
        try:
            return runner_run(*args, **kwargs)
        finally:
            pipeline_seconds.append(time.perf_counter() - started)

    runner.run = timed_run
    with KedroSession.create(project_path=project, env=env, runtime_params=params) as session:
        session._hook_manager.register(timer_hooks(timer))  # the benchmark's own timing hook, this session only
        started = time.perf_counter()
        session.run(pipeline_names=["traffic_lstm"], runner=runner, node_names=node_names)
        session_seconds = time.perf_counter() - started
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.model = 'lstm'", order_by=["attributes.start_time DESC"])
    metrics = {key.removeprefix("metrics."): float(value) for key, value in runs.iloc[0].items() if key.startswith("metrics.test_")}
    ran = set(runner.last_plan.reasons) if incremental else set(timer.seconds())
    return {"seconds": pipeline_seconds[0], "session": session_seconds, "nodes": timer.seconds(), "ran": ran, "metrics": metrics}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=32, help="the lstm variant's new units (default 32)")
    parser.add_argument("--env", default="base", help="Kedro environment (default base: the real data and epochs)")
    args = parser.parse_args()
    sys.path.insert(0, str(PROJECT_ROOT))

    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    changed = {"traffic_lstm": {"lstm": {"model": {"units": args.units}}}}
    with tempfile.TemporaryDirectory(prefix="incremental_rerun_") as folder:
        project = temp_project(Path(folder) / "project")
        first = run(project, args.env)
        pipeline = pipelines["traffic_lstm"]
        lstm_nodes = [node.name for node in pipeline.nodes if node.namespace == VARIANT]
        downstream = [node.name for node in pipeline.from_nodes(*lstm_nodes).nodes if node.name not in lstm_nodes]
        lstm_seconds = sum(first["nodes"][name] for name in lstm_nodes)
        report_seconds = sum(first["nodes"][name] for name in downstream)
        baseline = lstm_seconds + report_seconds
        print(
            f"first run: {len(first['ran'])} of {len(pipeline.nodes)} nodes, pipeline {first['seconds']:.1f} s "
            f"(session.run {first['session']:.1f} s, with creating mlflow.db); "
            f"its {VARIANT} nodes {lstm_seconds:.1f} s + downstream ({', '.join(downstream)}) {report_seconds:.1f} s = {baseline:.1f} s"
        )

        identical = run(project, args.env)
        ratio_identical = identical["seconds"] / first["seconds"]
        print(
            f"(a) identical rerun: {len(identical['ran'])} nodes ran, pipeline {identical['seconds']:.1f} s "
            f"(session.run {identical['session']:.1f} s) = "
            f"{ratio_identical:.3f} x the first run's {first['seconds']:.1f} s (target <= 0.10)"
        )

        one_variant = run(project, args.env, params=changed)
        ratio_one_variant = one_variant["seconds"] / baseline
        which = f"all of {VARIANT} + downstream" if one_variant["ran"] == {*lstm_nodes, *downstream} else sorted(one_variant["ran"])
        print(
            f"(b) {VARIANT}.model.units={args.units}: {len(one_variant['ran'])} nodes ran ({which}), "
            f"pipeline {one_variant['seconds']:.1f} s (session.run {one_variant['session']:.1f} s) = "
            f"{ratio_one_variant:.3f} x the first run's {baseline:.1f} s (target <= 1.3)"
        )

        scratch_project = temp_project(Path(folder) / "scratch")
        data_nodes = [node.name for node in pipeline.to_nodes(*lstm_nodes).nodes]
        scratch = run(scratch_project, args.env, params=changed, incremental=False, node_names=data_nodes)
        equal = one_variant["metrics"] == scratch["metrics"] and bool(scratch["metrics"])
        print(f"    {VARIANT} metrics after the rerun:       {one_variant['metrics']}")
        print(f"    from scratch (default runner, fresh project): {scratch['metrics']}  equal: {equal}")

    print(f"ratio_identical={ratio_identical:.3f} ratio_one_variant={ratio_one_variant:.3f}")
    return 0 if ratio_identical <= 0.10 and ratio_one_variant <= 1.3 and equal else 1


if __name__ == "__main__":
    sys.exit(main())
