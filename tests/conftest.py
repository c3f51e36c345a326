"""Shared fixtures: run a pipeline in a throw-away copy of the project.

Pipeline tests never touch the user's ``data/`` or ``mlflow.db``: each copies ``conf/`` into a
temporary project folder (Kedro resolves relative data paths against the project path),
points MLflow at a SQLite file there, and runs the real pipeline in the ``test`` environment.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class TempProject:
    """A copy of the project's configuration with its own data folder and MLflow store."""

    path: Path
    tracking_uri: str

    def run(self, pipeline: str, env: str = "test") -> dict:
        """``kedro run --pipeline=<pipeline> --env=<env>`` inside this project."""
        previous = os.environ.get("MLFLOW_TRACKING_URI")
        previous_cwd = Path.cwd()
        os.environ["MLFLOW_TRACKING_URI"] = self.tracking_uri
        os.chdir(self.path)  # MLflow's SQLite store puts artifacts in ./mlruns of the working directory
        try:
            with KedroSession.create(project_path=self.path, env=env) as session:
                return session.run(pipeline_names=[pipeline])
        finally:
            os.chdir(previous_cwd)
            while mlflow.active_run():  # a failed run must not leak into the next test
                mlflow.end_run("FAILED")
            if previous is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = previous

    def runs(self, pipeline: str) -> pd.DataFrame:
        """Every MLflow run tagged with ``pipeline`` in this project's store."""
        mlflow.set_tracking_uri(self.tracking_uri)
        return mlflow.search_runs(search_all_experiments=True, filter_string=f"tags.pipeline = '{pipeline}'")

    def add_env(self, name: str, files: dict[str, str]) -> None:
        """Create ``conf/<name>`` with the given YAML files (a user's override, say)."""
        folder = self.path / "conf" / name
        folder.mkdir(parents=True, exist_ok=True)
        for filename, text in files.items():
            (folder / filename).write_text(text)

    def outputs(self, pattern: str = "**/*") -> dict[str, bytes]:
        """Every file under ``data/`` matching ``pattern``, path → content."""
        return {
            str(path.relative_to(self.path)): path.read_bytes() for path in sorted((self.path / "data").glob(pattern)) if path.is_file()
        }


def make_temp_project(folder: Path) -> TempProject:
    """Copy ``pyproject.toml`` and ``conf/`` (minus conf/local) into ``folder``."""
    bootstrap_project(PROJECT_ROOT)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    (folder / "data").mkdir()
    return TempProject(path=folder, tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own folder, so nothing (e.g. MLflow's ./mlruns) lands in the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def temp_project(tmp_path: Path) -> Iterator[TempProject]:
    """A fresh temporary project for one test."""
    yield make_temp_project(tmp_path)


@pytest.fixture(scope="module")
def module_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TempProject]:
    """A temporary project shared by the tests of one module (run a pipeline once, assert many things)."""
    yield make_temp_project(tmp_path_factory.mktemp("project"))
