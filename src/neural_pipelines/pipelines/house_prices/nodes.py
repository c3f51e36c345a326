"""Nodes of ``house_prices``: predict Ames sale prices with MLPs, against the course's recipe and baselines.

Data flow: validate the raw table (Kaggle column names) → one seeded train / validation /
test split shared by everything → per variant: fit the preprocessing on training rows →
model input → fit a Keras network or a scikit-learn baseline → wrap preprocessing +
regressor as a price model that prices raw rows → price the test rows → score in dollars →
report (table, diagnostics of the best model, learning curves, permutation importance).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from neural_pipelines.parameters import Fraction, Parameters
from neural_pipelines.pipelines.house_prices.serving import PriceModel, RawFrameCleaner, normalize_columns
from neural_pipelines.registry import RegistrySettings, best_variant
from neural_pipelines.reporting import comparison_table, learning_curves, render_template
from neural_pipelines.reporting.regression import horizontal_bars, permutation_importance, predicted_vs_actual, residuals_vs_predicted
from neural_pipelines.reporting.report import dollars, thousands
from neural_pipelines.training.estimators import fit_estimator
from neural_pipelines.validation import DataValidationError, examples, source_of

logger = logging.getLogger(__name__)

PARAMS_FILE = "conf/base/parameters_house_prices.yml"
SPLIT_COLUMN = "split"
SPLITS = ("train", "validation", "test")
TEST_METRICS = ("test_mae", "test_rmse", "test_rmsle", "test_r2")


# --- ingest -------------------------------------------------------------------------


def _csv_lines(mask: pd.Series, values: pd.Series) -> str:
    """The first offending CSV lines (header = line 1) and their values, for an error message."""
    lines = [int(position) + 2 for position in np.flatnonzero(mask.to_numpy())]
    return "CSV " + examples(lines, values[mask], noun="lines")


def ingest_houses(raw: pd.DataFrame, ingest: dict[str, Any]) -> pd.DataFrame:
    """Validate a raw Ames table and give it Kaggle column names, without identifiers.

    Works the same for the bundled De Cock file (``Lot Area``, ``Year Remod/Add`` …) and a
    user's Kaggle ``train.csv`` or OpenML CSV. Stops, naming the file, column and fix, on: no
    ``SalePrice``; fewer than ``min_rows`` rows; an empty, non-numeric or non-positive price;
    text in a numeric column; a column with no value at all; two columns with one name.
    """
    source = source_of(raw)
    target = ingest["target"]
    houses = normalize_columns(raw, ingest.get("column_aliases"))
    duplicated = houses.columns[houses.columns.duplicated()].unique().tolist()
    if duplicated:
        raise DataValidationError(
            source,
            str(duplicated[0]),
            f"several columns map to the Kaggle name {duplicated[0]!r} (spaces, '/' and '_' are ignored)",
            "keep one of them",
        )
    houses = houses.drop(columns=[c for c in ingest["id_columns"] if c in houses.columns])

    if target not in houses.columns:
        raise DataValidationError(
            source,
            target,
            f"missing (found columns: {examples(houses.columns, limit=12, noun='').strip()})",
            "use a table with the sale price, e.g. Kaggle's train.csv (test.csv has no prices), "
            f"or map your column's name to {target} in house_prices.ingest.column_aliases ({PARAMS_FILE}, "
            "overridable in conf/local)",
        )
    if len(houses) < ingest["min_rows"]:
        raise DataValidationError(
            source,
            target,
            f"only {len(houses)} row(s); at least {ingest['min_rows']} are needed to train, validate and test",
            "provide the whole training table (Kaggle's train.csv has 1,460 rows, the De Cock data 2,930)",
        )

    prices = pd.to_numeric(houses[target], errors="coerce")
    problems = {
        "empty prices": houses[target].isna(),
        "non-numeric prices": prices.isna() & houses[target].notna(),
        "prices <= 0": prices <= 0,
    }
    for problem, mask in problems.items():
        if mask.any():
            raise DataValidationError(
                source,
                target,
                f"{problem} on {_csv_lines(mask, houses[target])}",
                "every row needs a sale price in dollars (a positive number); remove rows without one",
            )
    houses[target] = prices.astype("float64")

    for column in [c for c in ingest["numeric_columns"] if c in houses.columns]:
        values = pd.to_numeric(houses[column], errors="coerce")
        text = values.isna() & houses[column].notna()
        if text.any():
            raise DataValidationError(
                source,
                column,
                f"text in a numeric column on {_csv_lines(text, houses[column])}",
                "write numbers only; leave the cell empty (or NA) when the value is unknown",
            )
        houses[column] = values.astype("float64")

    empty = houses.columns[houses.isna().all()].tolist()
    if empty:
        raise DataValidationError(
            source,
            str(empty[0]),
            f"no value in any of the {len(houses)} rows" + (f" (also empty: {', '.join(map(str, empty[1:]))})" if len(empty) > 1 else ""),
            "fill the column or delete it from the file",
        )

    logger.info(
        "Ingested %d houses x %d columns from %s (%d numeric, %d text); price median $%.0f",
        len(houses),
        houses.shape[1] - 1,
        source,
        houses.drop(columns=target).select_dtypes("number").shape[1],
        houses.drop(columns=target).select_dtypes(exclude="number").shape[1],
        houses[target].median(),
    )
    return houses.reset_index(drop=True)


# --- split --------------------------------------------------------------------------


class HouseSplit(Parameters):
    """``house_prices.split``: one seeded split shared by every model."""

    test_fraction: Fraction  # held-out test rows
    validation_fraction: Fraction  # of the rest: early stopping of the networks
    exclude_above: dict[str, float] | None = None  # {column: limit}: rows above it are removed first (null: keep all)


def split_houses(houses: pd.DataFrame, split: HouseSplit, seed: int) -> pd.DataFrame:
    """One seeded shuffle into train / validation / test, shared by every variant and baseline.

    Rows above ``exclude_above`` (``{column: limit}``) are removed first — by default the five
    houses over 4,000 sq ft that the data's author (De Cock, 2011) recommends removing: three
    partial sales unlikely to reflect market value and two very large houses. ``test_fraction``
    of the rest is the held-out test set; ``validation_fraction`` of the remainder is the
    early-stopping validation set; the rest trains.
    """
    keep = pd.Series(True, index=houses.index)
    for column, limit in (split.exclude_above or {}).items():
        if column in houses.columns:
            keep &= ~(pd.to_numeric(houses[column], errors="coerce") > float(limit))
    if (~keep).any():
        logger.info("Excluding %d houses above %s", int((~keep).sum()), split.exclude_above)
    kept = houses[keep].reset_index(drop=True)

    order = np.random.default_rng(int(seed)).permutation(len(kept))
    n_test = round(len(kept) * split.test_fraction)
    n_validation = round((len(kept) - n_test) * split.validation_fraction)
    labels = np.full(len(kept), "train", dtype=object)
    labels[order[:n_test]] = "test"
    labels[order[n_test : n_test + n_validation]] = "validation"
    counts = pd.Series(labels).value_counts()
    if any(counts.get(name, 0) == 0 for name in SPLITS):
        raise DataValidationError(
            source_of(houses),
            SPLIT_COLUMN,
            f"{len(kept)} rows give splits {counts.to_dict()}; every split needs rows",
            f"provide more rows or change house_prices.split fractions ({PARAMS_FILE})",
        )
    logger.info("Split (seed %d): train %d, validation %d, test %d", seed, counts["train"], counts["validation"], counts["test"])
    return kept.assign(**{SPLIT_COLUMN: labels})


def rows_of(houses: pd.DataFrame, split: str, target: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The raw feature rows and prices (dollars) of one split."""
    rows = houses[houses[SPLIT_COLUMN] == split]
    return rows.drop(columns=[SPLIT_COLUMN, target]), rows[target].to_numpy(dtype="float64")


