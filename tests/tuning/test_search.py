"""The tuning block's validation, the values a trial draws, and how they replace the tuned parameters."""

from __future__ import annotations

import optuna
import pytest
from pydantic import ValidationError

from neural_pipelines.tuning import TuningSettings, merge_suggestions, nest, suggest

BASE = {
    "model": {"architecture": "lstm", "units": 16},
    "optimizer": {"name": "adam", "learning_rate": 0.001},
    "training": {"batch_size": 32},
}


def settings(**changes) -> TuningSettings:
    values = {
        "study_name": "s",
        "n_trials": 3,
        "storage": "data/optuna.db",
        "search_space": {"model.units": {"type": "int", "low": 8, "high": 64, "log": True}},
    }
    return TuningSettings.model_validate({**values, **changes})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "categorical"}, "needs a non-empty list of choices"),
        ({"type": "categorical", "choices": [1, 2], "low": 1}, "takes choices only"),
        ({"type": "int", "low": 1.5, "high": 4}, "whole-number low, high and step"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "needs low > 0 and no step"),
        ({"type": "float", "low": 2.0, "high": 1.0}, r"low \(2.0\) is above high \(1.0\)"),
        ({"type": "float", "low": 1.0}, "needs low and high"),
        ({"type": "float", "low": "1e-4", "high": 1.0}, "low"),  # YAML reads 1e-4 as text
        ({"type": "uniform", "low": 0.0, "high": 1.0}, "'int', 'float' or 'categorical'"),
    ],
)
def test_a_bad_distribution_is_refused_naming_its_path_and_the_problem(spec: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as error:
        settings(search_space={"optimizer.learning_rate": spec})
    assert "search_space.`optimizer.learning_rate`" in str(error.value)


def test_a_stray_key_a_path_both_fixed_and_searched_and_an_empty_space_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"trials is not a tuning setting .* a searched parameter belongs under search_space"):
        settings(trials=5)
    with pytest.raises(ValidationError, match=r"model\.units is both searched"):
        settings(fixed={"model.units": 8})
    with pytest.raises(ValidationError, match="search_space"):
        settings(search_space={})
    with pytest.raises(ValidationError, match="not a dotted parameter path"):
        settings(search_space={"model..units": {"type": "int", "low": 1, "high": 2}})


def test_storage_url_is_an_absolute_sqlite_file_whose_folder_exists(tmp_path) -> None:
    url = settings(storage="data/07_model_output/study.db").storage_url()
    assert url == f"sqlite:///{tmp_path / 'data/07_model_output/study.db'}"
    assert (tmp_path / "data/07_model_output").is_dir()
    assert settings(storage="postgresql+psycopg2://db/optuna").storage_url() == "postgresql+psycopg2://db/optuna"


def test_suggest_draws_each_path_from_its_distribution() -> None:
    space = settings(
        search_space={
            "model.units": {"type": "int", "low": 8, "high": 64, "step": 8},
            "optimizer.learning_rate": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True},
            "training.batch_size": {"type": "categorical", "choices": [32, 64]},
        }
    ).search_space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        values = suggest(study.ask(), space)
        assert values["model.units"] in range(8, 65, 8)
        assert 1e-4 <= values["optimizer.learning_rate"] <= 1e-2
        assert values["training.batch_size"] in (32, 64)
    assert set(study.trials[0].params) == set(space)


def test_merge_replaces_the_values_at_their_paths_and_leaves_the_base_alone() -> None:
    merged = merge_suggestions(BASE, {"model.units": 48, "optimizer.learning_rate": 0.01})
    assert merged == {
        "model": {"architecture": "lstm", "units": 48},
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "training": {"batch_size": 32},
    }
    assert BASE["model"]["units"] == 16 and BASE["optimizer"]["learning_rate"] == 0.001


def test_merge_refuses_a_path_the_base_does_not_have_naming_what_is_there() -> None:
    with pytest.raises(ValueError, match=r"'model.unit'.*no 'unit' at model \(there: architecture, units\)"):
        merge_suggestions(BASE, {"model.unit": 8})
    with pytest.raises(ValueError, match=r"no 'dropout' at the top level"):
        merge_suggestions(BASE, {"dropout.rate": 0.1})
    with pytest.raises(ValueError, match="names a whole block"):
        merge_suggestions(BASE, {"training": 8})
    with pytest.raises(ValueError, match="a value, not a block"):
        merge_suggestions(BASE, {"model.units.low": 8})


def test_nest_puts_flat_values_under_a_dotted_prefix() -> None:
    assert nest({"model.units": 32, "optimizer.learning_rate": 0.01}, "traffic_lstm.lstm") == {
        "traffic_lstm": {"lstm": {"model": {"units": 32}, "optimizer": {"learning_rate": 0.01}}}
    }
