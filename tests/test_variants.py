"""The shared wiring of model variants: namespacing a template and gathering across variants."""

from __future__ import annotations

from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from neural_pipelines.pipelines.variants import collect_nodes, namespaced


def double(x: int, factor: int) -> int:
    return x * factor


def test_variants_read_shared_inputs_unprefixed_and_collect_gathers_them_by_variant() -> None:
    template = Pipeline([Node(double, ["data", "params:factor"], "summary", name="double")])
    variants = [namespaced(template, name, {"data"}, {"params:factor"}) for name in ("a", "b")]
    experiment = Pipeline(variants, namespace="demo") + Pipeline(collect_nodes("demo", ["a", "b"], {"summaries": "summary"}))

    assert experiment.inputs() == {"demo.data", "params:demo.factor"}
    assert {node.name for node in experiment.nodes} == {"demo.a.double", "demo.b.double", "demo.collect_summaries"}
    catalog = DataCatalog({"demo.data": MemoryDataset(3), "params:demo.factor": MemoryDataset(2), "demo.summaries": MemoryDataset()})
    SequentialRunner().run(experiment, catalog)
    assert catalog.load("demo.summaries") == {"a": 6, "b": 6}
