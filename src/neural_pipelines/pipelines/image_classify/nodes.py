"""Nodes of ``image_classify``: label a folder of new pictures with a registered image classifier.

Every file is read once and its header checked first (an image, at most ``max_pixels``), then the
classifier decodes each picture once (a file that does not decode as PNG, JPEG, GIF or BMP stops the run
naming it) and gives it a class and a confidence, with the model version that gave them.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from neural_pipelines.validation import DEFAULT_MAX_PIXELS, check_max_pixels, source_of

logger = logging.getLogger(__name__)

#: What the classifier decodes (``tf.io.decode_image``); PIL reads only these headers.
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP")


def validate_folder(manifest: pd.DataFrame, settings: dict[str, Any]) -> pd.DataFrame:
    """``file`` and encoded ``image`` of every picture, by file name; a file that is no image, or too large (``max_pixels``), stops the run.

    Each file is read once, here, and only its header is parsed (training's folder check
    decodes every file, which would decode each picture twice): the classifier decodes each
    picture once and names any that does not decode.
    """
    source = source_of(manifest, "the pictures folder")
    max_pixels = check_max_pixels(settings.get("max_pixels", DEFAULT_MAX_PIXELS), "`max_pixels` in conf/base/parameters_image_classify.yml")
    root = str(Path(source)) + os.sep
    paths = manifest["filepath"].astype(str).tolist()
    files = [Path(path[len(root) :] if path.startswith(root) else os.path.basename(path)).as_posix() for path in paths]
    images = [Path(path).read_bytes() for path in paths]
    for file, image in zip(files, images, strict=True):
        try:
            with Image.open(io.BytesIO(image), formats=IMAGE_FORMATS) as header:
                width, height = header.size
        except (OSError, SyntaxError, Image.DecompressionBombError) as error:
            raise ValueError(f"{source}: {file} is not a readable image ({error}). Fix: remove it or replace it.") from error
        if max_pixels is not None and width * height > max_pixels:
            raise ValueError(
                f"{source}: {file} has {width}×{height} pixels, more than max_pixels={max_pixels}. Fix: shrink it, or raise "
                "`max_pixels` in conf/base/parameters_image_classify.yml."
            )
    return pd.DataFrame({"file": files, "image": images}).sort_values("file", ignore_index=True)


def classify_images(images: pd.DataFrame, model: Any, model_version: str) -> pd.DataFrame:
    """``file, predicted_class, confidence, model_version`` for every picture, in the folder's (sorted) order."""
    classifier = model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else model
    labels = classifier.classify(images["image"].tolist(), names=images["file"].tolist())
    table = pd.DataFrame({"file": images["file"].to_numpy(), **labels.to_dict("series"), "model_version": model_version})
    logger.info(
        "Classified %d pictures with %s: %s",
        len(table),
        model_version,
        ", ".join(f"{label} {count}" for label, count in table["predicted_class"].value_counts().items()),
    )
    return table
