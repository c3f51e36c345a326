"""Nodes of ``image_classify``: label a folder of new pictures with a registered image classifier.

Every file's header is checked first (an image, at most ``max_pixels``), then the classifier
decodes each picture once (a file that does not decode as PNG, JPEG, GIF or BMP stops the run
naming it) and gives it a class and a confidence, with the model version that gave them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from neural_pipelines.validation import DEFAULT_MAX_PIXELS, check_max_pixels, source_of

logger = logging.getLogger(__name__)


def validate_folder(manifest: pd.DataFrame, settings: dict[str, Any]) -> pd.DataFrame:
    """``file`` and ``filepath`` of every picture; a file whose header is no image, or too large (``max_pixels``), stops the run.

    Only headers are read here (training's folder check decodes every file, which would decode
    each picture twice): the classifier decodes each file once and names any that does not decode.
    """
    source = source_of(manifest, "the pictures folder")
    max_pixels = check_max_pixels(settings.get("max_pixels", DEFAULT_MAX_PIXELS), "`max_pixels` in conf/base/parameters_image_classify.yml")
    root = Path(source)
    for path in manifest["filepath"]:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (OSError, SyntaxError, Image.DecompressionBombError) as error:
            raise ValueError(f"{source}: {Path(path).name} is not a readable image ({error}). Fix: remove it or replace it.") from error
        if max_pixels is not None and width * height > max_pixels:
            raise ValueError(
                f"{source}: {Path(path).name} has {width}×{height} pixels, more than max_pixels={max_pixels}. Fix: shrink it, or raise "
                "`max_pixels` in conf/base/parameters_image_classify.yml."
            )
    files = [
        Path(path).relative_to(root).as_posix() if Path(path).is_relative_to(root) else Path(path).name for path in manifest["filepath"]
    ]
    return pd.DataFrame({"file": files, "filepath": manifest["filepath"].astype(str).to_numpy()}).sort_values("file", ignore_index=True)


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
