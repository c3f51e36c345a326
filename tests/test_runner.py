"""``IncrementalRunner`` on a small hand-made pipeline: exactly the nodes whose code, parameters or inputs changed rerun.

The pipeline (functions in a module written to the test's folder, so a test can change their code)::

    raw.txt ─ clean ─ clean.pkl ─┬─ count ─ (memory) ─┐
                                 ├──────────────────── fit_a (params:a) ─ model_a.json ─┐
                                 └──────────────────── fit_b (params:b) ─ model_b.json ─┴─ report ─ report.txt

``model_a``, ``model_b`` and ``report`` are versioned; ``clean.pkl`` is not; ``count`` lives in memory.
"""

from __future__ import annotations

import importlib
import logging
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import generate_timestamp
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from neural_pipelines.incremental.code import CodeFingerprint
from neural_pipelines.incremental.records import SUFFIX
from neural_pipelines.runner import IncrementalRunner

ALL = {"clean", "count", "fit_a", "fit_b", "report"}

NODES = """
def clean(raw):
    return [int(value) for value in raw.split()]

def count(values):
    return len(values)

def helper(b):
    return b + 1

def fit_a(values, n, a):
    return {"a": sum(values) * a + n}

def fit_b(values, b):
    return {"b": sum(values) * helper(b)}

def report(model_a, model_b):
    return f"a={model_a['a']} b={model_b['b']}"
"""


class Project:
    """A folder with the pipeline's module, its raw file and its outputs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.module_name = f"incremental_nodes_{uuid.uuid4().hex[:8]}"
        self.source = folder / f"{self.module_name}.py"
        self.source.write_text(NODES)
        (folder / "raw.txt").write_text("1 2 3")
        sys.path.insert(0, str(folder))
        self.module: ModuleType = importlib.import_module(self.module_name)

    def edit(self, old: str, new: str) -> None:
        """Change the nodes' code, as a user editing nodes.py between two runs."""
        self.source.write_text(self.source.read_text().replace(old, new))
        self.module = importlib.reload(self.module)

    def pipeline(self) -> Pipeline:
        m = self.module
        return Pipeline(
            [
                Node(m.clean, "raw", "clean", name="clean"),
                Node(m.count, "clean", "count", name="count"),
                Node(m.fit_a, ["clean", "count", "params:a"], "model_a", name="fit_a"),
                Node(m.fit_b, ["clean", "params:b"], "model_b", name="fit_b"),
                Node(m.report, ["model_a", "model_b"], "report", name="report"),
            ]
        )

    def catalog(self, a: int = 1, b: int = 1) -> DataCatalog:
        def entry(kind: str, name: str, versioned: bool = False) -> dict:
            return {"type": kind, "filepath": str(self.folder / "data" / name), "versioned": versioned}

        catalog = DataCatalog.from_config(
            {
                "raw": {"type": "text.TextDataset", "filepath": str(self.folder / "raw.txt")},
                "clean": entry("pickle.PickleDataset", "clean.pkl"),
                "model_a": entry("json.JSONDataset", "model_a.json", versioned=True),
                "model_b": entry("json.JSONDataset", "model_b.json", versioned=True),
                "report": entry("text.TextDataset", "report.txt", versioned=True),
            },
            save_version=generate_timestamp(),
        )
        catalog["params:a"] = MemoryDataset(a)
        catalog["params:b"] = MemoryDataset(b)
        return catalog

    def run(self, a: int = 1, b: int = 1) -> set[str]:
        """One incremental run (a new catalog and save version, as a new ``kedro run``); the names of the nodes that ran."""
        runner = IncrementalRunner(code_packages=(self.module_name,))
        runner.run(self.pipeline(), self.catalog(a, b))
        return set(runner.last_plan.reasons)

    def report(self) -> str:
        return self.catalog().load("report")

    def versions(self, name: str) -> list[Path]:
        return sorted(path for path in (self.folder / "data" / name).iterdir() if path.is_dir())


@pytest.fixture
def project(tmp_path: Path) -> Project:
    made = Project(tmp_path)
    assert made.run() == ALL
    yield made
    sys.path.remove(str(tmp_path))
    sys.modules.pop(made.module_name, None)


