"""What travels with a ``house_prices`` model: raw-row cleaning, the fitted preprocessing, the price model.

Choice: preprocessing is a fitted **scikit-learn** pipeline (``RawFrameCleaner`` →
``ColumnTransformer``), persisted next to each model, rather than Keras preprocessing
layers inside the network. Why:

- the baselines (Ridge, gradient boosting) must see exactly the features the networks see;
  one fitted transformer feeds all of them, Keras layers would feed only the networks;
- the recipe needs median / most-frequent imputation of missing cells, which Keras has no
  built-in layer for (a custom layer would break safe-mode loading of the ``.keras`` file),
  and one-hot encoding that ignores categories never seen in training;
- the MLflow signature of a multi-input Keras model with string inputs is not expressible
  as the tensor signature the project's ``KerasModelDataset`` logs.

So that a *raw* row still goes in and a price in dollars comes out, :class:`PriceModel` (an
``mlflow.pyfunc`` model) wraps the cleaner + transformer, the fitted regressor (a Keras
network or a scikit-learn estimator) and the inverse target transform (``expm1`` of the
de-standardized output). It is logged as ``price_model`` in every variant's MLflow run; the
Keras network alone is also logged as ``model`` (``mlflow.keras`` flavor). Inside the
pickle, a Keras network is stored as ``.keras`` bytes and reloaded in Keras safe mode.

Loading a ``price_model`` needs this project installed (``pip install -e .``): the classes
below are referenced by import path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType
from sklearn.base import BaseEstimator, TransformerMixin

from neural_pipelines.serving import KerasBytesMixin

#: Characters removed to turn the De Cock / OpenML spelling into Kaggle's: ``Year Remod/Add`` → ``YearRemodAdd``.
SEPARATORS = re.compile(r"[\s/_]+")

#: How many missing columns an error message lists.
LISTED_COLUMNS = 10


def kaggle_column_name(name: str, aliases: Mapping[str, str] | None = None) -> str:
    """The Kaggle House Prices spelling of a column name.

    ``aliases`` (exact source names) win; otherwise spaces, slashes and underscores are
    dropped: ``Lot Area`` → ``LotArea``, ``1st Flr SF`` → ``1stFlrSF``, ``Year Remod/Add`` →
    ``YearRemodAdd``, ``Sale_Price`` → ``SalePrice``. Kaggle names pass through unchanged.
    """
    name = str(name).strip()
    if aliases and name in aliases:
        return aliases[name]
    return SEPARATORS.sub("", name)


def normalize_columns(frame: pd.DataFrame, aliases: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``frame`` with Kaggle-spelled column names (data untouched, ``attrs`` kept)."""
    return frame.rename(columns=lambda name: kaggle_column_name(name, aliases))


