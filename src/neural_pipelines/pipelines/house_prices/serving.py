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

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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

#: Up to this many rows the cleaner works cell by cell (a served request), beyond it column by column.
FEW_ROWS = 64


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
        numbers, labels = self.arrays(frame)
        return pd.concat(
            [
                pd.DataFrame(numbers, columns=self.numeric_columns_, index=frame.index),
                pd.DataFrame(labels, columns=self.categorical_columns_, index=frame.index),
            ],
            axis=1,
        )

    def arrays(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The cleaned numeric columns (float64, NaN where empty) and category labels (object, NaN where empty), in fit order."""
        names = pd.Index([kaggle_column_name(name, self.aliases) for name in frame.columns])
        missing = [c for c in self.feature_names_in_ if c not in names]
        if missing:
            raise ValueError(
                f"Missing input columns {missing[:LISTED_COLUMNS]}{' …' if len(missing) > LISTED_COLUMNS else ''}: a raw row needs every "
                "column the model was trained on (Kaggle House Prices spelling; empty cells are fine)."
            )
        if len(frame) <= FEW_ROWS and names.is_unique:
            return self._few_arrays(frame.to_numpy(dtype=object)[:, names.get_indexer(self.feature_names_in_)])
        frame = self._renamed(frame)
        numbers = np.empty((len(frame), len(self.numeric_columns_)), dtype="float64")
        for position, column in enumerate(self.numeric_columns_):
            numbers[:, position] = _as_number(frame[column])
        labels = np.empty((len(frame), len(self.categorical_columns_)), dtype=object)
        for position, column in enumerate(self.categorical_columns_):
            labels[:, position] = _as_text(frame[column])
        return numbers, labels

    def _few_arrays(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`arrays` for a few rows (a served request) given as cells in fit order: one by one is cheaper than 80 pandas columns."""
        width = len(self.numeric_columns_)
        raw_numbers = cells[:, :width]
        numbers = pd.to_numeric(raw_numbers.ravel(), errors="coerce").astype("float64").reshape(raw_numbers.shape)
        text = np.isnan(numbers) & ~pd.isna(raw_numbers)
        if text.any():
            position, row = np.argwhere(text.T)[0]  # the first column with text, as column by column
            column, value = self.numeric_columns_[position], raw_numbers[row, position]
            raise ValueError(f"Column '{column}' must be numeric; got {value!r}. Leave the cell empty when unknown.")
        labels = np.array([_label(value) for value in cells[:, width:].ravel()], dtype=object).reshape(len(cells), -1)
        return numbers, labels

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_in_

    def _renamed(self, frame: pd.DataFrame) -> pd.DataFrame:
        renamed = normalize_columns(frame, self.aliases)
        dropped = [c for c in self.drop_columns if c in renamed.columns]
        return renamed.drop(columns=dropped) if dropped else renamed


def _as_number(column: pd.Series) -> np.ndarray:
    """A raw column as float64 (empty cells NaN); text that is not a number stops with the column and the value."""
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    text = np.isnan(numbers) & column.notna().to_numpy()
    if text.any():
        value = column[text].iloc[0]
        raise ValueError(f"Column '{column.name}' must be numeric; got {value!r}. Leave the cell empty when unknown.")
    return numbers


def _label(value: Any) -> Any:
    """One category label: stripped text; a whole number (e.g. MSSubClass 20.0) as ``"20"``; missing as NaN."""
    if isinstance(value, str):
        return value.strip()
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return np.nan
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _as_text(column: pd.Series) -> np.ndarray:
    """:func:`_label` for a whole column (object array), vectorized for the usual all-text and all-number columns."""
    missing = column.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        numbers = column.to_numpy(dtype="float64", na_value=np.nan)
        whole = ~missing & (np.mod(numbers, 1) == 0)
        text = np.where(whole, np.nan_to_num(numbers).astype("int64").astype(str), numbers.astype(str)).astype(object)
    elif pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        text = column.astype(str).str.strip().to_numpy(dtype=object)
    else:
        text = column.map(_label).to_numpy(dtype=object)
    text[missing] = np.nan
    return text


@dataclass(frozen=True)
class EncodingArithmetic:
    """The fitted ``encode`` step (median / most-frequent imputation, standardization, one-hot) as array arithmetic.

    scikit-learn's ``ColumnTransformer.transform`` checks and splits every column on every
    call: ~20 ms for one house, most of a served request. The numbers here are read from the
    fitted scikit-learn objects, so fitting (and the training arrays) stay scikit-learn's;
    :meth:`of` gives ``None`` for any setting this does not reproduce, and the model then
    keeps calling scikit-learn. A test checks both give the same features on every training row.
    """

    numeric_kept: np.ndarray  # positions of the numeric columns the imputer keeps (not all-empty in training)
    numeric_fill: np.ndarray
    mean: np.ndarray | None
    scale: np.ndarray | None
    label_kept: np.ndarray
    label_fill: np.ndarray
    codes: tuple[dict[str, int], ...]  # per categorical column: category → its position in the one-hot block
    offsets: tuple[int, ...]
    one_hot_width: int

    @classmethod
    def of(cls, encode: Any, numeric_columns: Sequence[str], categorical_columns: Sequence[str]) -> EncodingArithmetic | None:
        """The arithmetic of a fitted ``ColumnTransformer`` built by ``fit_preprocessing``, or ``None`` if it is another one."""
        steps = {name: (transformer, list(columns)) for name, transformer, columns in encode.transformers_ if name != "remainder"}
        expected = {"numeric": list(numeric_columns)} | ({"categorical": list(categorical_columns)} if len(categorical_columns) else {})
        if {name: columns for name, (_, columns) in steps.items()} != expected or encode.sparse_output_:
            return None
        numeric = steps["numeric"][0].named_steps
        if set(numeric) - {"impute", "standardize"} or not _plain_imputer(numeric["impute"], ("mean", "median")):
            return None
        numeric_kept, numeric_fill = _kept(numeric["impute"], numeric_columns)
        scaler = numeric.get("standardize")
        label_kept, label_fill, categories = np.arange(0), np.empty(0, dtype=object), []
        if "categorical" in steps:
            categorical = steps["categorical"][0].named_steps
            one_hot = categorical.get("one_hot")
            if (
                list(categorical) != ["impute", "one_hot"]
                or not _plain_imputer(categorical["impute"], ("most_frequent", "constant"))
                or one_hot.drop is not None
                or one_hot.handle_unknown != "ignore"
                or one_hot.min_frequency is not None
                or one_hot.max_categories is not None
            ):
                return None
            label_kept, label_fill = _kept(categorical["impute"], categorical_columns)
            categories = [list(values) for values in one_hot.categories_]
        return cls(
            numeric_kept=numeric_kept,
            numeric_fill=numeric_fill.astype("float64"),
            mean=None if scaler is None or scaler.mean_ is None else scaler.mean_,
            scale=None if scaler is None or scaler.scale_ is None else scaler.scale_,
            label_kept=label_kept,
            label_fill=label_fill,
            codes=tuple({str(category): code for code, category in enumerate(values)} for values in categories),
            offsets=tuple(int(offset) for offset in np.cumsum([0, *map(len, categories)])[:-1]),
            one_hot_width=sum(map(len, categories)),
        )

    def transform(self, numbers: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The model's input (float32) from the cleaner's arrays: imputed, standardized numbers, then one-hot labels."""
        numbers = numbers[:, self.numeric_kept]
        numbers = np.where(np.isnan(numbers), self.numeric_fill, numbers)
        if self.mean is not None:
            numbers = numbers - self.mean
        if self.scale is not None:
            numbers = numbers / self.scale
        labels = labels[:, self.label_kept]
        one_hot = np.zeros((len(labels), self.one_hot_width), dtype="float64")
        for position, (offset, codes) in enumerate(zip(self.offsets, self.codes, strict=True)):
            fill = self.label_fill[position]
            for row, label in enumerate(labels[:, position]):
                code = codes.get(label if isinstance(label, str) else fill, -1)  # an unseen category: all zeros (handle_unknown="ignore")
                if code >= 0:
                    one_hot[row, offset + code] = 1.0
        blocks = [numbers, one_hot]
        return np.hstack(blocks).astype("float32")


def _plain_imputer(imputer: Any, strategies: Sequence[str]) -> bool:
    """A SimpleImputer that fills NaN cells with one fitted value per column, and nothing else."""
    missing = imputer.missing_values
    return (
        imputer.strategy in strategies
        and isinstance(missing, float)
        and np.isnan(missing)
        and not imputer.add_indicator
        and not imputer.keep_empty_features
    )


def _kept(imputer: Any, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the columns a fitted imputer outputs (it drops all-empty ones) and their fill values."""
    kept = set(imputer.get_feature_names_out(np.asarray(columns, dtype=object)))
    positions = np.array([position for position, column in enumerate(columns) if column in kept], dtype="int64")
    return positions, np.asarray(imputer.statistics_, dtype=object)[positions]


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

    def features(self, raw: pd.DataFrame) -> np.ndarray:
        """The regressor's input (float32) for raw rows: the fitted preprocessing, as arithmetic where it can be."""
        arithmetic = self.encoding_arithmetic
        if arithmetic is None:
            return np.asarray(self.preprocessor.transform(raw), dtype="float32")
        return arithmetic.transform(*self.preprocessor.named_steps["clean"].arrays(raw))

    @functools.cached_property
    def encoding_arithmetic(self) -> EncodingArithmetic | None:
        """:class:`EncodingArithmetic` of the fitted preprocessing (not pickled: read again from it after loading)."""
        clean = self.preprocessor.named_steps["clean"]
        return EncodingArithmetic.of(self.preprocessor.named_steps["encode"], clean.numeric_columns_, clean.categorical_columns_)

    def predict_prices(self, raw: pd.DataFrame) -> np.ndarray:
        """Prices in dollars (float64), one per row of ``raw``."""
        features = self.features(raw)
        if isinstance(self.regressor, keras.Model):
            # Keras' compiled predict step, without predict()'s per-call dataset and callbacks (~4 ms per request).
            transformed = self.regressor.predict_on_batch(features)
        else:
            transformed = self.regressor.predict(features)
        transformed = np.asarray(transformed, dtype="float64").reshape(-1, 1)
        return self.target_transformer.inverse_transform(transformed)[:, 0]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("encoding_arithmetic", None)
        return state

    def mlflow_signature(self) -> ModelSignature:
        """Column-based signature: every raw training column (Kaggle spelling), any type, SalePrice out.

        ``AnyType``: a raw row mixes ints, floats, text and empty cells (an int column with
        one empty cell arrives as float); the cleaner checks and casts them itself.
        """
        columns = self.preprocessor.named_steps["clean"].feature_names_in_
        return ModelSignature(
            inputs=Schema([ColSpec(AnyType(), str(name)) for name in columns]), outputs=Schema([ColSpec("double", "SalePrice")])
        )
