"""``traffic_lstm`` under ``IncrementalRunner``: an identical rerun trains nothing and MLflow still lists every variant;
a new ``lstm`` setting retrains the ``lstm`` variant and the report only."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from kedro.framework.project import pipelines

from neural_pipelines.runner import IncrementalRunner
from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

#: What a reused run copies, and what differs by nature (its own id, start time, process tags, reuse tags).
COMPARED = ("metrics.", "params.", "tags.model", "tags.pipeline", "tags.dataset", "tags.data_source", "tags.git_sha")


def incremental_run(project: TempProject, params: dict | None = None) -> tuple[set[str], pd.DataFrame]:
    """One ``kedro run --pipelines=traffic_lstm --runner=neural_pipelines.runner.IncrementalRunner``.

    Returns the nodes that ran, and the variant runs under its parent run.
    """
    runner = IncrementalRunner()
    project.run("traffic_lstm", params=params, runner=runner)
    runs = project.runs("traffic_lstm")
    newest_parent = runs.sort_values("start_time")["tags.mlflow.parentRunId"].iloc[-1]
    return set(runner.last_plan.reasons), runs[runs["tags.mlflow.parentRunId"] == newest_parent].set_index("tags.model")


def test_reruns_reuse_unchanged_variants_in_mlflow_and_retrain_only_what_changed(temp_project: TempProject) -> None:
    ran, first = incremental_run(temp_project)
    pipeline = pipelines["traffic_lstm"]
    assert ran == {node.name for node in pipeline.nodes}
    assert "tags.reused_from" not in first or first["tags.reused_from"].isna().all()

    ran, second = incremental_run(temp_project)
    assert ran == set()
    assert sorted(second.index) == sorted(first.index)  # every variant is listed under the new parent run
    assert set(second["status"]) == {"FINISHED"}
    assert (second["tags.reused_from"] == first.loc[second.index, "run_id"]).all()
    assert set(second["tags.reused"]) == {"true"}
    columns = [column for column in first.columns if column.startswith(COMPARED)]
    pd.testing.assert_frame_equal(second.loc[first.index, columns], first[columns], check_like=True)
    client = mlflow.MlflowClient()
    lstm_first, lstm_second = first.loc["lstm", "run_id"], second.loc["lstm", "run_id"]
    history = [(point.step, point.value) for point in client.get_metric_history(lstm_second, "val_loss")]
    assert history == [(point.step, point.value) for point in client.get_metric_history(lstm_first, "val_loss")]
    assert {artifact.path for artifact in client.list_artifacts(lstm_second, "evaluation")} == {"evaluation/evaluation.json"}
    parent = second["tags.mlflow.parentRunId"].iloc[0]
    assert {"report/report.html", "report/comparison.csv"} <= {artifact.path for artifact in client.list_artifacts(parent, "report")}

    ran, third = incremental_run(temp_project, params={"traffic_lstm": {"lstm": {"model": {"units": 8}}}})
    lstm_nodes = [node.name for node in pipeline.nodes if node.namespace == "traffic_lstm.lstm"]
    assert ran == {node.name for node in pipeline.from_nodes(*lstm_nodes).nodes}  # lstm's nodes, then the collections and report
    assert ran > set(lstm_nodes)
    assert "tags.reused_from" not in third or pd.isna(third.loc["lstm"].get("tags.reused_from"))
    assert client.get_run(third.loc["lstm", "run_id"]).data.params["model.units"] == "8"
    assert (third.drop(index="lstm")["tags.reused_from"] == first.drop(index="lstm")["run_id"]).all()
