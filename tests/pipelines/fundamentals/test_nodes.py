"""``fundamentals`` nodes on small hand-made inputs and on iris: the values the course's first models must give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from neural_pipelines.datasets import ScikitLearnDataset
from neural_pipelines.models import build_architecture
from neural_pipelines.pipelines.fundamentals import nodes
from neural_pipelines.training import TrainingSettings, steps
from neural_pipelines.validation import DataValidationError

COURSE_POINTS = {"x": [-1.0, 0.0, 1.0, 2.0, 3.0, 4.0], "y": [-3.0, -1.0, 1.0, 3.0, 5.0, 7.0]}
COURSE_SPLIT = nodes.TableSplit(test_fraction=0.25, validation_fraction=0.25)
IRIS = nodes.IrisTable(
    features=["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"], target="target", stratify=False
)
PETALS = nodes.FeatureSelection(columns=["petal length (cm)", "petal width (cm)"], positive_class="setosa")
COURSE_FLOWERS = [[2.0, 0.5], [3.0, 1.0]]
TWO_INPUTS = nodes.FeatureSelection(inputs={"wide": [0, 1, 2, 3, 4], "deep": [2, 3, 4, 5, 6, 7]})


@pytest.fixture(scope="module")
def iris_split() -> pd.DataFrame:
    """scikit-learn's iris, split as the course split it (not stratified)."""
    return nodes.split_iris(nodes.ingest_iris(ScikitLearnDataset(loader="load_iris").load(), IRIS), COURSE_SPLIT, IRIS, seed=42)


def regression_table(n_rows: int = 40) -> tuple[pd.DataFrame, nodes.RegressionTable]:
    """Eight columns whose value is their position plus 100 × the row; the target is row × $100,000."""
    rows = np.arange(n_rows)[:, None]
    table = pd.DataFrame(np.arange(8)[None, :] + 100.0 * rows, columns=[f"f{i}" for i in range(8)]).assign(price=100_000.0 * rows[:, 0])
    return table, nodes.RegressionTable(features=[f"f{i}" for i in range(8)], target="price", target_scale=100_000, min_rows=20)


def test_parameter_blocks_refuse_what_no_node_could_use() -> None:
    with pytest.raises(ValidationError, match="method"):
        nodes.BaselineSettings(method="svm")
    with pytest.raises(ValidationError, match="test_fraction"):
        nodes.TableSplit(test_fraction=0.0, validation_fraction=0.25)  # no test rows
    with pytest.raises(ValidationError, match="inputs"):
        nodes.FeatureSelection(inputs={"wide": [-1, 0]})
    with pytest.raises(ValidationError, match="target_scale"):
        nodes.RegressionTable(features=["f0"], target="price", target_scale=0.0)


# --- the single neuron ---------------------------------------------------------------------------


def test_the_points_are_training_arrays_and_nothing_is_held_out() -> None:
    points = nodes.points_input(COURSE_POINTS)
    assert set(points) == {"x_train", "y_train"}
    np.testing.assert_array_equal(points["x_train"][:, 0], COURSE_POINTS["x"])
    np.testing.assert_array_equal(points["y_train"], 2 * points["x_train"][:, 0] - 1)
    with pytest.raises(DataValidationError, match="one y per x"):
        nodes.points_input({"x": [1.0, 2.0], "y": [1.0]})


def test_the_exact_line_predicts_19_at_10() -> None:
    neuron = build_architecture({"architecture": "single_neuron"}, [1], 1)
    neuron.layers[-1].set_weights([np.array([[2.0]]), np.array([-1.0])])
    evaluation = nodes.evaluate_line(neuron, nodes.points_input(COURSE_POINTS), [[10.0]])
    assert evaluation["metrics"] == {"prediction_at_10": 19.0, "weight": 2.0, "bias": -1.0, "train_mse": 0.0}
    assert evaluation["probes"] == {"x": [10.0], "prediction": [19.0]}


