"""Nodes of ``image_classify``: label a folder of new pictures with a registered image classifier.

The folder is checked as training folders are (every file must decode as PNG, JPEG, GIF or
BMP; a file that does not stops the run naming it), then every picture gets a class and a
confidence from the model, with the model version that gave them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from neural_pipelines.validation import DEFAULT_MAX_PIXELS, source_of, validate_image_folder

logger = logging.getLogger(__name__)


def validate_folder(manifest: pd.DataFrame, settings: dict[str, Any]) -> pd.DataFrame:
    """Every picture of the folder decoded once (a corrupt or oversized one stops the run, named); ``file`` and ``filepath`` per picture."""
    table = validate_image_folder(
        manifest,
        classes=None,
        max_pixels=settings.get("max_pixels", DEFAULT_MAX_PIXELS),
        max_pixels_setting="`max_pixels` in conf/base/parameters_image_classify.yml",
    )
    root = Path(source_of(manifest, "."))
    files = [Path(path).relative_to(root).as_posix() if Path(path).is_relative_to(root) else Path(path).name for path in table["filepath"]]
    return table.assign(file=files)[["file", "filepath"]]


def classify_images(images: pd.DataFrame, model: Any, model_version: str) -> pd.DataFrame:
    """``file, predicted_class, confidence, model_version`` for every picture, in the folder's (sorted) order."""
    classifier = model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else model
    encoded = [Path(path).read_bytes() for path in images["filepath"]]
    labels = classifier.classify(encoded, names=images["file"].tolist())
    table = pd.DataFrame({"file": images["file"].to_numpy(), **labels.to_dict("series"), "model_version": model_version})
    logger.info(
        "Classified %d pictures with %s: %s",
        len(table),
        model_version,
        ", ".join(f"{label} {count}" for label, count in table["predicted_class"].value_counts().items()),
    )
    return table