class RawFrameCleaner(TransformerMixin, BaseEstimator):
    """Raw table → the feature frame the ``ColumnTransformer`` expects, identically at fit and predict time.

    Renames columns to Kaggle spelling, drops identifiers, the target and anything not seen
    in training, casts numeric columns to float and the rest (plus ``as_categorical``, e.g.
    ``MSSubClass``) to stripped strings, and refuses rows that lack a training column or
    carry text in a numeric one. Fitting learns which columns are numeric, from the dtypes
    of the (already validated) training rows.
    """

    def __init__(
        self,
        aliases: Mapping[str, str] | None = None,
        drop_columns: Sequence[str] = (),
        as_categorical: Sequence[str] = (),
        numeric_only: bool = False,
    ) -> None:
        self.aliases = aliases
        self.drop_columns = drop_columns
        self.as_categorical = as_categorical
        self.numeric_only = numeric_only

    def fit(self, frame: pd.DataFrame, y: Any = None) -> RawFrameCleaner:
        frame = self._renamed(frame)
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and c not in self.as_categorical]
        categorical = [] if self.numeric_only else [c for c in frame.columns if c not in numeric]
        self.numeric_columns_ = numeric
        self.categorical_columns_ = categorical
        self.feature_names_in_ = np.array(numeric + categorical, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = self._renamed(frame)
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            raise ValueError(
                f"Missing input columns {missing[:LISTED_COLUMNS]}{' …' if len(missing) > LISTED_COLUMNS else ''}: a raw row needs every "
                "column the model was trained on (Kaggle House Prices spelling; empty cells are fine)."
            )
        numeric = frame[self.numeric_columns_].apply(pd.to_numeric, errors="coerce").astype("float64")
        text_in_numbers = numeric.isna() & frame[self.numeric_columns_].notna()
        if text_in_numbers.to_numpy().any():
            column = text_in_numbers.any().idxmax()
            value = frame.loc[text_in_numbers[column], column].iloc[0]
            raise ValueError(f"Column '{column}' must be numeric; got {value!r}. Leave the cell empty when unknown.")
        categorical = frame[self.categorical_columns_].apply(_as_text)
        return pd.concat([numeric, categorical], axis=1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_in_

    def _renamed(self, frame: pd.DataFrame) -> pd.DataFrame:
        renamed = normalize_columns(frame, self.aliases)
        return renamed.drop(columns=[c for c in self.drop_columns if c in renamed.columns])


def _label(value: Any) -> Any:
    """One category label: stripped text; a whole number (e.g. MSSubClass 20.0) as ``"20"``; missing as NaN."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _as_text(column: pd.Series) -> pd.Series:
    """:func:`_label` for a whole column, vectorized for the usual all-text and all-number columns."""
    missing = column.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        numbers = column.to_numpy(dtype="float64")
        whole = ~missing & (np.mod(numbers, 1) == 0)
        text = np.where(whole, np.nan_to_num(numbers).astype("int64").astype(str), numbers.astype(str)).astype(object)
    elif pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        text = column.astype(str).str.strip().to_numpy(dtype=object)
    else:
        text = column.map(_label).to_numpy(dtype=object)
    text[missing] = np.nan
    return pd.Series(text, index=column.index, dtype=object)


class PriceModel(KerasBytesMixin, mlflow.pyfunc.PythonModel):
    """Raw rows (a DataFrame) → sale prices in dollars: cleaning + preprocessing + regressor + inverse target.

    ``regressor`` is a Keras network or a scikit-learn estimator fitted on the preprocessed
    features and the transformed target; ``target_transformer`` is the fitted scikit-learn
    transformer of the target (identity, or log1p then standardization).
    """

    def __init__(self, preprocessor: Any, regressor: Any, target_transformer: Any) -> None:
        self.preprocessor = preprocessor
        self.regressor = regressor
        self.target_transformer = target_transformer

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        return self.predict_prices(model_input)

    def predict_prices(self, raw: pd.DataFrame) -> np.ndarray:
        """Prices in dollars (float64), one per row of ``raw``."""
        features = np.asarray(self.preprocessor.transform(raw), dtype="float32")
        if isinstance(self.regressor, keras.Model):
            # A direct call: no tf.function retracing for every new batch size (one row, a test set …).
            transformed = keras.ops.convert_to_numpy(self.regressor(features, training=False))
        else:
            transformed = self.regressor.predict(features)
        transformed = np.asarray(transformed, dtype="float64").reshape(-1, 1)
        return self.target_transformer.inverse_transform(transformed)[:, 0]

    def mlflow_signature(self) -> ModelSignature:
        """Column-based signature: every raw training column (Kaggle spelling), any type, SalePrice out.

        ``AnyType``: a raw row mixes ints, floats, text and empty cells (an int column with
        one empty cell arrives as float); the cleaner checks and casts them itself.
        """
        columns = self.preprocessor.named_steps["clean"].feature_names_in_
        return ModelSignature(
            inputs=Schema([ColSpec(AnyType(), str(name)) for name in columns]), outputs=Schema([ColSpec("double", "SalePrice")])
        )
