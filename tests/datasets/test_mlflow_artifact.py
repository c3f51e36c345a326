"""``VersionedMlflowArtifactDataset`` keeps the wrapped dataset's ``preview()``, which kedro-viz shows in its side panel."""

from __future__ import annotations

import base64
import inspect
from pathlib import Path

import mlflow
import pandas as pd
from kedro.io import DataCatalog
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset
from matplotlib.figure import Figure

VERSIONS = ("2024-05-06T07.08.09.000Z", "2024-05-07T07.08.09.000Z")


def wrapped(dataset: dict) -> dict:
    """A catalog entry as conf/base writes figures and tables: versioned on the outer entry, logged under report/."""
    return {
        "type": "neural_pipelines.datasets.VersionedMlflowArtifactDataset",
        "versioned": True,
        "artifact_path": "report",
        "dataset": dataset,
    }


def preview_type(dataset: object) -> str:
    """The preview type kedro-viz reads off the return annotation of ``preview``."""
    annotation = inspect.signature(dataset.preview).return_annotation
    return getattr(annotation, "__name__", str(annotation))


def test_figure_and_table_previews_are_the_wrapped_datasets_on_the_newest_version(tmp_path: Path) -> None:
    config = {
        "figure": wrapped({"type": "matplotlib.MatplotlibDataset", "filepath": str(tmp_path / "figure.png")}),
        "table": wrapped({"type": "pandas.CSVDataset", "filepath": str(tmp_path / "table.csv"), "save_args": {"index": False}}),
    }
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("previews")  # not the experiment id an earlier test in this process left active
    tables = {}
    for run, version in enumerate(VERSIONS):  # two runs, each its own version: a preview shows the newer
        figure = Figure()
        figure.subplots().plot([0, 1], [run, 1 - run])
        tables[version] = pd.DataFrame({"model": [f"variant_{i}" for i in range(7)], "score": [run + i / 10 for i in range(7)]})
        catalog = DataCatalog.from_config(config, save_version=version)
        with mlflow.start_run():
            catalog.save("figure", figure)
            catalog.save("table", tables[version])

    viewer = DataCatalog.from_config(config)  # as kedro-viz builds it: no save or load version, no active run
    figure_dataset, table_dataset = viewer.get("figure"), viewer.get("table")
    # kedro-mlflow returns an instance of a subclass of the wrapped dataset: preview() is the wrapped one's own
    assert isinstance(figure_dataset, MatplotlibDataset) and isinstance(table_dataset, CSVDataset)
    assert (preview_type(figure_dataset), preview_type(table_dataset)) == ("ImagePreview", "TablePreview")

    newest = VERSIONS[-1]
    png = base64.b64decode(figure_dataset.preview())
    assert png == (tmp_path / "figure.png" / newest / "figure.png").read_bytes()
    assert png != (tmp_path / "figure.png" / VERSIONS[0] / "figure.png").read_bytes()
    table = table_dataset.preview()  # kedro-viz's default: the first 5 rows
    assert table["columns"] == ["model", "score"]
    assert table["data"] == tables[newest].head(5).to_numpy().tolist()
    assert mlflow.active_run() is None
    logged = mlflow.search_runs(search_all_experiments=True)
    assert len(logged) == len(VERSIONS)  # previewing logged nothing
