"""notebooks/: one per experiment, committed without outputs, and each runs top to bottom on a finished
run of its pipeline (the test environment's outputs), so none of them rots.

A notebook runs as a user runs it: a Jupyter kernel started in ``<project>/notebooks`` of the
shared temporary project, with ``KEDRO_ENV=test`` and ``MLFLOW_TRACKING_URI`` at the project's
store (for one notebook left unset, so conf/base/mlflow.yml's relative SQLite path applies).
"""

from __future__ import annotations

import asyncio
import os
import re

import mlflow
import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT, TempProject

#: notebook (named after its pipeline) → the metric its last cell ranks the variants by, and whether lower is better
RANKED_BY = {
    "traffic_lstm": ("test_mae", True),
    "image_cnn": ("test_accuracy", False),
    "house_prices": ("test_mae", True),
    "horse_or_human": ("test_accuracy", False),
    "vgg16_finetune": ("test_accuracy", False),
}
#: notebooks run without MLFLOW_TRACKING_URI: the tracking URI comes from conf/base/mlflow.yml, as in a user's shell
URI_FROM_MLFLOW_YML = {"traffic_lstm"}
CONCURRENT_KERNELS = 2
BEST = re.compile(
    r"best variant: (?P<model>\S+) \((?P<metric>\w+) (?P<value>\S+); MLflow run (?P<run_id>[0-9a-f]+) logged (?P<logged>\S+)\)"
)


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_one_notebook_per_experiment_committed_without_outputs() -> None:
    paths = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
    assert [path.stem for path in paths] == sorted(RANKED_BY)
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        cells = code_cells(notebook)
        assert notebook.cells[0].cell_type == "markdown", path.name  # says what the notebook shows
        assert "%load_ext kedro.ipython" in cells[0].source, path.name  # works in plain Jupyter as under `kedro jupyter lab`
        assert [(cell.outputs, cell.execution_count) for cell in cells] == [([], None)] * len(cells), path.name


def kernel_env(project: TempProject, pipeline: str) -> dict[str, str]:
    """The environment of a notebook's kernel: the test environment's outputs, the project's MLflow store."""
    env = {**os.environ, "KEDRO_ENV": "test", "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["MLFLOW_TRACKING_URI"] = project.tracking_uri
    if pipeline in URI_FROM_MLFLOW_YML:
        del env["MLFLOW_TRACKING_URI"]
    return env


@pytest.fixture(scope="module")
def executed(request: pytest.FixtureRequest, shared_project: TempProject) -> dict[str, nbformat.NotebookNode | Exception]:
    """The notebooks this session tests, after their pipelines ran, each executed by a kernel started in ``<project>/notebooks``.

    Two kernels at a time: a kernel spends most of its time importing on one core. A notebook
    maps to its executed copy, or to the error of its pipeline's run or of its failing cell.
    """
    selected = {
        item.callspec.params["pipeline"] for item in request.session.items if item.module is request.module and hasattr(item, "callspec")
    }
    results: dict[str, nbformat.NotebookNode | Exception] = {}
    for pipeline in sorted(selected):
        try:
            shared_project.ensure_ran(pipeline)
        except Exception as error:
            results[pipeline] = error
    folder = shared_project.path / "notebooks"

    async def execute(pipeline: str, slots: asyncio.Semaphore) -> None:
        async with slots:
            notebook = nbformat.read(folder / f"{pipeline}.ipynb", as_version=4)
            client = NotebookClient(notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(folder)}})
            try:
                await client.async_execute(env=kernel_env(shared_project, pipeline))
            except Exception as error:  # CellExecutionError names the cell and carries its traceback
                results[pipeline] = error
            else:
                results[pipeline] = notebook

    async def execute_all() -> None:
        slots = asyncio.Semaphore(CONCURRENT_KERNELS)
        await asyncio.gather(*(execute(pipeline, slots) for pipeline in sorted(selected - set(results))))

    asyncio.run(execute_all())
    return results


@pytest.mark.pipeline
@pytest.mark.parametrize("pipeline", sorted(RANKED_BY))
def test_notebook_runs_on_the_finished_run_and_names_the_best_variant(
    pipeline: str, executed: dict[str, nbformat.NotebookNode | Exception], shared_project: TempProject
) -> None:
    notebook = executed[pipeline]
    if isinstance(notebook, Exception):
        raise notebook  # a cell raised (or the pipeline's run did): the notebook has rotted
    project = shared_project
    folder = project.path / "notebooks"

    cells = code_cells(notebook)
    assert all(cell.execution_count for cell in cells)
    figures = [output for cell in cells for output in cell.outputs if "image/png" in output.get("data", {})]
    assert len(figures) >= 2  # the comparison chart and a model's predictions
    printed = "".join(output.text for output in cells[-1].outputs if output.get("name") == "stdout")
    best = BEST.search(printed)
    assert best, printed

    metric, lower_is_better = RANKED_BY[pipeline]
    comparison_file = project.path / "data" / "08_reporting" / pipeline / "comparison.csv"
    comparison = pd.read_csv(sorted(comparison_file.iterdir())[-1] / comparison_file.name)
    ranked = comparison.sort_values(metric, ascending=lower_is_better, kind="stable")
    assert best["metric"] == metric
    assert best["model"] == ranked["model"].iloc[0]
    assert float(best["value"]) == pytest.approx(ranked[metric].iloc[0], rel=1e-5)
    assert float(best["logged"]) == pytest.approx(ranked[metric].iloc[0], rel=1e-5)  # what the variant's MLflow run logged
    run = mlflow.MlflowClient(tracking_uri=project.tracking_uri).get_run(best["run_id"])  # the notebook read the project's store
    assert (run.info.status, run.data.tags["pipeline"], run.data.tags["model"]) == ("FINISHED", pipeline, best["model"])
    assert [path.name for path in folder.iterdir() if path.suffix != ".ipynb" and path.name != ".gitkeep"] == []  # no mlflow.db, mlruns/ …
