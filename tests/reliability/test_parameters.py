"""Bad parameters stop a run before it starts: the key, the value, what is allowed and the file to edit.

Kedro validates every parameter block a node annotates with a pydantic model (``parameters.py``)
while it builds the catalog: before the run lock, any MLflow run, any node. Before these
types, ``batch_size: 0`` trained silently at Keras' 32 while MLflow recorded 0, and
``history_hours: 0`` aborted the process inside TensorFlow (exit 134) leaving runs RUNNING.
"""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import pytest
from kedro.validation.exceptions import ParameterValidationError
from pydantic import BaseModel, ValidationError

from neural_pipelines.models import CompileSettings, ModelSettings, OptimizerSettings
from neural_pipelines.parameters import ImageSize
from neural_pipelines.pipelines.house_prices.nodes import HouseSplit
from neural_pipelines.pipelines.image_cnn.nodes import ImagePreprocessing
from neural_pipelines.pipelines.traffic_lstm.nodes import TrafficIngest, TrafficPreprocessing
from neural_pipelines.pipelines.variants import configured_variants
from neural_pipelines.training import TrainingSettings
from tests.conftest import TempProject

TRAINING = {"batch_size": 32, "max_epochs": 10, "patience": 3, "min_delta": 0.0}
PREPROCESSING = {
    "max_fill_gap_hours": 12,
    "test_fraction": 0.2,
    "validation_fraction": 0.1,
    "history_hours": 6,
    "horizon_hours": 24,
    "window_layout": "recurrent",
}
INGEST = {"timestamp_column": "datetime", "volume_column": "traffic_volume", "min_hours": 720}
SPLIT = {"test_fraction": 0.2, "validation_fraction": 0.15}
LSTM = {"architecture": "lstm", "units": 16}
MLP = {"architecture": "mlp", "hidden_units": [64, 64], "dropout": 0.2}
ADAM = {"name": "adam", "learning_rate": 0.001}
MSE = {"loss": "mse", "metrics": ["mae", "rmse"]}
IMAGE_SPLIT = {"test_split": "stratified", "test_fraction": 0.2, "validation_fraction": 0.1}

RULES = [
    (TrainingSettings, TRAINING, {"batch_size": 0}, r"batch_size\n  Input should be greater than or equal to 1 .*input_value=0"),
    (TrainingSettings, TRAINING, {"batch_size": -4}, r"batch_size\n  Input should be greater than or equal to 1 .*input_value=-4"),
    (TrainingSettings, TRAINING, {"batch_size": "32"}, r"batch_size\n  Input should be a valid integer .*input_value='32'"),
    (TrainingSettings, TRAINING, {"max_epochs": 2.5}, r"max_epochs\n  Input should be a valid integer .*input_value=2\.5"),
    (TrainingSettings, TRAINING, {"patience": -1}, r"patience\n  Input should be greater than or equal to 0 .*input_value=-1"),
    (TrainingSettings, TRAINING, {"min_delta": -0.1}, r"min_delta\n  Input should be greater than or equal to 0 .*input_value=-0\.1"),
    (TrainingSettings, TRAINING, {"learning_rate": 0.01}, r"learning_rate is not a training setting .*belongs in the optimizer block"),
    (
        TrafficPreprocessing,
        PREPROCESSING,
        {"history_hours": 0},
        r"history_hours\n  Input should be greater than or equal to 1 .*input_value=0",
    ),
    (TrafficPreprocessing, PREPROCESSING, {"horizon_hours": -1}, r"horizon_hours\n  Input should be greater than or equal to 1"),
    (TrafficPreprocessing, PREPROCESSING, {"test_fraction": 1.5}, r"test_fraction\n  Input should be less than 1 .*input_value=1\.5"),
    (TrafficPreprocessing, PREPROCESSING, {"test_fraction": 0}, r"test_fraction\n  Input should be greater than 0 .*input_value=0"),
    (TrafficPreprocessing, PREPROCESSING, {"window_layout": "sideways"}, r"window_layout\n  Input should be 'recurrent' or 'course'"),
    (TrafficPreprocessing, PREPROCESSING, {"max_fill_gap_hours": -2}, r"max_fill_gap_hours\n  Input should be greater than or equal to 0"),
    (TrafficIngest, INGEST, {"timezone": "Mars/Olympus"}, r"unknown time zone 'Mars/Olympus': use an IANA name such as UTC"),
    (TrafficIngest, INGEST, {"duplicate_timestamps": "sum"}, r"duplicate_timestamps\n  Input should be 'error' or 'keep_first'"),
    (TrafficIngest, INGEST, {"min_hours": 0}, r"min_hours\n  Input should be greater than or equal to 1"),
    (TrafficIngest, INGEST, {"volume_colum": "flow"}, r"volume_colum\n  Extra inputs are not permitted"),
    (HouseSplit, SPLIT, {"validation_fraction": 1.0}, r"validation_fraction\n  Input should be less than 1"),
    (HouseSplit, SPLIT, {"exclude_above": {"GrLivArea": "big"}}, r"exclude_above\.GrLivArea\n  Input should be a valid number"),
    (ImagePreprocessing, IMAGE_SPLIT, {"test_split": "random"}, r"test_split\n  Input should be 'stratified' or 'official'"),
    (ImagePreprocessing, IMAGE_SPLIT, {"images_per_class": 0}, r"images_per_class\n  Input should be greater than or equal to 1"),
    (ModelSettings, LSTM, {"architecture": "transformer"}, r"unknown architecture 'transformer': use one of .*lstm"),
    (ModelSettings, LSTM, {"units": 0}, r"for architecture lstm:\nunits\n  Input should be greater than or equal to 1 .*input_value=0"),
    (ModelSettings, LSTM, {"units": "16"}, r"units\n  Input should be a valid integer .*input_value='16'"),
    (ModelSettings, LSTM, {"unit": 16}, r"unit\n  Extra inputs are not permitted"),
    (ModelSettings, MLP, {"dropout": 1.0}, r"dropout\n  Input should be less than 1 .*input_value=1\.0"),
    (ModelSettings, MLP, {"hidden_units": [64, 0]}, r"hidden_units\.1\n  Input should be greater than or equal to 1"),
    (OptimizerSettings, ADAM, {"name": "adamw2"}, r"unknown optimizer 'adamw2': use one of adam, nadam, rmsprop, sgd"),
    (OptimizerSettings, ADAM, {"learning_rate": 0}, r"learning_rate\n  Input should be greater than 0 .*input_value=0"),
    (OptimizerSettings, ADAM, {"momentum": 0.9}, r"momentum is not an argument of keras\.optimizers\.Adam"),
    (CompileSettings, MSE, {"loss": "msqe"}, r"Unknown loss 'msqe'"),
    (CompileSettings, MSE, {"metrics": ["mae", "accuracy2"]}, r"Unknown metric 'accuracy2'"),
    (CompileSettings, MSE, {"optimizer": "sgd"}, r"optimizer is not a compile setting"),
]

