"""CIFAR-10 in ``image_cnn`` (``--env=full --params=image_cnn.dataset=cifar10``): 32×32 colour images through the same nodes.

The pipeline test reads a tiny ``cifar-10-python.tar.gz`` in CIFAR's own format, placed in
the folder the full environment names, with the origin unreachable: the placed file is enough.
It runs the data nodes only (training every variant in the full env takes a minute even on
tiny data); a CNN built from the splits' shape classifies the colour batches in a node test.
"""

from __future__ import annotations

import hashlib
import inspect

import keras
import mlflow
import numpy as np
import pytest
import yaml
from kedro.framework.session import KedroSession
from matplotlib.figure import Figure

from neural_pipelines.config import ProjectConfigLoader
from neural_pipelines.pipelines.image_cnn import nodes
from neural_pipelines.training import TrainingSettings, steps
from tests.conftest import PROJECT_ROOT, TempProject
from tests.datasets.cifar_files import tiny_cifar, write_cifar_archive

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BASE_PARAMETERS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_image_cnn.yml").read_text())["image_cnn"]
FULL_CATALOG = yaml.safe_load((PROJECT_ROOT / "conf/full/catalog_image_cnn.yml").read_text())
KERAS_ORIGIN = "https://www.cs.toronto.edu/~kriz/"
DATA_NODES = ["image_cnn.ingest_images", "image_cnn.split_images"]


def rgb_splits(labels: list[int]) -> dict[str, np.ndarray]:
    """Splits whose training image i is filled with the colour (i, 2i, 3i)."""
    images = np.stack([np.full((32, 32, 3), [i, 2 * i, 3 * i], np.uint8) for i in range(len(labels))])
    return {"x_train": images, "y_train": np.array(labels, np.uint8)}


def test_the_catalog_pins_the_archive_keras_fetches_with_keras_own_checksum() -> None:
    entry = FULL_CATALOG["_image_cnn_keras_datasets"]["cifar10"]
    keras_source = inspect.getsource(keras.src.datasets.cifar10)
    assert f'"{KERAS_ORIGIN}cifar-10-python.tar.gz"' in keras_source
    assert entry["origin"] == KERAS_ORIGIN and list(entry["files"]) == ["cifar-10-python.tar.gz"]
    assert f'"{entry["file_hashes"]["cifar-10-python.tar.gz"]}"' in keras_source


def test_the_dataset_parameter_switches_class_names_image_shape_and_data_note() -> None:
    loader = ProjectConfigLoader(
        str(PROJECT_ROOT / "conf"),
        env="full",
        base_env="base",
        default_run_env="local",
        runtime_params={"image_cnn": {"dataset": "cifar10"}},
        merge_strategy={"parameters": "soft"},
    )
    params = loader["parameters"]["image_cnn"]
    assert params["classes"] == CIFAR_CLASSES and params["image_shape"] == [32, 32, 3]
    assert "50,000 training" in params["reporting"]["data_note"]


def test_rgb_arrays_are_ingested_channel_last_and_a_wrong_channel_count_is_named() -> None:
    arrays = tiny_cifar(n_train=20, n_test=10)
    ingested = nodes.ingest_images(arrays, CIFAR_CLASSES, [32, 32, 3], {"max_pixel_value": 255, "min_images_per_class": 2})
    assert ingested["images"].shape == (30, 32, 32, 3) and ingested["images"].dtype == np.uint8
    np.testing.assert_array_equal(ingested["images"][20:], arrays["x_test"])
    with pytest.raises(Exception, match=r"images of shape \(32, 32, 3\), expected \(32, 32\)"):
        nodes.ingest_images(arrays, CIFAR_CLASSES, [32, 32, 1], {"max_pixel_value": 255, "min_images_per_class": 2})


def test_shapes_from_grayscale_splits_stop_a_colour_variant() -> None:
    splits = {"x_train": np.zeros((4, 32, 32), np.uint8)}
    with pytest.raises(ValueError, match=r"splits hold images with 1 channel\(s\), but image_cnn\.image_shape says 3"):
        nodes.model_shapes(splits, [32, 32, 3], CIFAR_CLASSES)
    assert nodes.model_shapes({"x_train": np.zeros((4, 32, 32, 3), np.uint8)}, [32, 32, 3], CIFAR_CLASSES)["input_shape"] == [32, 32, 3]


