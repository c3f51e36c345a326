"""Shared fixtures: run pipelines in throw-away copies of the project.

Pipeline tests never touch the user's ``data/`` or ``mlflow.db``: a temporary project folder
holds a copy of ``conf/`` (Kedro resolves relative data paths against the project path) and
its own SQLite MLflow store, and the real pipelines run there in the ``test`` environment.

Running a pipeline takes seconds, so it runs once per session: ``shared_project`` is one
temporary project in which :meth:`TempProject.ensure_ran` runs each pipeline at most once (the
image folders of ``sample_images`` first where a pipeline reads them). The pipeline tests, the
notebook tests and the kedro-viz test all read that one run. A test that reruns or breaks a
project (bad input, a corrupt image, another environment) works on :meth:`TempProject.fork`, a
copy of the finished run, so the shared project stays exactly what a normal ``kedro run`` leaves.

Under pytest-xdist (``scripts/test.sh`` runs ``-n`` workers) the workers share that one project:
a file lock lets one ``kedro run`` at a time into it (the project refuses two at once, as for a
user) and keeps forks and temporary files out of a run in progress; which pipelines ran (or
failed) is recorded next to the lock, so each pipeline still runs once per session.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.runner import AbstractRunner

PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: Pipelines that read what another pipeline writes, as a user runs them: the image folders are drawn first.
RUNS_FIRST = {"horse_or_human": ("sample_images",), "vgg16_finetune": ("sample_images",)}
#: Outputs that may hold the project's absolute path as text (fork() rewrites it in them).
TEXT_FILES = {".csv", ".json", ".html", ".txt"}


@dataclass
class TempProject:
    """A copy of the project's configuration with its own data folder and MLflow store."""

    path: Path
    tracking_uri: str
    ran: set[str] = field(default_factory=set)  # pipelines ensure_ran() has run here
    failed: dict[str, Exception] = field(default_factory=dict)  # … and those whose run raised
    lock: Path | None = None  # shared by the xdist workers: the lock file, next to the record of what ran

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the project while a run, a fork or a temporary file needs it alone (a no-op for a project of one process)."""
        if self.lock is None:
            yield
            return
        with open(self.lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._read_record()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_record(self) -> None:
        """What the other workers ran here: ``<pipeline>.ran`` / ``<pipeline>.failed`` (its error) beside the lock."""
        for marker in self.lock.parent.glob("*.ran"):
            self.ran.add(marker.stem)
        for marker in self.lock.parent.glob("*.failed"):
            self.failed.setdefault(marker.stem, RuntimeError(marker.read_text()))

    def _record(self, pipeline: str, error: Exception | None = None) -> None:
        if self.lock is not None:
            marker = self.lock.parent / f"{pipeline}.{'failed' if error else 'ran'}"
            marker.write_text(f"{type(error).__name__}: {error}" if error else "")

    def run(
        self,
        pipeline: str | None,
        env: str = "test",
        namespaces: list[str] | None = None,
        params: dict | None = None,
        runner: AbstractRunner | None = None,
    ) -> dict:
        """``kedro run --pipelines=<pipeline> --env=<env> [--namespaces=…] [--params=…] [--runner=…]`` in this project.

        ``pipeline=None`` runs every pipeline.
        """
        previous = os.environ.get("MLFLOW_TRACKING_URI")
        previous_cwd = Path.cwd()
        os.environ["MLFLOW_TRACKING_URI"] = self.tracking_uri
        os.chdir(self.path)  # MLflow's SQLite store puts artifacts in ./mlruns of the working directory
        try:
            with KedroSession.create(project_path=self.path, env=env, runtime_params=params) as session:
                return session.run(pipeline_names=[pipeline] if pipeline else None, namespaces=namespaces, runner=runner)
        finally:
            os.chdir(previous_cwd)
            while mlflow.active_run():  # a failed run must not leak into the next test
                mlflow.end_run("FAILED")
            if previous is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = previous

    def ensure_ran(self, pipeline: str) -> TempProject:
        """Run ``pipeline`` in the test environment unless it already ran here (its prerequisites first).

        A pipeline whose run raised is not run again: every later caller gets that error at once.
        """
        with self.exclusive():
            for name in (*RUNS_FIRST.get(pipeline, ()), pipeline):
                if name in self.failed:
                    raise RuntimeError(f"`kedro run --pipelines={name}` failed earlier in this session") from self.failed[name]
                if name not in self.ran:
                    try:
                        self.run(name)
                    except Exception as error:
                        self.failed[name] = error
                        self._record(name, error)
                        raise
                    self.ran.add(name)
                    self._record(name)
        return self

    def fork(self, folder: Path) -> TempProject:
        """A copy of this project in ``folder`` (a new, empty one): data, configuration, MLflow store and artifacts.

        The copy is what a run at ``folder`` would have left: the absolute paths that the runs
        recorded (MLflow's artifact locations, the file paths in image manifests and prediction
        tables) are rewritten to the copy's, so runs in the copy never write into this project
        and a rerun there rewrites a manifest byte for byte.
        """
        old, new = f"{self.path}/", f"{folder}/"
        with self.exclusive():
            shutil.copytree(self.path, folder, symlinks=True, ignore=shutil.ignore_patterns("mlflow.db", "build", ".viz"))
            with closing(sqlite3.connect(self.path / "mlflow.db")) as source, closing(sqlite3.connect(folder / "mlflow.db")) as target:
                source.backup(target)  # consistent even while this process holds connections to the source
                replace_text(target, old, new)
                target.commit()
        for path in (folder / "data").rglob("*"):
            if path.suffix in TEXT_FILES and path.is_file() and old.encode() in (content := path.read_bytes()):
                path.write_bytes(content.replace(old.encode(), new.encode()))
        return TempProject(path=folder, tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", ran=set(self.ran), failed=dict(self.failed))

    def add_sources(self) -> None:
        """Copy ``src/`` and ``notebooks/``: the kedro CLI and Jupyter kernels started in this project import the package from here."""
        ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
        for folder in ("src", "notebooks"):
            shutil.copytree(PROJECT_ROOT / folder, self.path / folder, ignore=ignore, dirs_exist_ok=True)

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


def replace_text(database: sqlite3.Connection, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in every text value of every table (MLflow's artifact locations and URIs)."""
    tables = [name for (name,) in database.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        for column in [row[1] for row in database.execute(f'PRAGMA table_info("{table}")')]:
            database.execute(
                f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0',
                (old, new, old),
            )


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


@pytest.fixture(autouse=True)
def _fresh_mlflow_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with no active MLflow run or experiment, whatever the test before it left.

    ``mlflow.set_experiment`` keeps the experiment id in a module global and in ``MLFLOW_EXPERIMENT_ID``; a
    later test in the same process (and xdist's order differs from the serial one) would otherwise log into an
    experiment id that does not exist in its own store.
    """
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    mlflow.tracking.fluent._active_experiment_id = None
    yield
    while mlflow.active_run():
        mlflow.end_run("FAILED")
    mlflow.tracking.fluent._active_experiment_id = None


@pytest.fixture
def temp_project(tmp_path: Path) -> Iterator[TempProject]:
    """A fresh temporary project for one test."""
    yield make_temp_project(tmp_path)


@pytest.fixture
def own_run(finished_run: TempProject, tmp_path: Path) -> TempProject:
    """A copy of the test module's ``finished_run``, for a test that reruns or breaks it."""
    return finished_run.fork(tmp_path / "project")


@pytest.fixture(scope="session")
def shared_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TempProject]:
    """The session's one project: ``shared_project.ensure_ran(pipeline)`` runs a pipeline there at most once.

    Tests read it and leave it as the runs left it; to rerun or break a pipeline, ``fork()`` it.
    It has ``src/`` and ``notebooks/`` too, for ``kedro viz`` and the notebooks' kernels.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        project = make_temp_project(tmp_path_factory.mktemp("shared"))
        project.add_sources()
        yield project
        return
    record = tmp_path_factory.getbasetemp().parent / "shared-record"  # the folder every worker of this session shares
    record.mkdir(exist_ok=True)
    lock = record / "project.lock"
    folder = record.parent / "shared"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if not (record / "created").exists():
                folder.mkdir()
                make_temp_project(folder).add_sources()
                (record / "created").write_text(worker)
            else:
                bootstrap_project(PROJECT_ROOT)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    yield TempProject(path=folder, tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", lock=lock)