def test_the_neuron_learns_weight_2_and_bias_minus_1_from_the_six_points() -> None:
    # the course's SGD at 0.01 needs 500 one-batch epochs (~30 s here; the base run checks that): one point
    # per batch makes 6 updates an epoch, and 0.03 gets there in 20 epochs
    training = TrainingSettings(batch_size=1, max_epochs=20, steps_per_execution=6)
    points = nodes.points_input(COURSE_POINTS)
    neuron = steps.build_model(
        {"architecture": "single_neuron"}, {"name": "sgd", "learning_rate": 0.03}, {"loss": "mse"}, training, steps.array_shapes(points), 42
    )
    neuron, record = steps.train_model(neuron, points, training, seed=42)
    metrics = nodes.evaluate_line(neuron, points, [[10.0]])["metrics"]
    assert metrics["weight"] == pytest.approx(2.0, abs=0.01)
    assert metrics["bias"] == pytest.approx(-1.0, abs=0.03)
    assert 18.9 <= metrics["prediction_at_10"] <= 19.1
    assert set(record["history"]) == {"loss"}  # six points: no validation


# --- iris ------------------------------------------------------------------------------------------


def test_the_split_is_the_courses_two_train_test_splits_rows_and_order(iris_split: pd.DataFrame) -> None:
    iris = load_iris()
    rest, test = train_test_split(np.arange(150), random_state=42)
    train, validation = train_test_split(rest, random_state=42)
    assert iris_split["split"].value_counts().to_dict() == {"train": 84, "test": 38, "validation": 28}
    for name, positions in {"train": train, "validation": validation, "test": test}.items():
        np.testing.assert_array_equal(nodes.rows(iris_split, name)[IRIS.features].to_numpy(), iris.data[positions])


def test_stratified_splits_keep_each_species_share() -> None:
    stratified = IRIS.model_copy(update={"stratify": True})
    split = nodes.split_iris(nodes.ingest_iris(ScikitLearnDataset(loader="load_iris").load(), stratified), COURSE_SPLIT, stratified, 42)
    counts = split.groupby("split")["target_name"].value_counts().unstack()
    assert sorted(counts.loc["test"]) == [12, 13, 13] and counts.loc["train"].tolist() == [28, 28, 28]  # unstratified: 15 / 11 / 12


def test_the_perceptron_calls_the_courses_two_flowers_setosa_and_not(iris_split: pd.DataFrame) -> None:
    model_input = nodes.classifier_input(iris_split, PETALS, IRIS)
    assert model_input["class_names"] == ["not setosa", "setosa"]
    assert model_input["x_train"].shape == (84, 2) and set(model_input["y_train"]) == {0, 1}
    perceptron, record = nodes.fit_baseline(model_input, nodes.BaselineSettings(method="perceptron"), seed=42)
    assert perceptron.random_state == 42  # the seed, as the course's random_state
    evaluation = nodes.evaluate_classifier(perceptron, model_input, COURSE_FLOWERS)
    assert evaluation["probes"]["labels"] == [1, 0]  # the course: array([True, False])
    assert evaluation["probes"]["classes"] == ["setosa", "not setosa"]
    assert evaluation["metrics"]["prediction_example_1"] == 1.0 and evaluation["metrics"]["prediction_example_2"] == 0.0
    assert evaluation["metrics"]["test_accuracy"] == 1.0  # setosa is linearly separable by its petals
    line = evaluation["decision_line"]
    w1, w2 = line["coefficients"]
    assert np.sign(w1 * 2.0 + w2 * 0.5 + line["intercept"]) > 0 > np.sign(w1 * 3.0 + w2 * 1.0 + line["intercept"])
    assert record["epochs_run"] == perceptron.n_iter_ and record["history"] == {}