def test_the_channels_figure_shows_the_first_training_image_of_each_of_the_first_classes() -> None:
    figure = nodes.plot_rgb_channels(rgb_splits([2, 0, 2, 1, 0]), CIFAR_CLASSES, {"rgb_channel_images": 2})
    assert isinstance(figure, Figure)
    rows = np.array(figure.axes).reshape(2, 4)
    assert [row[0].get_ylabel() for row in rows] == ["airplane", "automobile"]  # classes 0 and 1: images 1 and 3
    assert [int(axis.images[0].get_array()[0, 0]) for axis in rows[1, 1:]] == [3, 6, 9]  # image 3's R, G, B


def test_rgb_splits_become_float_batches_a_cnn_built_from_their_shape_classifies() -> None:
    arrays = tiny_cifar(n_train=20, n_test=10)
    splits = {
        "x_train": arrays["x_train"],
        "y_train": arrays["y_train"],
        "x_validation": arrays["x_test"],
        "y_validation": arrays["y_test"],
    }
    batches = nodes.make_batches(splits, TrainingSettings(batch_size=8, max_epochs=1), seed=0)
    x, _ = next(iter(batches["validation"]))
    assert x.dtype == "float32" and x.shape == (8, 32, 32, 3)
    np.testing.assert_allclose(x[0, 0, 0], arrays["x_test"][0, 0, 0] / 255.0, rtol=1e-6)  # R, G, B kept in order
    settings = BASE_PARAMETERS["cnn"]
    shapes = nodes.model_shapes(splits, [32, 32, 3], CIFAR_CLASSES)
    model = steps.build_model(
        settings["model"], settings["optimizer"], BASE_PARAMETERS["compile"], TrainingSettings(**settings["training"]), shapes, 0
    )
    assert model.input_shape == (None, 32, 32, 3)
    assert model.predict(x, verbose=0).shape == (8, 10)


@pytest.mark.pipeline
def test_full_env_cifar10_reads_the_placed_archive_into_colour_splits(temp_project: TempProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(temp_project.path)  # relative data paths, as in `kedro run` from the project root
    monkeypatch.setenv("MLFLOW_TRACKING_URI", temp_project.tracking_uri)
    arrays = tiny_cifar(n_train=100, n_test=20)
    arrays["x_train"][0] = [255, 0, 0]  # the first training image (an airplane) is pure red
    archive = write_cifar_archive(temp_project.path / "data/01_raw/image_cnn/cifar-10/cifar-10-python.tar.gz", arrays)
    # An unreachable origin (the placed file must be enough) and the synthetic file's checksum in place of the real one.
    catalog = temp_project.path / "conf/full/catalog_image_cnn.yml"
    pinned = FULL_CATALOG["_image_cnn_keras_datasets"]["cifar10"]["file_hashes"]["cifar-10-python.tar.gz"]
    text = catalog.read_text().replace(KERAS_ORIGIN, "http://127.0.0.1:9/")
    catalog.write_text(text.replace(pinned, hashlib.sha256(archive.read_bytes()).hexdigest()))
    with KedroSession.create(project_path=temp_project.path, env="full", runtime_params={"image_cnn": {"dataset": "cifar10"}}) as session:
        session.run(pipeline_names=["image_cnn"], node_names=DATA_NODES)
    splits = np.load(temp_project.path / "data/05_model_input/image_cnn/splits.npz")
    assert splits["x_train"].shape[1:] == (32, 32, 3) and splits["x_train"].dtype == np.uint8
    np.testing.assert_array_equal(np.sort(splits["index_test"]), np.arange(100, 120))  # the official test batch
    assert (splits["x_train"][splits["index_train"] == 0] == [255, 0, 0]).all()  # channel order survives ingest and split
    mlflow.set_tracking_uri(temp_project.tracking_uri)
    (status,) = mlflow.search_runs(search_all_experiments=True)["status"]  # the kedro run's own run: no variant ran
    assert status == "FINISHED"