def test_an_identical_rerun_skips_every_node_and_logs_each(project: Project, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="neural_pipelines.runner"):
        assert project.run() == set()
    assert sum("skipped (unchanged)" in message for message in caplog.messages) == len(ALL)
    assert project.report() == "a=9 b=12"  # (1+2+3)·1 + 3 values, and (1+2+3)·(1+1)
    assert len(project.versions("report.txt")) == 1  # nothing saved again


def test_a_parameter_change_reruns_its_node_the_memory_input_it_needs_and_what_follows(project: Project) -> None:
    assert project.run(a=2) == {"count", "fit_a", "report"}
    assert project.report() == "a=15 b=12"
    assert project.run(a=2) == set()


def test_a_code_change_in_a_function_a_node_calls_reruns_that_node_and_what_follows(project: Project) -> None:
    project.edit("return b + 1", "return b + 2")
    assert project.run() == {"fit_b", "report"}
    assert project.report() == "a=9 b=18"


def test_an_input_file_change_reruns_everything_that_reads_it(project: Project) -> None:
    (project.folder / "raw.txt").write_text("1 2 3 4")
    assert project.run() == ALL
    assert project.report() == "a=14 b=20"


def test_a_deleted_output_reruns_its_producer_and_its_consumers(project: Project) -> None:
    for version in project.versions("model_b.json"):
        for file in version.iterdir():
            file.unlink()
    assert project.run() == {"fit_b", "report"}
    (project.folder / "data" / "clean.pkl").unlink()
    assert project.run() == ALL


def test_a_corrupt_or_missing_fingerprint_record_makes_the_node_run(project: Project) -> None:
    (record,) = project.versions("model_a.json")[0].glob(f"*{SUFFIX}")
    record.write_text('{"format": 1, "fingerprint": ')
    assert project.run() == {"count", "fit_a", "report"}
    (project.folder / "data" / f"clean.pkl{SUFFIX}").unlink()
    assert project.run() == ALL


def test_an_output_rewritten_by_another_runner_is_not_trusted(project: Project) -> None:
    (project.folder / "raw.txt").write_text("5 5")
    SequentialRunner().run(project.pipeline(), project.catalog())  # rewrites clean.pkl, records nothing
    (project.folder / "raw.txt").write_text("1 2 3")
    assert project.run() == ALL  # clean.pkl no longer holds what its record says
    assert project.report() == "a=9 b=12"


def test_an_earlier_version_with_the_same_fingerprint_is_reused_exactly(project: Project) -> None:
    assert project.run(a=2) == {"count", "fit_a", "report"}
    # back to a=1 with a new b: fit_a's a=1 version is reused (not the newer a=2 one), only fit_b and the report run
    assert project.run(a=1, b=2) == {"fit_b", "report"}
    assert project.report() == "a=9 b=18"


def test_a_node_whose_input_cannot_be_fingerprinted_runs(project: Project) -> None:
    pipeline = project.pipeline() + Pipeline([Node(project.module.count, "given", "given_count", name="count_given")])
    catalog = project.catalog()
    catalog["given"] = MemoryDataset([1, 2])  # handed in by the caller: nothing on disk says what it is
    runner = IncrementalRunner(code_packages=(project.module_name,))
    runner.run(pipeline, catalog)
    assert set(runner.last_plan.reasons) == {"count_given"}
    assert "cannot be fingerprinted" in runner.last_plan.reasons["count_given"]


def test_code_digests_follow_registries_and_ignore_unrelated_functions(tmp_path: Path) -> None:
    source = tmp_path / "registry_nodes.py"
    source.write_text(
        "import math\n"
        "def square(x):\n    return x * x\n"
        "def unrelated(x):\n    return -x\n"
        "BUILDERS = {'square': square}\n"
        "def apply(name, x):\n    return math.floor(BUILDERS[name](x))\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("registry_nodes")

        def digest() -> str:
            return CodeFingerprint(packages=("registry_nodes",)).digest(module.apply)

        before = digest()
        module = importlib.reload(module)
        assert digest() == before  # same code, another process or import: same digest
        source.write_text(source.read_text().replace("return -x", "return -2 * x"))
        module = importlib.reload(module)
        assert digest() == before  # a function apply never reaches
        source.write_text(source.read_text().replace("return x * x", "return x * x * x"))
        module = importlib.reload(module)
        assert digest() != before  # reached through the BUILDERS registry
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("registry_nodes", None)
