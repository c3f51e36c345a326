"""Model variants: named by the parameter files, namespaced templates reading shared inputs, gathered for the report."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from neural_pipelines.hooks import variant_of
from neural_pipelines.pipelines.variants import collect_nodes, configured_variants, is_variant, namespaced, pipeline_level_keys
from tests.conftest import PROJECT_ROOT

EXPERIMENTS = ("traffic_lstm", "image_cnn", "house_prices", "horse_or_human", "vgg16_finetune", "fundamentals")


def double(x: int, factor: int) -> dict[str, int]:
    return {"value": x * factor}


def test_variants_read_shared_inputs_unprefixed_unless_they_set_their_own_and_collect_gathers_them() -> None:
    parameters = {"demo": {"factor": 2, "a": {"model": {"units": 1}}, "b": {"model": {"units": 2}, "factor": 5}}}
    variants = configured_variants("demo", parameters)
    assert list(variants) == ["a", "b"]
    assert pipeline_level_keys("demo", parameters) == {"factor"}
    template = Pipeline([Node(double, ["data", "params:factor"], "summary", name="double")])
    parts = [namespaced(template, name, block, {"data"}, pipeline_level_keys("demo", parameters)) for name, block in variants.items()]
    experiment = Pipeline(parts, namespace="demo") + Pipeline(collect_nodes("demo", ["a", "b"], {"summaries": "summary"}))

    assert experiment.inputs() == {"demo.data", "params:demo.factor", "params:demo.b.factor"}
    assert {node.name for node in experiment.nodes} == {"demo.a.double", "demo.b.double", "demo.collect_summaries"}
    catalog = DataCatalog(
        {
            "demo.data": MemoryDataset(3),
            "params:demo.factor": MemoryDataset(2),
            "params:demo.b.factor": MemoryDataset(5),
            "demo.summaries": MemoryDataset(),
        }
    )
    SequentialRunner().run(experiment, catalog)
    # b reads its own factor; every collected summary names its variant as `model`
    assert catalog.load("demo.summaries") == {"a": {"model": "a", "value": 6}, "b": {"model": "b", "value": 15}}


def test_a_variant_is_a_block_with_a_model_or_baseline_block() -> None:
    assert is_variant({"model": {"architecture": "dense"}})
    assert is_variant({"baseline": {"method": "persistence"}})
    assert not is_variant({"model": None, "threshold": 0.5})  # vgg16_finetune.predict names a variant, it is not one
    assert not is_variant({"batch_size": 32})
    with pytest.raises(ValueError, match=r"No model variant in the 'demo' parameters.*parameters_demo\.yml"):
        configured_variants("demo", {"demo": {"seed": 1}})


def environment_parameters(env: str, pipeline: str) -> dict:
    path = PROJECT_ROOT / "conf" / env / f"parameters_{pipeline}.yml"
    return (yaml.safe_load(path.read_text()) or {}).get(pipeline, {}) if path.exists() else {}


@pytest.mark.parametrize("pipeline", EXPERIMENTS)
def test_the_registered_pipeline_runs_exactly_the_variants_of_its_parameter_file(pipeline: str) -> None:
    bootstrap_project(PROJECT_ROOT)
    base = environment_parameters("base", pipeline)
    configured = [name for name, block in base.items() if is_variant(block)]
    registered = {variant_of(node)[1] for node in pipelines[pipeline].nodes if variant_of(node)}
    assert registered == set(configured) and configured
    # an environment may change a variant's settings, not name a block that base does not define
    # (a misspelt or removed variant would otherwise be silently ignored)
    for env in ("test", "full"):
        overridden = environment_parameters(env, pipeline)
        unknown = {name for name, value in overridden.items() if isinstance(value, dict) and name not in base}
        assert unknown == set(), f"conf/{env}/parameters_{pipeline}.yml names {sorted(unknown)}, which base does not define"
    # a variant continues only from a variant that exists
    for name, block in base.items():
        if is_variant(block) and "continue_from" in block:
            assert block["continue_from"] in configured, f"{pipeline}.{name}.continue_from"


def test_adding_a_parameter_block_adds_a_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "conf" / "base").mkdir(parents=True)
    (project / "conf" / "local").mkdir()
    (project / "pyproject.toml").write_text((PROJECT_ROOT / "pyproject.toml").read_text())
    for source in (PROJECT_ROOT / "conf" / "base").glob("*.yml"):
        (project / "conf" / "base" / source.name).write_text(source.read_text())
    parameters = project / "conf" / "base" / "parameters_traffic_lstm.yml"
    parameters.write_text(parameters.read_text() + "\n  gru_like:\n    model: {architecture: simple_rnn, units: 32}\n")
    monkeypatch.chdir(project)
    from neural_pipelines.pipelines.traffic_lstm.pipeline import create_pipeline

    names = {variant_of(node)[1] for node in create_pipeline().nodes if variant_of(node)}
    assert "gru_like" in names and {"dense", "lstm", "persistence"} <= names