# --- preprocessing (fitted per variant, on training rows only) -----------------------


def _complete(cleaner: RawFrameCleaner, rows: pd.DataFrame, split: str | None = None) -> np.ndarray:
    """Rows with a value in every feature column the cleaner keeps (the course's ``dropna``).

    With ``split`` named, a split left without any complete row stops the run, naming the
    column with the most gaps.
    """
    cleaned = cleaner.transform(rows)
    complete = cleaned.notna().all(axis=1).to_numpy()
    if split is not None and not complete.any():
        worst = str(cleaned.isna().sum().idxmax())
        raise DataValidationError(
            source_of(rows),
            worst,
            f"none of the {len(rows)} {split} rows has a value in every numeric column ({worst} is the emptiest)",
            f"fill the gaps, or set drop_incomplete_rows: false for that model ({PARAMS_FILE})",
        )
    return complete


def fit_preprocessing(houses: pd.DataFrame, features: dict[str, Any], ingest: dict[str, Any]) -> tuple[Pipeline, Pipeline]:
    """Fit the raw-row preprocessing and the target transform on **training rows only**.

    Preprocessing: clean (Kaggle names, types) → numeric: impute (median) and standardize;
    other columns (unless ``numeric_only``): impute (most frequent) and one-hot encode,
    ignoring categories first seen at prediction time. With ``drop_incomplete_rows`` (the
    course) the transformer is fitted on the complete training rows; its imputer then only
    ever fills cells of rows *priced* later, never training rows. Target: optional
    ``log1p`` then optional standardization, inverted when pricing.
    """
    rows, prices = rows_of(houses, "train", ingest["target"])
    cleaner = RawFrameCleaner(
        aliases=ingest.get("column_aliases"),
        drop_columns=[*ingest["id_columns"], ingest["target"]],
        as_categorical=[] if features["numeric_only"] else features.get("as_categorical", []),
        numeric_only=features["numeric_only"],
    ).fit(rows)
    if features["drop_incomplete_rows"]:
        complete = _complete(cleaner, rows, "train")
        rows, prices = rows[complete], prices[complete]

    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy=features["numeric_imputer"]))]
    if features["standardize_numeric"]:
        numeric_steps.append(("standardize", StandardScaler()))
    transformers: list[tuple[str, Any, list[str]]] = [("numeric", Pipeline(numeric_steps), cleaner.numeric_columns_)]
    if cleaner.categorical_columns_:
        categorical = Pipeline(
            [
                ("impute", SimpleImputer(strategy=features["categorical_imputer"], fill_value="missing")),
                ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32)),
            ]
        )
        transformers.append(("categorical", categorical, cleaner.categorical_columns_))
    preprocessor = Pipeline([("clean", cleaner), ("encode", ColumnTransformer(transformers, remainder="drop"))])
    preprocessor.fit(rows)

    target = features["target"]
    target_transformer = Pipeline(
        [
            ("log1p", FunctionTransformer(np.log1p, inverse_func=np.expm1) if target["log1p"] else FunctionTransformer()),
            ("standardize", StandardScaler() if target["standardize"] else FunctionTransformer()),
        ]
    ).fit(prices.reshape(-1, 1))
    logger.info(
        "Preprocessing fitted on %d training rows: %d numeric + %d categorical columns -> %d inputs",
        len(rows),
        len(cleaner.numeric_columns_),
        len(cleaner.categorical_columns_),
        len(preprocessor.named_steps["encode"].get_feature_names_out()),
    )
    return preprocessor, target_transformer