def test_the_mlp_classifier_on_the_courses_split_is_right_on_every_test_flower(iris_split: pd.DataFrame) -> None:
    model_input = nodes.classifier_input(iris_split, nodes.FeatureSelection(), IRIS)
    assert model_input["columns"] == IRIS.features and model_input["class_names"] == ["setosa", "versicolor", "virginica"]
    settings = nodes.BaselineSettings(
        method="mlp_classifier", standardize=True, hyperparameters={"hidden_layer_sizes": [10], "max_iter": 10000}
    )
    model, record = nodes.fit_baseline(model_input, settings, seed=42)
    assert isinstance(model, Pipeline) and list(model.named_steps) == ["standardscaler", "mlpclassifier"]
    evaluation = nodes.evaluate_classifier(model, model_input, [])
    assert evaluation["metrics"]["test_accuracy"] == 1.0  # the course: accuracy 1.00 on its 38 test flowers
    assert np.trace(evaluation["confusion_matrix"]) == 38
    assert len(record["history"]["loss"]) == record["epochs_run"]  # scikit-learn's loss per iteration
    assert evaluation["decision_line"] is None


# --- the regression table ----------------------------------------------------------------------------


def test_the_regression_table_keeps_complete_rows_and_the_target_in_100k() -> None:
    raw, regression = regression_table()
    raw.loc[3, "f2"] = np.nan
    table = nodes.ingest_regression_table(raw.assign(extra="text"), regression)
    assert list(table.columns) == [*regression.features, "price"]
    assert len(table) == 39 and table["price"].iloc[:3].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(DataValidationError, match=r"column 'f5': text in a numeric column on rows 7 \(values '12 sq ft'\)"):
        nodes.ingest_regression_table(raw.astype({"f5": object}).assign(f5=lambda t: t["f5"].where(t.index != 7, "12 sq ft")), regression)
    with pytest.raises(DataValidationError, match=r"column 'Latitude': missing"):
        nodes.ingest_regression_table(raw, regression.model_copy(update={"features": ["Latitude"]}))


def test_wide_and_deep_with_two_inputs_gets_features_0_to_4_and_2_to_7() -> None:
    table, regression = regression_table()
    split = nodes.split_regression(nodes.ingest_regression_table(table, regression), COURSE_SPLIT, seed=42)
    model_input = nodes.regression_input(split, TWO_INPUTS, regression)
    first = model_input["x_train"]
    row = first["wide"][0, 0] // 100  # the row this training example came from
    np.testing.assert_array_equal(first["wide"][0], 100 * row + np.arange(5))
    np.testing.assert_array_equal(first["deep"][0], 100 * row + np.arange(2, 8))
    assert steps.array_shapes(model_input)["input_shape"] == {"wide": [5], "deep": [6]}
    one_input = nodes.regression_input(split, nodes.FeatureSelection(), regression)
    assert one_input["x_test"].shape == (10, 8)
    with pytest.raises(ValueError, match=r"features\.inputs\.deep = \[2, 8\]: each input needs positions 0–7"):
        nodes.regression_input(split, nodes.FeatureSelection(inputs={"deep": [2, 8]}), regression)


def test_normalization_is_adapted_on_the_training_rows_only() -> None:
    rng = np.random.default_rng(0)
    x_train, far_away = rng.normal(5.0, 2.0, (60, 8)), rng.normal(-300.0, 50.0, (40, 8))
    model_input = {"x_train": x_train, "x_validation": far_away, "x_test": far_away}
    network = nodes.adapt_normalization(build_architecture({"architecture": "normalized_mlp"}, [8], 1), model_input)
    normalization = network.get_layer("normalization")
    np.testing.assert_allclose(np.ravel(normalization.mean), x_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.ravel(normalization.variance), x_train.var(axis=0), rtol=1e-4)

    two = {name: {"wide": x[:, :5], "deep": x[:, 2:]} for name, x in (("x_train", x_train), ("x_validation", far_away))}
    network = nodes.adapt_normalization(build_architecture({"architecture": "wide_deep_two_inputs"}, {"wide": [5], "deep": [6]}, 1), two)
    np.testing.assert_allclose(np.ravel(network.get_layer("wide_normalization").mean), x_train[:, :5].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.ravel(network.get_layer("deep_normalization").mean), x_train[:, 2:].mean(axis=0), rtol=1e-5)


