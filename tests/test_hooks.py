"""Pure helpers of the MLflow hook: which run a node belongs to, and how its params are named."""

from __future__ import annotations

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from neural_pipelines.hooks import data_provenance, flatten_params, parent_run_name, run_tags_from_params, variant_of, variant_params


def identity(x: object) -> object:
    return x


def test_variant_is_the_second_namespace_level() -> None:
    assert variant_of(Node(identity, "a", "b", namespace="traffic_lstm.lstm")) == ("traffic_lstm", "lstm")
    assert variant_of(Node(identity, "a", "b", namespace="traffic_lstm")) is None
    assert variant_of(Node(identity, "a", "b")) is None


def test_params_lose_their_namespace_so_variants_share_names() -> None:
    inputs = {
        "params:traffic_lstm.lstm.model": {"architecture": "lstm", "units": 16},
        "params:traffic_lstm.training": {"batch_size": 32, "schedule": {"patience": 10}},
        "params:traffic_lstm.seed": 42,
        "traffic_lstm.windows": object(),
    }
    assert variant_params(inputs, "traffic_lstm.lstm") == {
        "model.architecture": "lstm",
        "model.units": 16,
        "training.batch_size": 32,
        "training.schedule.patience": 10,
        "seed": 42,
    }


def test_flatten_params_nests_with_dots() -> None:
    assert flatten_params({"a": {"b": {"c": 1}}, "d": 2}) == {"a.b.c": 1, "d": 2}


def pickled(filepath: str, data_source: str, dataset: str) -> dict:
    """A catalog entry whose metadata says where its data came from."""
    return {"type": "pickle.PickleDataset", "filepath": filepath, "metadata": {"data_source": data_source, "dataset": dataset}}


def provenance(entry: dict) -> dict[str, str]:
    catalog = DataCatalog.from_config({"demo.raw": entry})
    pipeline = Pipeline([Node(identity, "demo.raw", "demo.out", namespace="demo")])
    return data_provenance("demo", pipeline, catalog)


def test_provenance_comes_from_the_raw_entry_metadata() -> None:
    bundled = {"type": "pandas.CSVDataset", "filepath": "x.csv", "metadata": {"data_source": "bundled", "dataset": "i94"}}
    assert provenance(bundled) == {"data_source": "bundled", "dataset": "i94"}


def test_a_raw_entry_without_provenance_is_the_users_own_file() -> None:
    user = {"type": "pandas.CSVDataset", "filepath": "data/01_raw/mine.csv", "metadata": {"kedro-viz": {"layer": "raw"}}}
    assert provenance(user) == {"data_source": "user", "dataset": "data/01_raw/mine.csv"}


def test_an_unknown_data_source_is_refused() -> None:
    with pytest.raises(ValueError, match=r"metadata\.data_source='internet'"):
        provenance({"type": "pandas.CSVDataset", "filepath": "x.csv", "metadata": {"data_source": "internet"}})


def test_provenance_of_a_generated_input_that_another_pipeline_writes_in_the_same_run() -> None:
    # kedro run: sample_images writes the folder (transcoded @generated) that demo reads (@folder),
    # so the raw entry is no free input of the whole run; demo's own nodes still read it.
    catalog = DataCatalog.from_config(
        {"demo.raw@generated": pickled("g.pkl", "generated", "drawn"), "demo.raw@folder": pickled("g.pkl", "generated", "drawn")}
    )
    whole_run = Pipeline(
        [
            Node(identity, "params:size", "demo.raw@generated", namespace="sample_images"),
            Node(identity, "demo.raw@folder", "demo.out", namespace="demo"),
        ]
    )
    assert "demo.raw@folder" not in whole_run.inputs()
    assert data_provenance("demo", whole_run, catalog) == {"data_source": "generated", "dataset": "drawn"}


def test_weights_parameters_become_run_tags_and_none_is_spelled_out() -> None:
    assert run_tags_from_params({"model.weights": None, "model.units": 16}) == {"weights": "none (random initialization)"}
    assert run_tags_from_params({"base.weights": "imagenet"}) == {"weights": "imagenet"}
    assert run_tags_from_params({"model.units": 16, "weights_decay": 0.1}) == {}


def test_provenance_ignores_raw_inputs_that_no_model_variant_depends_on() -> None:
    catalog = DataCatalog.from_config(
        {"demo.images": pickled("i.pkl", "generated", "drawn"), "demo.added_pictures": pickled("n.pkl", "user", "mine")}
    )
    pipeline = Pipeline(
        [
            Node(identity, "demo.images", "demo.splits", namespace="demo", name="split"),
            Node(identity, "demo.splits", "demo.cnn.model", namespace="demo.cnn", name="train"),
            Node(
                lambda model, pictures: 0, ["demo.cnn.model", "demo.added_pictures"], "demo.predictions", namespace="demo", name="predict"
            ),
        ]
    )
    assert data_provenance("demo", pipeline, catalog) == {"data_source": "generated", "dataset": "drawn"}


def test_each_variant_is_tagged_with_the_data_it_was_trained_on() -> None:
    # fundamentals: a perceptron on bundled iris, a regressor on downloaded California housing
    catalog = DataCatalog.from_config(
        {"demo.flowers": pickled("f.pkl", "bundled", "iris"), "demo.houses": pickled("h.pkl", "download", "california")}
    )
    pipeline = Pipeline(
        [
            Node(identity, "demo.flowers", "demo.perceptron.model", namespace="demo.perceptron", name="fit_flowers"),
            Node(identity, "demo.houses", "demo.mlp.model", namespace="demo.mlp", name="fit_houses"),
        ]
    )
    assert data_provenance("demo", pipeline, catalog, variant="perceptron") == {"data_source": "bundled", "dataset": "iris"}
    assert data_provenance("demo", pipeline, catalog, variant="mlp") == {"data_source": "download", "dataset": "california"}


@pytest.mark.parametrize(
    ("run_params", "name"),
    [
        ({"pipeline_names": ["traffic_lstm"]}, "traffic_lstm"),
        ({"pipeline_names": None}, "all"),
        ({"pipeline_names": ["__default__"]}, "all"),
        ({"pipeline_names": ["image_cnn", "house_prices"]}, "image_cnn+house_prices"),
        ({"pipeline_names": None, "namespaces": ["traffic_lstm.lstm"]}, "all [namespaces traffic_lstm.lstm]"),
        (
            {"pipeline_names": ["traffic_lstm"], "node_names": ["traffic_lstm.make_windows"]},
            "traffic_lstm [nodes traffic_lstm.make_windows]",
        ),
    ],
)
def test_the_parent_run_is_named_after_what_ran(run_params: dict, name: str) -> None:
    assert parent_run_name(run_params) == name


def test_a_process_that_ended_is_not_alive() -> None:
    import os
    import subprocess
    import sys

    from neural_pipelines.hooks import process_alive, process_tags

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert not process_alive(finished.pid)
    assert process_alive(os.getpid())
    assert process_tags()["process.pid"] == str(os.getpid())
