"""Nodes of ``fundamentals``: the course's first models, each on the data the course used it on.

Data flow, three tables:

- **points**: the course's six points on y = 2x − 1 → arrays → one Dense unit (SGD) → its
  weight, bias and the predictions at the course's example x values;
- **iris** (bundled with scikit-learn): validate → one seeded (stratified) train / validation
  / test split → per classifier: its columns and target (one class vs the rest, or all
  three) → fit a scikit-learn ``Perceptron`` or ``MLPClassifier`` → accuracy, confusion matrix,
  predictions for the course's example flowers;
- **regression table** (California housing in the full environment, Ames in the base one):
  validate, target in $100,000 → one seeded split → per regressor: one input array, or
  named inputs (Wide & Deep with two inputs) → Keras: build → adapt the ``Normalization``
  layers on the training rows → train; or fit a scikit-learn baseline → RMSE, MAE, R².

The splits are scikit-learn's ``train_test_split`` twice with the seed, as in the course: on
California they are the course's own rows, in the course's order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import Field, NonNegativeInt, PositiveFloat
from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression, Perceptron
from sklearn.metrics import accuracy_score, confusion_matrix, mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from neural_pipelines.datasets.scikit_learn import TARGET_NAME_COLUMN
from neural_pipelines.parameters import Count, Fraction, Parameters
from neural_pipelines.reporting import comparison_table, learning_curves, render_template
from neural_pipelines.reporting.report import thousands
from neural_pipelines.training.estimators import fit_estimator
from neural_pipelines.validation import DataValidationError, examples, source_of

logger = logging.getLogger(__name__)

PARAMS_FILE = "conf/base/parameters_fundamentals.yml"
SPLIT_COLUMN = "split"
SPLITS = ("train", "validation", "test")

# --- parameter blocks ----------------------------------------------------------------


class TableSplit(Parameters):
    """``fundamentals.split``: the course's two ``train_test_split`` calls, shared by iris and the regression table."""

    test_fraction: Fraction  # held-out test rows
    validation_fraction: Fraction  # of the rest: validation rows (early stopping, the course's validation scores)


class IrisTable(Parameters):
    """``fundamentals.iris``: the columns of scikit-learn's iris table."""

    features: Annotated[list[str], Field(min_length=1)]  # the measurement columns
    target: str = "target"  # the integer class column (its class names are in target_name)
    stratify: bool = True  # keep the three species in the same proportions in every split


class RegressionTable(Parameters):
    """``fundamentals.regression``: which columns of the raw table the regressors read, and the target's unit."""

    features: Annotated[list[str], Field(min_length=1)]  # in this order: positions in features.inputs count in it
    target: str
    target_scale: PositiveFloat = 1.0  # the target is divided by it (Ames dollars / 100,000 = California's unit)
    min_rows: Count = 20  # fewer complete rows cannot fill train, validation and test


class FeatureSelection(Parameters):
    """A variant's ``features`` block: what its model reads of its table."""

    columns: list[str] | None = None  # classifiers: the columns read (null: every feature of the table)
    positive_class: str | None = None  # classifiers: this class against the rest (null: every class)
    inputs: dict[str, list[NonNegativeInt]] | None = None  # regressors: named inputs, each a list of positions in the table's features


class BaselineSettings(Parameters):
    """A scikit-learn variant's ``baseline`` block."""

    method: Literal["perceptron", "mlp_classifier", "mlp_regressor", "linear_regression"]
    standardize: bool = False  # a StandardScaler fitted on the training rows first (the course's make_pipeline)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)  # passed to the estimator; random_state defaults to the seed
    threads: Count | None = 1  # OpenMP / BLAS threads of the fit (null: the library's default)


ESTIMATORS: dict[str, type[BaseEstimator]] = {
    "perceptron": Perceptron,
    "mlp_classifier": MLPClassifier,
    "mlp_regressor": MLPRegressor,
    "linear_regression": LinearRegression,
}


# --- the six points --------------------------------------------------------------------