def test_regressors_are_scored_in_the_targets_unit_on_test_and_validation_rows() -> None:
    class Constant:
        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.full(len(x), 2.0)

    model_input = {
        "x_test": np.zeros((3, 1)),
        "y_test": np.array([1.0, 2.0, 3.0]),
        "x_validation": np.zeros((2, 1)),
        "y_validation": np.array([2.0, 4.0]),
    }
    metrics = nodes.evaluate_regressor(Constant(), model_input)["metrics"]
    assert metrics["test_rmse"] == pytest.approx(np.sqrt(2 / 3)) and metrics["test_mae"] == pytest.approx(2 / 3)
    assert metrics["test_r2"] == pytest.approx(0.0) and metrics["validation_rmse"] == pytest.approx(np.sqrt(2))


def test_the_mlp_regressor_standardizes_on_training_rows_and_logs_its_loss_per_iteration() -> None:
    table, regression = regression_table(80)
    split = nodes.split_regression(nodes.ingest_regression_table(table, regression), COURSE_SPLIT, seed=42)
    model_input = nodes.regression_input(split, nodes.FeatureSelection(), regression)
    settings = nodes.BaselineSettings(method="mlp_regressor", standardize=True, hyperparameters={"hidden_layer_sizes": [8], "max_iter": 30})
    model, record = nodes.fit_baseline(model_input, settings, seed=42)
    np.testing.assert_allclose(model.named_steps["standardscaler"].mean_, model_input["x_train"].mean(axis=0))
    assert model.named_steps["mlpregressor"].random_state == 42
    assert len(record["history"]["loss"]) == record["epochs_run"] == 30


# --- report ----------------------------------------------------------------------------------------


def test_the_course_table_puts_each_course_number_beside_the_measured_one() -> None:
    summaries = {"keras_mlp": {"test_rmse": 0.28, "n_params": 5618}, "linear_neuron": {"prediction_at_10": 18.99}}
    report = {
        "course": {"linear_neuron": {"prediction_at_10": 18.978535}, "keras_mlp": {"test_rmse": 0.5235, "n_params": 5618}, "gone": {"x": 1}}
    }
    course = nodes.course_comparison(summaries, report)
    assert course.iloc[:3].to_dict("records") == [
        {"model": "linear_neuron", "metric": "prediction_at_10", "course": 18.978535, "measured": 18.99},
        {"model": "keras_mlp", "metric": "test_rmse", "course": 0.5235, "measured": 0.28},
        {"model": "keras_mlp", "metric": "n_params", "course": 5618.0, "measured": 5618},
    ]
    assert course.iloc[3][["model", "metric", "course"]].tolist() == ["gone", "x", 1.0] and pd.isna(course.iloc[3]["measured"])
    shown = nodes._display_course(course)
    assert shown["measured"].tolist() == ["18.9900", "0.2800", "5,618", ""]  # a variant that did not run: blank, not dropped


def test_models_are_listed_neuron_classifiers_regressors_best_first() -> None:
    summaries = {
        "linear": {"task": "regression", "test_rmse": 0.4},
        "keras_mlp": {"task": "regression", "test_rmse": 0.3},
        "mlp_classifier": {"task": "classification", "test_accuracy": 0.9},
        "perceptron": {"task": "classification", "test_accuracy": 1.0},
        "linear_neuron": {"task": "line"},
    }
    assert nodes.compare_models(summaries)["model"].tolist() == ["linear_neuron", "perceptron", "mlp_classifier", "keras_mlp", "linear"]
