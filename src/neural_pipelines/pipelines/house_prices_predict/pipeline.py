"""Wiring of ``house_prices_predict``: a CSV of houses without prices → a versioned ``Id,SalePrice`` CSV.

Loads the registered model (``house_prices_predict.model_uri``: the champion unless told
otherwise), then prices every house. Not part of ``__default__``: it needs a registered
``house_prices`` model and a table of new houses (``data/01_raw/house_prices/test.csv``).
"""

from kedro.pipeline import Pipeline

from neural_pipelines.pipelines.house_prices_predict import nodes
from neural_pipelines.pipelines.variants import step
from neural_pipelines.registry import load_registered_model


def create_pipeline(**kwargs) -> Pipeline:
    """Load the model → price the houses."""
    return Pipeline(
        [
            step(
                load_registered_model,
                "params:house_prices_predict.model_uri",
                ["house_prices_predict.model", "house_prices_predict.model_version"],
            ),
            step(
                nodes.price_houses,
                ["house_prices_predict.houses", "house_prices_predict.model", "params:house_prices_predict"],
                "house_prices_predict.submission",
            ),
        ]
    )