def points_input(points: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    """The course's points as training arrays ``x_train`` (n, 1) and ``y_train`` (n,); nothing is held out.

    Six points are all the data there is, so the single neuron trains on all of them and is
    judged by what it predicts elsewhere (x = 10), as in the course.
    """
    x, y = np.asarray(points["x"], dtype="float64"), np.asarray(points["y"], dtype="float64")
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2 or not np.isfinite([*x, *y]).all():
        raise DataValidationError(
            "fundamentals.points",
            "x, y",
            f"{len(x)} x and {len(y)} y values; a line needs at least two points, one y per x, finite numbers",
            "give x and y as lists of the same length in conf/base/catalog_fundamentals.yml",
        )
    return {"x_train": x.reshape(-1, 1), "y_train": y}


def evaluate_line(model: keras.Model, points: dict[str, np.ndarray], probes: Sequence[Sequence[float]]) -> dict[str, Any]:
    """The learned line: ``weight``, ``bias``, the mean squared error on the points and ``prediction_at_<x>`` per probe x."""
    kernel, bias = (np.asarray(weights).ravel() for weights in model.layers[-1].get_weights())
    fitted = predict(model, points["x_train"])
    at = np.asarray(probes, dtype="float64").reshape(-1, 1)
    predictions = predict(model, at) if len(at) else np.array([])
    metrics = {f"prediction_at_{x:g}": float(value) for x, value in zip(at[:, 0], predictions, strict=True)}
    metrics |= {"weight": float(kernel[0]), "bias": float(bias[0]), "train_mse": float(np.mean((fitted - points["y_train"]) ** 2))}
    logger.info("Learned y = %.4f x %+.4f; %s", metrics["weight"], metrics["bias"], metrics)
    return {
        "task": "line",
        "metrics": metrics,
        "points": {"x": points["x_train"][:, 0].tolist(), "y": points["y_train"].tolist()},
        "probes": {"x": at[:, 0].tolist(), "prediction": predictions.tolist()},
    }


# --- tables and the shared split ---------------------------------------------------------


def _missing_columns(table: pd.DataFrame, columns: Sequence[str], setting: str) -> None:
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise DataValidationError(
            source_of(table),
            missing[0],
            f"missing (the table has {examples(table.columns, limit=10, noun='columns')})",
            f"name the table's own columns in {setting} ({PARAMS_FILE}, overridable in conf/local)",
        )


def ingest_iris(raw: pd.DataFrame, iris: IrisTable) -> pd.DataFrame:
    """Check scikit-learn's iris table (measurement columns, integer classes and their names) and keep those columns."""
    _missing_columns(raw, [*iris.features, iris.target, TARGET_NAME_COLUMN], "fundamentals.iris")
    table = raw[[*iris.features, iris.target, TARGET_NAME_COLUMN]].reset_index(drop=True)
    table.attrs = dict(raw.attrs)
    if table[iris.features].isna().any().any():
        column = str(table[iris.features].isna().sum().idxmax())
        raise DataValidationError(source_of(raw), column, "missing measurements", "use the complete iris table")
    logger.info("Iris: %d flowers, classes %s", len(table), table[TARGET_NAME_COLUMN].value_counts().to_dict())
    return table


def ingest_regression_table(raw: pd.DataFrame, regression: RegressionTable) -> pd.DataFrame:
    """The regression table: the configured feature columns and target as numbers, complete rows only, target / ``target_scale``.

    Stops, naming the file and column, on a missing column, text in a numeric column, or
    fewer than ``min_rows`` complete rows.
    """
    columns = [*regression.features, regression.target]
    _missing_columns(raw, columns, "fundamentals.regression.features / target")
    table = raw[columns].copy()
    for column in columns:
        values = pd.to_numeric(table[column], errors="coerce")
        text = values.isna() & table[column].notna()
        if text.any():
            raise DataValidationError(
                source_of(raw),
                column,
                f"text in a numeric column on {examples(np.flatnonzero(text.to_numpy()), table.loc[text, column])}",
                "use numeric columns only",
            )
        table[column] = values.astype("float64")
    complete = table.notna().all(axis=1)
    if complete.sum() < regression.min_rows:
        raise DataValidationError(
            source_of(raw),
            str(table.isna().sum().idxmax()),
            f"only {int(complete.sum())} rows have every column; at least {regression.min_rows} are needed",
            "choose columns with fewer gaps in fundamentals.regression.features",
        )
    table = table[complete].reset_index(drop=True)
    table[regression.target] /= regression.target_scale
    logger.info(
        "Regression table: %d of %d rows complete, %d features, target %s / %g (median %.3f)",
        len(table),
        len(raw),
        len(regression.features),
        regression.target,
        regression.target_scale,
        table[regression.target].median(),
    )
    return table


def _split(table: pd.DataFrame, split: TableSplit, seed: int, stratify: str | None) -> pd.DataFrame:
    """Rows in ``train_test_split``'s order — train, then validation, then test — with a ``split`` column.

    Two calls with ``random_state=seed``, as in the course: test rows first, then validation
    rows from the rest. Splitting row positions picks the same rows as splitting the arrays.
    """
    labels = table[stratify].to_numpy() if stratify else None
    rest, test = train_test_split(np.arange(len(table)), test_size=split.test_fraction, random_state=seed, stratify=labels)
    train, validation = train_test_split(
        rest, test_size=split.validation_fraction, random_state=seed, stratify=None if labels is None else labels[rest]
    )
    order = np.concatenate([train, validation, test])
    names = np.repeat(SPLITS, [len(train), len(validation), len(test)])
    logger.info("Split (seed %d): train %d, validation %d, test %d", seed, len(train), len(validation), len(test))
    return table.iloc[order].assign(**{SPLIT_COLUMN: names}).reset_index(drop=True)


def split_iris(iris_table: pd.DataFrame, split: TableSplit, iris: IrisTable, seed: int) -> pd.DataFrame:
    """Iris flowers split for every classifier (stratified by species unless ``iris.stratify`` is false)."""
    return _split(iris_table, split, seed, iris.target if iris.stratify else None)


def split_regression(regression_table: pd.DataFrame, split: TableSplit, seed: int) -> pd.DataFrame:
    """The regression table split for every regressor."""
    return _split(regression_table, split, seed, None)


def rows(table: pd.DataFrame, split: str) -> pd.DataFrame:
    """The rows of one split, in split order."""
    return table[table[SPLIT_COLUMN] == split]


# --- model inputs ------------------------------------------------------------------------


def classifier_input(iris_split: pd.DataFrame, features: FeatureSelection, iris: IrisTable) -> dict[str, Any]:
    """``x_/y_`` arrays of every split for one classifier: its ``columns``; one class against the rest, or every class.

    Also ``columns`` and ``class_names`` (index = the label in ``y_``), for its evaluation.
    """
    columns = features.columns or iris.features
    _missing_columns(iris_split, columns, "the variant's features.columns")
    names = iris_split.drop_duplicates(iris.target).sort_values(iris.target)[TARGET_NAME_COLUMN].tolist()
    if features.positive_class is not None and features.positive_class not in names:
        raise ValueError(
            f"features.positive_class {features.positive_class!r} is not a class of the table ({', '.join(names)}); see {PARAMS_FILE}."
        )
    arrays: dict[str, Any] = {"columns": list(columns)}
    for split in SPLITS:
        part = rows(iris_split, split)
        arrays[f"x_{split}"] = part[columns].to_numpy(dtype="float64")
        labels = part[TARGET_NAME_COLUMN]
        arrays[f"y_{split}"] = (
            (labels == features.positive_class).to_numpy(dtype="int64") if features.positive_class else part[iris.target].to_numpy()
        )
    arrays["class_names"] = [f"not {features.positive_class}", features.positive_class] if features.positive_class else names
    return arrays


def regression_input(regression_split: pd.DataFrame, features: FeatureSelection, regression: RegressionTable) -> dict[str, Any]:
    """``x_/y_`` arrays of every split for one regressor: one array of every feature, or a dict of named inputs.

    ``features.inputs`` names each input and lists its positions in ``regression.features``
    (the course's Wide & Deep with two inputs: ``wide`` = 0–4, ``deep`` = 2–7).
    """
    width = len(regression.features)
    for name, positions in (features.inputs or {}).items():
        outside = [position for position in positions if position >= width]
        if not positions or outside:
            raise ValueError(
                f"features.inputs.{name} = {positions}: each input needs positions 0–{width - 1} of the {width} "
                f"regression.features ({PARAMS_FILE})."
            )
    arrays: dict[str, Any] = {}
    for split in SPLITS:
        part = rows(regression_split, split)
        x = part[regression.features].to_numpy(dtype="float64")
        arrays[f"x_{split}"] = {name: x[:, positions] for name, positions in features.inputs.items()} if features.inputs else x
        arrays[f"y_{split}"] = part[regression.target].to_numpy(dtype="float64")
    return arrays


# --- Keras: Normalization fitted on the training rows --------------------------------------


def adapt_normalization(model: keras.Model, model_input: dict[str, Any]) -> keras.Model:
    """Adapt every ``Normalization`` layer on the training rows of the input it reads, and only on those.

    Its mean and variance are the training rows' (the course's ``norm.adapt(XTrain)``):
    validation and test rows stay unseen until they are scored. A model with several inputs
    gets one statistic per input (``x_train`` is then a dict keyed by input name).
    """
    normalizations = [layer for layer in model.layers if isinstance(layer, keras.layers.Normalization)]
    if not normalizations:
        return model
    inputs = model.input if isinstance(model.input, dict) else {None: model.input}
    for layer in normalizations:
        name = next((name for name, tensor in inputs.items() if layer.input is tensor), "?")
        if name == "?":
            raise ValueError(f"{model.name}: Normalization layer {layer.name!r} does not read a model input; adapt it in its builder.")
        training_rows = model_input["x_train"] if name is None else model_input["x_train"][name]
        layer.adapt(np.asarray(training_rows, dtype="float32"))
        logger.info("Adapted %s on %d training rows (mean %s)", layer.name, len(training_rows), np.round(np.ravel(layer.mean), 3).tolist())
    return model


# --- scikit-learn baselines ------------------------------------------------------------------


def fit_baseline(model_input: dict[str, Any], baseline: BaselineSettings, seed: int) -> tuple[BaseEstimator, dict[str, Any]]:
    """Fit the ``baseline.method`` estimator on the training rows (after a StandardScaler with ``standardize``).

    ``random_state`` is the seed unless ``hyperparameters`` set it. An MLP's per-iteration
    training loss becomes the fit record's ``loss`` history (scikit-learn's loss: half the
    squared error for the regressor, log loss for the classifier, each with its L2 term).
    """
    estimator_class = ESTIMATORS[baseline.method]
    hyperparameters = dict(baseline.hyperparameters)
    if "random_state" in estimator_class().get_params():
        hyperparameters.setdefault("random_state", int(seed))
    estimator = estimator_class(**hyperparameters)
    model = make_pipeline(StandardScaler(), estimator) if baseline.standardize else estimator
    seconds = fit_estimator(model, model_input["x_train"], model_input["y_train"], baseline.threads, baseline.method)
    iterations = int(np.max(getattr(estimator, "n_iter_", 0)))
    history = {"loss": [float(value) for value in estimator.loss_curve_]} if hasattr(estimator, "loss_curve_") else {}
    return model, {"history": history, "train_seconds": round(seconds, 3), "epochs_run": iterations, "best_epoch": iterations}


# --- evaluation ------------------------------------------------------------------------------


def predict(model: Any, x: Any) -> np.ndarray:
    """Predictions of a Keras model or a scikit-learn estimator, one value per row.

    A Keras model is called on all rows at once (these tables are small): ``model.predict``
    would first trace a TensorFlow function for every model, ~0.3 s each time.
    """
    if isinstance(model, keras.Model):
        rows = (
            {name: np.asarray(array, dtype="float32") for name, array in x.items()} if isinstance(x, Mapping) else np.asarray(x, "float32")
        )
        return keras.ops.convert_to_numpy(model(rows, training=False)).reshape(-1)
    return np.asarray(model.predict(x)).reshape(-1)


def regression_metrics(actual: np.ndarray, predicted: np.ndarray, split: str) -> dict[str, float]:
    """``<split>_rmse``, ``<split>_mae`` and ``<split>_r2``, in the target's unit."""
    return {
        f"{split}_rmse": float(root_mean_squared_error(actual, predicted)),
        f"{split}_mae": float(mean_absolute_error(actual, predicted)),
        f"{split}_r2": float(r2_score(actual, predicted)),
    }


def evaluate_regressor(model: Any, model_input: dict[str, Any]) -> dict[str, Any]:
    """Test RMSE, MAE and R² (the same names for networks and baselines), and the same on the validation rows.

    The course reported scikit-learn's MLPRegressor on its validation rows and the Keras
    models on its test rows; both are here for every model.
    """
    metrics: dict[str, float] = {}
    for split in ("test", "validation"):
        metrics |= regression_metrics(model_input[f"y_{split}"], predict(model, model_input[f"x_{split}"]), split)
    logger.info("Test: RMSE %.4f, MAE %.4f, R2 %.4f", metrics["test_rmse"], metrics["test_mae"], metrics["test_r2"])
    return {"task": "regression", "metrics": metrics, "n_test_rows": len(model_input["y_test"])}


def _decision_line(model: Any, columns: Sequence[str]) -> dict[str, Any] | None:
    """``w1·x1 + w2·x2 + b = 0`` of a linear classifier on two columns (in their own units), else None."""
    if isinstance(model, Pipeline) or len(columns) != 2 or np.shape(getattr(model, "coef_", ())) != (1, 2):
        return None
    return {"coefficients": [float(value) for value in model.coef_[0]], "intercept": float(model.intercept_[0]), "columns": list(columns)}


def evaluate_classifier(model: Any, model_input: dict[str, Any], probes: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Test and validation accuracy, the test confusion matrix, and the predicted class of each probe row.

    ``prediction_example_<i>`` is the predicted label of the i-th probe row (1-based; for one
    class against the rest, 1 = that class). A linear classifier on two columns also gives
    its decision line, for the report.
    """
    names = list(model_input["class_names"])
    predicted = predict(model, model_input["x_test"])
    metrics = {
        "test_accuracy": float(accuracy_score(model_input["y_test"], predicted)),
        "validation_accuracy": float(accuracy_score(model_input["y_validation"], predict(model, model_input["x_validation"]))),
    }
    probe_labels = predict(model, np.asarray(probes, dtype="float64")).astype(int).tolist() if len(probes) else []
    metrics |= {f"prediction_example_{index}": float(label) for index, label in enumerate(probe_labels, start=1)}
    matrix = confusion_matrix(model_input["y_test"], predicted, labels=list(range(len(names))))
    logger.info("Test accuracy %.4f on %d rows; probes %s -> %s", metrics["test_accuracy"], len(predicted), list(probes), probe_labels)
    return {
        "task": "classification",
        "metrics": metrics,
        "class_names": names,
        "columns": list(model_input["columns"]),
        "confusion_matrix": matrix.tolist(),
        "probes": {
            "rows": [list(map(float, row)) for row in probes],
            "labels": probe_labels,
            "classes": [names[label] for label in probe_labels],
        },
        "decision_line": _decision_line(model, model_input["columns"]),
        "n_test_rows": len(predicted),
    }


# --- report ----------------------------------------------------------------------------------

#: The order of the comparison table: the neuron, then the classifiers, then the regressors.
TASKS = ("line", "classification", "regression")
COMPARISON_COLUMNS = (
    "task",
    "n_params",
    "test_rmse",
    "test_mae",
    "test_r2",
    "validation_rmse",
    "test_accuracy",
    "validation_accuracy",
    "train_seconds",
    "epochs_run",
)


def compare_models(summaries: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per model: the neuron, the classifiers (best accuracy first), the regressors (lowest test RMSE first)."""
    table = comparison_table(summaries, COMPARISON_COLUMNS)
    rank = table["task"].map({task: position for position, task in enumerate(TASKS)})
    score = table["test_rmse"].fillna(-table["test_accuracy"]).fillna(0.0)
    return (
        table.assign(_rank=rank, _score=score)
        .sort_values(["_rank", "_score"], kind="stable")
        .drop(columns=["_rank", "_score"])
        .reset_index(drop=True)
    )


def course_comparison(summaries: dict[str, dict[str, Any]], report: dict[str, Any]) -> pd.DataFrame:
    """The course's numbers (``report.course``: variant → metric → value) beside this run's, one row per number.

    A variant or metric the run does not have is left blank (measured) rather than dropped.
    """
    records = [
        {"model": model, "metric": metric, "course": float(value), "measured": summaries.get(model, {}).get(metric)}
        for model, numbers in (report.get("course") or {}).items()
        for metric, value in numbers.items()
    ]
    return pd.DataFrame(records, columns=["model", "metric", "course", "measured"])


def fitted_line_figure(summaries: dict[str, dict[str, Any]]) -> Figure:
    """Per single-neuron model: the points, the learned line and its predictions at the probe x; the loss per epoch."""
    lines = {name: summary for name, summary in summaries.items() if summary.get("task") == "line"}
    figure, axes = plt.subplots(max(len(lines), 1), 2, figsize=(10, 3.8 * max(len(lines), 1)), squeeze=False)
    for (points_axis, loss_axis), (name, summary) in zip(axes, lines.items(), strict=False):
        x, y = np.asarray(summary["points"]["x"]), np.asarray(summary["points"]["y"])
        probes = summary["probes"]
        span = np.linspace(min(x.min(), *probes["x"]) - 1, max(x.max(), *probes["x"]) + 1, 50)
        points_axis.scatter(x, y, color="black", zorder=3, label="the course's points")
        points_axis.plot(
            span, summary["weight"] * span + summary["bias"], label=f"learned y = {summary['weight']:.4f} x {summary['bias']:+.4f}"
        )
        points_axis.scatter(probes["x"], probes["prediction"], marker="*", s=160, color="tab:red", zorder=4, label="prediction")
        for probe_x, value in zip(probes["x"], probes["prediction"], strict=True):
            points_axis.annotate(f"{value:.3f} at x = {probe_x:g}", (probe_x, value), textcoords="offset points", xytext=(-110, 0))
        points_axis.set(title=f"{name}: the fitted line", xlabel="x", ylabel="y")
        points_axis.legend(fontsize="small")
        points_axis.grid(alpha=0.3)
        loss = summary["history"].get("loss", [])
        loss_axis.plot(range(1, len(loss) + 1), loss)
        loss_axis.set(title=f"{name}: training loss (MSE) per epoch", xlabel="epoch", ylabel="loss", yscale="log")
        loss_axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def decision_boundary_figure(summaries: dict[str, dict[str, Any]], iris_split: pd.DataFrame) -> Figure:
    """Per linear classifier on two columns: every flower, its decision line and the probe flowers with their predicted class."""
    linear = {name: summary for name, summary in summaries.items() if summary.get("decision_line")}
    figure, axes = plt.subplots(1, max(len(linear), 1), figsize=(6.5 * max(len(linear), 1), 4.8), squeeze=False)
    for axis, (name, summary) in zip(axes[0], linear.items(), strict=False):
        line = summary["decision_line"]
        (first, second), (w1, w2), intercept = line["columns"], line["coefficients"], line["intercept"]
        positive = summary["class_names"][1]
        is_positive = iris_split[TARGET_NAME_COLUMN] == positive
        for mask, label, color in ((is_positive, positive, "tab:orange"), (~is_positive, summary["class_names"][0], "tab:blue")):
            axis.scatter(iris_split.loc[mask, first], iris_split.loc[mask, second], s=14, alpha=0.7, color=color, label=label)
        span = np.linspace(iris_split[first].min() - 0.5, iris_split[first].max() + 0.5, 50)
        axis.plot(span, -(w1 * span + intercept) / w2, color="black", label="decision boundary")
        for row, predicted in zip(summary["probes"]["rows"], summary["probes"]["classes"], strict=True):
            axis.scatter(*row, marker="*", s=220, color="tab:red", edgecolor="black", zorder=4)
            axis.annotate(f"{tuple(row)} → {predicted}", tuple(row), textcoords="offset points", xytext=(8, -12), fontsize="small")
        axis.set(
            title=f"{name}: {positive} vs the rest",
            xlabel=first,
            ylabel=second,
            ylim=(iris_split[second].min() - 0.3, iris_split[second].max() + 0.3),
        )
        axis.legend(fontsize="small", loc="lower right")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def build_report(
    comparison: pd.DataFrame,
    course: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    iris_split: pd.DataFrame,
    regression_split: pd.DataFrame,
    report: dict[str, Any],
    iris: IrisTable,
) -> tuple[Figure, Figure, Figure, str]:
    """The fitted line, the decision boundary, the learning curves and the HTML report."""
    line = fitted_line_figure(summaries)
    boundary = decision_boundary_figure(summaries, iris_split)
    trained = {name: summary for name, summary in summaries.items() if summary.get("task") != "line" and summary.get("history")}
    curves = learning_curves({name: summary["history"] for name, summary in trained.items()}, metric="loss", log_scale=False)
    figures = {"line": line, "boundary": boundary, "learning_curves": curves}
    html = render_report(comparison, course, summaries, {"iris": iris_split, "regression": regression_split}, report, iris, figures)
    return line, boundary, curves, html


#: Numbers shown whole: counts, and the perceptron's 0 / 1 answers.
WHOLE_NUMBERS = ("n_params", "epochs_run", "prediction_example_")


def _text(value: Any, metric: str) -> str:
    """One table cell: blank for n/a, counts whole, seconds to 0.1, other numbers to 4 decimals."""
    if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return ""
    if not isinstance(value, (int, float, np.number)):
        return str(value)
    if metric.startswith(WHOLE_NUMBERS):
        return thousands(value)
    return f"{value:.1f}" if metric == "train_seconds" else f"{value:.4f}"


def _display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as text, each column in its metric's format."""
    return comparison.apply(lambda column: [_text(value, str(column.name)) for value in column])


def _display_course(course: pd.DataFrame) -> pd.DataFrame:
    """The course table as text, each row in its metric's format."""
    return course.assign(
        **{
            side: [_text(value, metric) for value, metric in zip(course[side], course["metric"], strict=True)]
            for side in ("course", "measured")
        }
    )


def render_report(
    comparison: pd.DataFrame,
    course: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    splits: dict[str, pd.DataFrame],
    report: dict[str, Any],
    iris: IrisTable,
    figures: dict[str, Figure],
) -> str:
    """The HTML report (template ``fundamentals.html.j2``): what each model learned, the course's numbers beside this run's, figures.

    ``splits``: the split iris and regression tables, for their row counts.
    """
    regressors = comparison[comparison["task"] == "regression"]
    classifiers = {name: summary for name, summary in summaries.items() if summary.get("task") == "classification"}
    confusion = {
        name: pd.DataFrame(summary["confusion_matrix"], index=summary["class_names"], columns=summary["class_names"])
        .rename_axis("true \\ predicted")
        .reset_index()
        for name, summary in classifiers.items()
    }
    return render_template(
        "fundamentals.html.j2",
        report=report,
        iris=iris,
        lines={name: summary for name, summary in summaries.items() if summary.get("task") == "line"},
        classifiers=classifiers,
        best_regressor=None
        if regressors.empty
        else {"name": str(regressors["model"].iloc[0]), "test_rmse": float(regressors["test_rmse"].iloc[0])},
        table=_display(comparison),
        course=_display_course(course),
        confusion=confusion,
        split_rows={
            name: table[SPLIT_COLUMN].value_counts().reindex(list(SPLITS), fill_value=0).to_dict() for name, table in splits.items()
        },
        figures=figures,
    )
