"""The project's config loader: every model variant reads complete settings, its own merged over the pipeline's."""

from __future__ import annotations

import pytest

from neural_pipelines.config import ProjectConfigLoader, is_variant, with_variant_settings
from tests.conftest import PROJECT_ROOT


def load(env: str = "local", runtime_params: dict | None = None) -> dict:
    loader = ProjectConfigLoader(
        str(PROJECT_ROOT / "conf"),
        env=env,
        base_env="base",
        default_run_env="local",
        runtime_params=runtime_params,
        merge_strategy={"parameters": "soft"},
    )
    return loader["parameters"]


def test_a_variant_gets_the_pipeline_blocks_it_does_not_set_and_keeps_what_it_sets() -> None:
    parameters = {
        "demo": {
            "training": {"batch_size": 32, "max_epochs": 10},
            "compile": {"loss": "mse", "metrics": ["mae"]},
            "a": {"model": {"units": 1}},
            "b": {"model": {"units": 2}, "training": {"max_epochs": 3}, "compile": {"metrics": []}},
            "not_a_variant": {"model": None},
        }
    }
    demo = with_variant_settings(parameters)["demo"]
    assert demo["a"]["training"] == {"batch_size": 32, "max_epochs": 10}
    assert demo["b"]["training"] == {"batch_size": 32, "max_epochs": 3}  # merged over, not replaced
    assert demo["b"]["compile"] == {"loss": "mse", "metrics": []}  # a list replaces a list
    assert demo["training"] == {"batch_size": 32, "max_epochs": 10}  # the pipeline's own block is untouched
    assert "training" not in demo["not_a_variant"]
    demo["a"]["training"]["batch_size"] = 1
    assert demo["training"]["batch_size"] == 32  # copies, not shared dicts


def test_params_on_the_command_line_change_one_setting_of_one_variant() -> None:
    traffic = load(runtime_params={"traffic_lstm": {"lstm": {"training": {"max_epochs": 3}, "optimizer": {"learning_rate": 0.01}}}})[
        "traffic_lstm"
    ]
    assert traffic["lstm"]["training"] == {**traffic["training"], "max_epochs": 3}
    assert traffic["lstm"]["optimizer"] == {"name": "adam", "learning_rate": 0.01}
    assert traffic["dense"]["training"] == traffic["training"] and traffic["dense"]["optimizer"]["learning_rate"] == 0.001


@pytest.mark.parametrize("env", ["local", "test", "full"])
def test_every_keras_variant_has_complete_settings_in_every_environment(env: str) -> None:
    parameters = load(env)
    for pipeline in ("traffic_lstm", "image_cnn", "house_prices", "horse_or_human", "vgg16_finetune", "fundamentals"):
        for name, block in parameters[pipeline].items():
            if is_variant(block) and "model" in block:
                assert block["optimizer"]["name"] and block["compile"]["loss"], f"{env}: {pipeline}.{name}"
                assert {"batch_size", "max_epochs"} <= set(block["training"]), f"{env}: {pipeline}.{name}"
    # the course's recipe keeps its own features: numeric only, no column made categorical
    assert parameters["house_prices"]["mlp_course"]["features"]["as_categorical"] == []
    assert parameters["house_prices"]["mlp"]["features"] == parameters["house_prices"]["features"]
