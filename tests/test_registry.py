"""The model registry's champion / challenger rule, against a throw-away SQLite registry."""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from neural_pipelines import registry
from neural_pipelines.registry import RegistryError, RegistrySettings

LOWER = RegistrySettings(metric="test_mae", greater_is_better=False)
HIGHER = RegistrySettings(metric="test_accuracy", greater_is_better=True)
MODEL = "house_prices"  # each test's own registered model (the fixture sets it)


class Doubler(mlflow.pyfunc.PythonModel):
    """The smallest self-contained model: a column ``x`` in, ``2x`` out."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.Series:
        return model_input["x"] * 2


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for the module (creating one costs seconds); each test registers its own model name."""
    return f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}"


@pytest.fixture
def client(store: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    mlflow.set_tracking_uri(store)  # the registry follows the tracking store (no registry URI set: one would outlive the test)
    # not an experiment id an earlier test left active in another store; and none left active for later tests
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "")  # set_experiment writes it; monkeypatch removes it afterwards
    mlflow.set_experiment("registry_tests")
    monkeypatch.setattr(f"{__name__}.MODEL", request.node.name.removeprefix("test_")[:60])
    yield MlflowClient()
    while mlflow.active_run():
        mlflow.end_run()


def logged_model() -> tuple[str, str]:
    """A model logged in a new run: (model URI, run id)."""
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="registered_model", python_model=Doubler(), pip_requirements=["mlflow"])
    return info.model_uri, run.info.run_id


def register(client: MlflowClient, value: float, dataset: str = "ames", settings: RegistrySettings = LOWER) -> dict[str, Any]:
    uri, run_id = logged_model()
    tags = {"variant": "mlp", "metric": settings.metric, "metric_value": repr(value), "dataset": dataset, "data_source": "bundled"}
    return registry.register_version(client, MODEL, uri, run_id, tags, settings)


def aliases(client: MlflowClient) -> dict[str, int]:
    return {alias: int(version) for alias, version in client.get_registered_model(MODEL).aliases.items()}


def test_equal_is_not_better_and_direction_follows_the_metric() -> None:
    assert registry.is_better(10.0, 12.0, greater_is_better=False)
    assert not registry.is_better(12.0, 12.0, greater_is_better=False)
    assert not registry.is_better(0.9, 0.9, greater_is_better=True)
    assert registry.is_better(0.91, 0.9, greater_is_better=True)
    assert registry.is_better(5.0, None, greater_is_better=False)
    assert not registry.is_better(float("nan"), None, greater_is_better=False)


def test_the_first_version_is_champion_an_identical_second_is_challenger_a_better_third_takes_over(client: MlflowClient) -> None:
    first = register(client, 15000.0)
    assert (first["alias"], first["version"], first["champion_value"]) == ("champion", 1, None)

    second = register(client, 15000.0)  # a second identical run: same metric on the same test set
    assert (second["alias"], second["version"], second["champion_version"], second["champion_value"]) == ("challenger", 2, 1, 15000.0)
    assert "equal is not better" in second["reason"]
    assert aliases(client) == {"champion": 1, "challenger": 2}

    third = register(client, 14000.0)
    assert (third["alias"], third["champion_value"], third["value"]) == ("champion", 15000.0, 14000.0)
    assert aliases(client) == {"champion": 3, "challenger": 2}
    first_version = client.get_model_version(MODEL, "1")  # earlier versions are never changed
    assert (first_version.tags["metric_value"], first_version.tags["dataset"]) == ("15000.0", "ames")


def test_a_champion_scored_on_other_data_is_not_compared(client: MlflowClient) -> None:
    register(client, 15000.0, dataset="ames")
    other = register(client, 1.0, dataset="kaggle_train_csv")  # far lower, but another test set
    assert other["alias"] == "challenger" and "not comparable" in other["reason"]
    assert aliases(client)["champion"] == 1


def test_higher_is_better_for_accuracy(client: MlflowClient) -> None:
    register(client, 0.90, settings=HIGHER)
    assert register(client, 0.89, settings=HIGHER)["alias"] == "challenger"
    assert register(client, 0.95, settings=HIGHER)["alias"] == "champion"
    assert aliases(client) == {"champion": 3, "challenger": 2}


def test_a_failed_registration_names_the_model_and_changes_no_earlier_version(client: MlflowClient) -> None:
    register(client, 15000.0)
    tags = {"variant": "mlp", "metric": "test_mae", "metric_value": "1.0", "dataset": "ames"}
    with pytest.raises(RegistryError, match=r"as model .*unchanged"):
        registry.register_version(client, MODEL, "models:/m-does-not-exist", "0" * 32, tags, LOWER)
    assert aliases(client) == {"champion": 1}
    assert [int(version.version) for version in client.search_model_versions(f"name = '{MODEL}'")] == [1]


def test_the_best_model_is_chosen_and_a_better_naive_baseline_is_named() -> None:
    summaries = {"lstm": {"test_mae": 536.0}, "dense": {"test_mae": 603.0}, "seasonal_naive_168h": {"test_mae": 262.0}}
    choice = registry.best_variant(summaries, LOWER, eligible={"lstm", "dense"})
    assert (choice["variant"], choice["value"]) == ("lstm", 536.0)
    assert choice["beaten_by_reference"] == {"variant": "seasonal_naive_168h", "value": 262.0}
    accuracy = registry.best_variant(
        {"cnn": {"test_accuracy": 0.8}, "cnn_augmented": {"test_accuracy": 0.9}}, HIGHER, {"cnn", "cnn_augmented"}
    )
    assert accuracy["variant"] == "cnn_augmented" and accuracy["beaten_by_reference"] is None


def test_register_champion_logs_the_model_in_the_variant_run_and_the_decision_reaches_the_report(client: MlflowClient) -> None:
    choice = {"variant": "mlp", "metric": "test_mae", "value": 15000.0, "beaten_by_reference": None}
    candidate = {"choice": choice, "python_model": Doubler(), "input_example": pd.DataFrame({"x": [1.0, 2.0]})}
    with mlflow.start_run() as parent:
        with mlflow.start_run(nested=True, tags={"pipeline": "house_prices", "model": "mlp", "dataset": "ames"}) as variant:
            pass
        decision = registry.register_champion(candidate, {"mlp": {"test_mae": 15000.0}}, LOWER, "house_prices")
    # the model name is the pipeline's: this is the only test that registers "house_prices"
    assert (decision["alias"], decision["run_id"], decision["variant"]) == ("champion", variant.info.run_id, "mlp")
    assert client.get_run(parent.info.run_id).data.tags["registry.alias"] == "champion"
    loaded = mlflow.pyfunc.load_model("models:/house_prices@champion")
    assert loaded.predict(pd.DataFrame({"x": [1.5]})).tolist() == [3.0]
    assert client.get_model_version("house_prices", "1").tags["variant"] == "mlp"

    html = registry.add_registry_section("<html><body><h1>report</h1></body></html>", decision)
    assert html.index("Model registry") < html.index("</body>")
    assert "version 1 with the alias <code>champion</code>" in html


def test_loading_a_model_that_does_not_exist_says_where_it_looked(client: MlflowClient) -> None:
    with pytest.raises(RegistryError, match=r"No model at models:/traffic_lstm@champion .*kedro run --pipelines"):
        registry.load_registered_model("models:/traffic_lstm@champion")
