"""Nodes of ``house_prices_predict``: price a table of new houses (e.g. Kaggle's test.csv) with a registered model.

The table is checked as training input is, before the model sees it: an ``Id`` per house,
every column the model was trained on (Kaggle spelling, or the De Cock spelling the training
ingest also accepts), numbers in numeric columns. Columns the model does not use are ignored
with one warning. Every house gets a price; a house the model cannot price stops the run
with its ``Id``, so no row is ever silently left out.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from neural_pipelines.parameters import Parameters
from neural_pipelines.pipelines.house_prices.serving import PriceModel, normalize_columns
from neural_pipelines.validation import DataValidationError, examples, source_of

logger = logging.getLogger(__name__)

PARAMS_FILE = "conf/base/parameters_house_prices_predict.yml"


class PredictSettings(Parameters):
    """``house_prices_predict``: which model prices the houses, and the submission's column names."""

    model_uri: str  # models:/house_prices@champion, models:/house_prices/<version> or runs:/<run_id>/registered_model
    id_column: str = "Id"
    target: str = "SalePrice"


def price_houses(houses: pd.DataFrame, model: Any, settings: PredictSettings) -> pd.DataFrame:
    """``Id, SalePrice`` (dollars) for every row of ``houses``, in the table's order: Kaggle's submission format."""
    source = source_of(houses, "the houses table")
    price_model: PriceModel = model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else model
    cleaner = price_model.preprocessor.named_steps["clean"]
    table = normalize_columns(houses, cleaner.aliases)
    if settings.id_column not in table.columns:
        raise DataValidationError(
            source, settings.id_column, "missing", f"add an '{settings.id_column}' column (one per house), as in Kaggle's test.csv"
        )
    if table.empty:
        raise DataValidationError(source, settings.id_column, "no rows: the table has a header only", "add the houses to price")
    ids = table[settings.id_column]
    required = [str(column) for column in cleaner.feature_names_in_]
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise DataValidationError(
            source,
            missing[0],
            f"{len(missing)} column(s) the model was trained on are missing: {', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}",
            "add them with Kaggle's names (Kaggle's test.csv has all of them; empty cells are fine)",
        )
    unused = [str(column) for column in table.columns if column not in {*required, settings.id_column, settings.target}]
    if unused:
        logger.warning("Ignoring %d column(s) the model does not use: %s", len(unused), ", ".join(unused))
    for column in cleaner.numeric_columns_:
        text = pd.to_numeric(table[column], errors="coerce").isna() & table[column].notna()
        if text.any():
            raise DataValidationError(
                source,
                column,
                f"text in a numeric column for {examples(ids[text], table.loc[text, column], noun=settings.id_column + 's')}",
                "write a number, or leave the cell empty (or NA) when unknown",
            )
    prices = np.asarray(price_model.predict_prices(table[required]), dtype="float64")
    unpriced = ~np.isfinite(prices) | (prices <= 0)
    if unpriced.any():
        raise DataValidationError(
            source,
            settings.target,
            f"the model gives no positive price for {examples(ids[unpriced], prices[unpriced], noun=settings.id_column + 's')}",
            "check those houses' values against the training data's ranges",
        )
    logger.info("Priced %d houses: median $%.0f, from $%.0f to $%.0f", len(prices), np.median(prices), prices.min(), prices.max())
    return pd.DataFrame({settings.id_column: ids.to_numpy(), settings.target: prices})