def make_model_input(
    houses: pd.DataFrame, preprocessor: Pipeline, target_transformer: Pipeline, features: dict[str, Any], ingest: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Training and validation arrays (float32, transformed target) and the row / feature counts.

    With ``drop_incomplete_rows`` only complete rows are kept, as in the course: the counts
    record how many rows that leaves in the whole table and in each split.
    """
    cleaner: RawFrameCleaner = preprocessor.named_steps["clean"]
    arrays: dict[str, np.ndarray] = {}
    counts: dict[str, Any] = {}
    for split in ("train", "validation"):
        rows, prices = rows_of(houses, split, ingest["target"])
        if features["drop_incomplete_rows"]:
            complete = _complete(cleaner, rows, split)
            rows, prices = rows[complete], prices[complete]
        arrays[f"x_{split}"] = np.asarray(preprocessor.transform(rows), dtype="float32")
        arrays[f"y_{split}"] = target_transformer.transform(prices.reshape(-1, 1))[:, 0].astype("float32")
        counts[f"n_{split}_rows"] = len(rows)
    all_rows = houses.drop(columns=[SPLIT_COLUMN, ingest["target"]])
    usable = int(_complete(cleaner, all_rows).sum()) if features["drop_incomplete_rows"] else len(all_rows)
    summary = {
        **counts,
        "n_rows": len(all_rows),
        "n_usable_rows": usable,
        "n_features": int(cleaner.n_features_in_),
        "n_model_inputs": int(arrays["x_train"].shape[1]),
    }
    logger.info(
        "Model input: %d of %d rows usable (%s), %d features -> %d inputs; train %d, validation %d rows",
        usable,
        len(all_rows),
        "complete rows only" if features["drop_incomplete_rows"] else "all rows",
        summary["n_features"],
        summary["n_model_inputs"],
        counts["n_train_rows"],
        counts["n_validation_rows"],
    )
    return arrays, summary


# --- baselines ----------------------------------------------------------------------

BASELINES = {"ridge": Ridge, "hist_gradient_boosting": HistGradientBoostingRegressor}


def fit_baseline(model_input: dict[str, np.ndarray], baseline: dict[str, Any], seed: int) -> tuple[Any, dict[str, Any]]:
    """Fit a scikit-learn baseline on the same training rows, features and target as the networks.

    ``method``: ``ridge`` or ``hist_gradient_boosting``; ``hyperparameters`` go to the
    estimator. No early stopping on the validation rows, so they stay unused here.
    ``threads`` caps the OpenMP / BLAS threads of the fit (``null``: the library default).
    """
    method = baseline["method"]
    if method not in BASELINES:
        raise ValueError(f"Unknown baseline method {method!r} in {PARAMS_FILE}; use one of {sorted(BASELINES)}.")
    hyperparameters = dict(baseline.get("hyperparameters") or {})
    if method == "hist_gradient_boosting":
        hyperparameters.setdefault("random_state", int(seed))
    estimator = BASELINES[method](**hyperparameters)
    seconds = fit_estimator(estimator, model_input["x_train"], model_input["y_train"], baseline.get("threads"), method)
    return estimator, {"history": {}, "train_seconds": round(seconds, 3), "epochs_run": 0, "best_epoch": 0}


# --- price model, test predictions, scores -------------------------------------------


def package_price_model(preprocessor: Pipeline, target_transformer: Pipeline, regressor: Any) -> PriceModel:
    """Preprocessing + regressor + inverse target transform: one model that prices raw rows."""
    return PriceModel(preprocessor=preprocessor, regressor=regressor, target_transformer=target_transformer)


def _price_model(model: Any) -> PriceModel:
    """The :class:`PriceModel` inside a loaded MLflow pyfunc model (or the model itself)."""
    return model if isinstance(model, PriceModel) else model.unwrap_python_model()


def package_champion(
    summaries: dict[str, dict[str, Any]],
    price_models: dict[str, Any],
    houses: pd.DataFrame,
    ingest: dict[str, Any],
    registry: RegistrySettings,
) -> dict[str, Any]:
    """The best variant by ``registry.metric`` (networks and baselines alike: each is a complete price model) for the registry.

    Its input example is two raw test rows, in the columns of the model's signature.
    """
    choice = best_variant(summaries, registry, eligible=set(price_models))
    model = _price_model(price_models[choice["variant"]])
    rows, _ = rows_of(houses, "test", ingest["target"])
    columns = [str(name) for name in model.preprocessor.named_steps["clean"].feature_names_in_]
    return {"choice": choice, "python_model": model, "input_example": rows[columns].head(2).reset_index(drop=True)}


def predict_test(price_model: Any, houses: pd.DataFrame, ingest: dict[str, Any]) -> pd.DataFrame:
    """Price every test row from its raw columns, exactly as a user of the logged model would.

    ``complete`` marks test rows with a value in every numeric column (the rows the course's
    recipe could have kept), for ``test_mae_complete_rows``.
    """
    rows, prices = rows_of(houses, "test", ingest["target"])
    if isinstance(price_model, PriceModel):
        predicted = price_model.predict_prices(rows)
    else:  # the loaded MLflow pyfunc model: its signature names the raw columns it reads
        predicted = price_model.predict(rows[price_model.metadata.get_input_schema().input_names()])
    predicted = np.asarray(predicted, dtype="float64").reshape(-1)
    numeric = rows.drop(columns=[c for c in ingest["id_columns"] if c in rows.columns]).select_dtypes("number")
    return pd.DataFrame(
        {"row": rows.index.to_numpy(), "actual": prices, "predicted": predicted, "complete": numeric.notna().all(axis=1).to_numpy()}
    )


def price_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE and RMSE in dollars, RMSLE (Kaggle's metric) and R² of predicted prices.

    RMSLE takes log1p of predictions clipped at $0 (a negative price has no logarithm; only a
    model trained on raw dollars can produce one).
    """
    log_error = np.log1p(np.clip(predicted, 0, None)) - np.log1p(actual)
    return {
        "test_mae": float(mean_absolute_error(actual, predicted)),
        "test_rmse": float(np.sqrt(mean_squared_error(actual, predicted))),
        "test_rmsle": float(np.sqrt(np.mean(log_error**2))),
        "test_r2": float(r2_score(actual, predicted)),
    }


def evaluate_prices(test_predictions: pd.DataFrame, input_summary: dict[str, Any]) -> dict[str, Any]:
    """Test metrics on every shared test row, plus MAE on its complete rows (the course's setting).

    ``metrics`` are what the variant's MLflow run logs; ``input_summary`` (features, rows)
    travels with them into the report's comparison table.
    """
    actual, predicted = test_predictions["actual"].to_numpy(), test_predictions["predicted"].to_numpy()
    complete = test_predictions["complete"].to_numpy(dtype=bool)
    complete_rows_mae = float(mean_absolute_error(actual[complete], predicted[complete]))
    metrics = {**price_metrics(actual, predicted), "test_mae_complete_rows": complete_rows_mae}
    logger.info("Test: MAE $%.0f, RMSE $%.0f, RMSLE %.4f, R2 %.4f", *(metrics[m] for m in TEST_METRICS))
    return {
        "metrics": metrics,
        "n_test_rows": len(actual),
        "n_test_complete_rows": int(complete.sum()),
        "n_negative_predictions": int((predicted < 0).sum()),
        **input_summary,
    }


# --- report -------------------------------------------------------------------------

COMPARISON_COLUMNS = (
    *TEST_METRICS,
    "test_mae_complete_rows",
    "n_params",
    "n_features",
    "n_model_inputs",
    "n_train_rows",
    "train_seconds",
    "epochs_run",
)


def compare_models(summaries: dict[str, dict[str, Any]], report: dict[str, Any]) -> pd.DataFrame:
    """One row per model, best (lowest ``report.rank_by``) first."""
    return comparison_table(summaries, COMPARISON_COLUMNS, sort_by=report["rank_by"])


def explain_best_model(
    comparison: pd.DataFrame, houses: pd.DataFrame, report: dict[str, Any], ingest: dict[str, Any], seed: int, price_models: dict[str, Any]
) -> pd.DataFrame:
    """Permutation importance of every raw column for the best model, on the test rows, in dollars of MAE.

    Raw columns (``Neighborhood``, not its one-hot dummies) so the ranking reads in the
    data's own terms. ``price_models`` holds every variant's model, keyed by name.
    """
    best = str(comparison["model"].iloc[0])
    model = _price_model(price_models[best])
    rows, prices = rows_of(houses, "test", ingest["target"])
    columns = list(model.preprocessor.named_steps["clean"].feature_names_in_)
    importance = permutation_importance(
        model.predict_prices, rows[columns], prices, n_repeats=int(report["permutation_repeats"]), seed=int(seed)
    )
    logger.info("Permutation importance (%s): top 3 %s", best, importance["feature"].head(3).tolist())
    return importance.assign(model=best)


def build_report(  # noqa: PLR0913, PLR0917 (the report reads every variant's results and the data they were scored on)
    comparison: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    importance: pd.DataFrame,
    houses: pd.DataFrame,
    houses_split: pd.DataFrame,
    report: dict[str, Any],
    split: HouseSplit,
    test_predictions: dict[str, pd.DataFrame],
) -> tuple[Figure, Figure, Figure, Figure, str]:
    """Diagnostics of the best model, learning curves, importance chart and the HTML report."""
    best = str(comparison["model"].iloc[0])
    predictions = test_predictions[best]
    scatter = predicted_vs_actual(
        predictions["actual"], predictions["predicted"], title=f"{best}: predicted vs actual sale price (test rows)"
    )
    residuals = residuals_vs_predicted(
        predictions["actual"], predictions["predicted"], title=f"{best}: residuals (actual - predicted), test rows"
    )
    keras_runs = {name: summary for name, summary in summaries.items() if summary.get("history")}
    curves = learning_curves(
        {name: summary["history"] for name, summary in keras_runs.items()},
        metric="loss",
        kept_epochs={name: summary.get("best_epoch") for name, summary in keras_runs.items()},
    )
    top = importance.head(int(report["top_features"]))
    bars = horizontal_bars(
        top.set_index("feature")["importance_mean"],
        errors=top.set_index("feature")["importance_std"],
        title=f"{best}: top {len(top)} features by permutation importance (test rows)",
        xlabel="increase of test MAE when the column is shuffled ($)",
    )
    data_facts = {
        "n_ingested": len(houses),
        "n_excluded": len(houses) - len(houses_split),
        "exclude_above": split.exclude_above or {},
        "split_counts": houses_split["split"].value_counts().to_dict(),
    }
    figures = {"scatter": scatter, "residuals": residuals, "learning_curves": curves, "importance": bars}
    html = render_report(comparison, summaries, top, data_facts, report, figures)
    return scatter, residuals, curves, bars, html


def _display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as text for reading: dollars, 4-digit ratios, whole counts, blank for n/a."""
    formats = {
        "test_mae": dollars,
        "test_rmse": dollars,
        "test_mae_complete_rows": dollars,
        "test_rmsle": "{:.4f}".format,
        "test_r2": "{:.4f}".format,
        "train_seconds": "{:.1f}".format,
    }
    display = comparison.copy()
    for column in display.columns[1:]:
        fmt = formats.get(column, thousands)
        display[column] = [("" if pd.isna(value) else fmt(value)) for value in display[column]]
    return display


def render_report(
    comparison: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    top_features: pd.DataFrame,
    data_facts: dict[str, Any],
    report: dict[str, Any],
    figures: dict[str, Figure],
) -> str:
    """The pipeline's HTML report (template ``house_prices.html.j2``): verdict, table, data and recipe facts, figures.

    Computes what the sentences state: the best model, whether ``report.target_model`` is
    below ``report.target_mae``, and the row counts of the course's recipe (``mlp_course``)
    and of the practitioner's features (``mlp``), each only if that variant ran.
    """
    by_model = comparison.set_index("model")
    best = str(comparison["model"].iloc[0])
    target_name = report["target_model"]
    target_model = None
    if target_name in by_model.index:
        target_mae = float(by_model.loc[target_name, "test_mae"])
        target_model = {"name": target_name, "test_mae": target_mae, "below_target": target_mae < float(report["target_mae"])}
    data = {
        "n_ingested": data_facts["n_ingested"],
        "n_excluded": data_facts["n_excluded"],
        "split_rows": {split: data_facts["split_counts"].get(split, 0) for split in SPLITS},
    }
    return render_template(
        "house_prices.html.j2",
        report=report,
        split_rule=data_facts["exclude_above"],
        best=best,
        best_mae=float(by_model.loc[best, "test_mae"]),
        target_model=target_model,
        table=_display(comparison),
        data=data,
        course_recipe=summaries.get("mlp_course"),
        practitioner=summaries.get("mlp"),
        top_features=top_features[["feature", "importance_mean", "importance_std"]],
        figures=figures,
    )