IMAGE_SIZES = [
    ([0, 0], r"2 validation errors for ImageSize\n0\n  Input should be greater than or equal to 1 .*input_value=0"),
    ([128], r"1\n  Field required"),
    ([128, 128, 3], r"Tuple should have at most 2 items"),
    ([128.5, 128], r"0\n  Input should be a valid integer .*input_value=128\.5"),
]


@pytest.mark.parametrize(
    ("model", "valid", "change", "message"), RULES, ids=[f"{rule[0].__name__}-{next(iter(rule[2]))}" for rule in RULES]
)
def test_each_rule_names_the_key_the_value_and_what_is_allowed(model: type[BaseModel], valid: dict, change: dict, message: str) -> None:
    model.model_validate(valid)  # the valid block passes: the change alone is refused
    with pytest.raises(ValidationError, match=message):
        model.model_validate({**valid, **change})


@pytest.mark.parametrize(("size", "message"), IMAGE_SIZES, ids=[str(size) for size, _ in IMAGE_SIZES])
def test_an_image_size_must_be_two_whole_numbers_of_pixels(size: list, message: str) -> None:
    assert list(ImageSize.model_validate([150, 100])) == [150, 100]
    with pytest.raises(ValidationError, match=message):
        ImageSize.model_validate(size)


def test_an_optimizer_block_may_set_any_argument_of_its_optimizer() -> None:
    sgd = OptimizerSettings.model_validate({"name": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True})
    assert dict(sgd) == {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True}


def test_every_model_block_the_project_ships_is_valid() -> None:
    """Each configured Keras variant's model, optimizer and compile blocks pass (the schema matches the builders)."""
    checked = 0
    for pipeline in ("traffic_lstm", "house_prices", "image_cnn", "horse_or_human", "vgg16_finetune", "fundamentals"):
        for block in configured_variants(pipeline).values():
            if "architecture" in (block.get("model") or {}):
                ModelSettings.model_validate(block["model"])
                checked += 1
    assert checked >= 12


def test_defaults_are_the_documented_ones() -> None:
    training = TrainingSettings.model_validate({"batch_size": 8, "max_epochs": 3})
    assert (training.patience, training.min_delta, training.steps_per_execution) == (None, 0.0, 1)
    assert TrafficIngest.model_validate(INGEST).timezone is None


def test_a_bad_value_stops_the_run_before_the_lock_mlflow_or_any_node(temp_project: TempProject) -> None:
    with pytest.raises(ParameterValidationError) as error:
        temp_project.run("traffic_lstm", params={"traffic_lstm": {"lstm": {"training": {"batch_size": 0}}}})
    message = str(error.value)
    assert "Parameter 'traffic_lstm.lstm.training'" in message and "batch_size" in message and "input_value=0" in message
    assert (
        "Fix: correct these values in conf/base/parameters_traffic_lstm.yml, or wherever you override them (conf/test/, --params)"
        in message
    )
    # The other variants were valid: only the bad one is named.
    assert "traffic_lstm.dense" not in message
    mlflow.set_tracking_uri(temp_project.tracking_uri)
    assert mlflow.search_runs(search_all_experiments=True).empty  # no MLflow run was opened
    assert not (temp_project.path / "data" / ".kedro_run.lock").exists()
    assert not [path for path in (temp_project.path / "data").rglob("*") if path.is_file()]  # nothing was written


def test_a_window_of_zero_hours_exits_with_the_message_not_a_native_abort(temp_project: TempProject) -> None:
    """The issue's reproduction: ``history_hours=0`` used to abort inside oneDNN (exit 134), runs left RUNNING."""
    temp_project.add_sources()
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": temp_project.tracking_uri,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    command = [
        sys.executable,
        "-m",
        "kedro",
        "run",
        "--pipelines=traffic_lstm",
        "--env=test",
        "--params=traffic_lstm.preprocessing.history_hours=0",
    ]
    result = subprocess.run(command, cwd=temp_project.path, env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Parameter 'traffic_lstm.preprocessing'" in output and "history_hours" in output
    assert "Input should be greater than or equal to 1" in output and "conf/base/parameters_traffic_lstm.yml" in output
    mlflow.set_tracking_uri(temp_project.tracking_uri)
    assert mlflow.search_runs(search_all_experiments=True).empty
