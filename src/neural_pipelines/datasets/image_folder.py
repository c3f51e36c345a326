"""``ImageFolderDataset``: a folder of image files in the ``<split>/<class>/<file>`` layout.

The course's image datasets (horse-or-human, cats_and_dogs_filtered) are folders of JPEG or
PNG files, one folder per split and class. Loading returns a *manifest* — one row per image
file — not the pixels: decoding, checking and resizing happen later (``validation`` decodes
every file once to check it, ``training.tfdata`` streams them into TensorFlow), so loading
a folder of thousands of photos is instant and never holds them all in memory.

Saving (used by the ``sample_images`` generator) writes PNG files into a temporary sibling
folder that then replaces the target, so a crash never leaves a half-written dataset that
a later run would trust. Downloaded data (``archives`` set) is read-only.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from PIL import Image

logger = logging.getLogger(__name__)

LAYOUTS = {"splits": 3, "flat": 1}  # layout -> path parts of an image below the root: split/class/file or file
COLUMNS = ["split", "class_name", "filepath"]
IMAGE_CHANNELS = (1, 3, 4)  # grayscale, RGB, RGBA


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 ``(H, W)`` or ``(H, W, 1 | 3 | 4)`` array as PNG bytes (the same array gives the same bytes)."""
    if image.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in IMAGE_CHANNELS)):
        raise ValueError(f"expected an (H, W) or (H, W, 3 | 4) image, got shape {image.shape}")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


class ImageFolderDataset(AbstractDataset[Mapping[str, np.ndarray], pd.DataFrame]):
    """Lists the images under ``path``; saves ``{relative path: uint8 array}`` as PNG files.

    Example catalog entries::

        horse_or_human.raw_images@folder:          # <path>/<split>/<class>/<file>
          type: neural_pipelines.datasets.ImageFolderDataset
          path: data/01_raw/sample_images/horse_or_human
          missing_hint: run `kedro run --pipeline=sample_images` first
          metadata: {data_source: generated, dataset: horse_or_human_sample, kedro-viz: {layer: raw}}

        vgg16_finetune.new_images@folder:          # <path>/<file>: pictures without labels
          type: neural_pipelines.datasets.ImageFolderDataset
          path: data/01_raw/sample_images/vgg16_finetune_new
          layout: flat

    Args:
        path: the dataset's root folder.
        layout: ``splits`` (``<split>/<class>/<file>``) or ``flat`` (``<file>``, no labels).
        extensions: image file name endings that are listed (case-insensitive); other files
            are ignored and counted in the log.
        archives: downloaded zips to extract into ``path`` before listing it (full
            environment; see ``datasets/archive.py``). Makes the dataset read-only.
        missing_hint: appended to the error when the folder is missing or has no images
            (what the user should run or download).
    """

    def __init__(
        self,
        path: str,
        *,
        layout: str = "splits",
        extensions: Sequence[str] = ("png", "jpg", "jpeg"),
        archives: list[dict[str, Any]] | None = None,
        missing_hint: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if layout not in LAYOUTS:
            raise DatasetError(f"ImageFolderDataset layout must be one of {', '.join(LAYOUTS)}, got {layout!r}.")
        self._path = Path(path)
        self._filepath = self._path  # where DataSourceHook and MLflow provenance look
        self._layout = layout
        self._extensions = {extension.lower().lstrip(".") for extension in extensions}
        self._archives = list(archives or [])
        self._missing_hint = missing_hint
        self.metadata = metadata

    # --- loading --------------------------------------------------------------------

    def _hint(self) -> str:
        return f" Fix: {self._missing_hint}." if self._missing_hint else ""

    def _is_image(self, name: str) -> bool:
        return os.path.splitext(name)[1].lower().lstrip(".") in self._extensions

    def _rows(self) -> tuple[list[tuple[str | None, str | None, str]], int]:
        """``(split, class, filepath)`` of every image at the layout's depth, and how many other files there are."""
        depth = LAYOUTS[self._layout]
        rows: list[tuple[str | None, str | None, str]] = []
        ignored = 0
        for folder, _, files in os.walk(self._path):  # os.walk: one scandir per folder, no stat per file (10,000 files in ~0.05 s)
            parents = Path(folder).relative_to(self._path).parts
            for name in files:
                parts = (*parents, name)
                if len(parts) != depth or not self._is_image(name) or any(part.startswith(".") for part in parts):
                    ignored += 1
                    continue
                split, class_name = (parts[0], parts[1]) if depth == LAYOUTS["splits"] else (None, None)
                rows.append((split, class_name, os.path.join(folder, name)))
        return rows, ignored

    def load(self) -> pd.DataFrame:
        if self._archives:
            from neural_pipelines.datasets.archive import ensure_extracted

            ensure_extracted(self._archives, root=self._path, downloads=self._path.parent / "downloads")
        if not self._path.is_dir():
            raise DatasetError(f"Image folder {self._path} does not exist.{self._hint()}")
        rows, ignored = self._rows()
        if not rows:
            expected = "<split>/<class>/<image>" if self._layout == "splits" else "<image>"
            raise DatasetError(
                f"Image folder {self._path} has no images laid out as {expected} "
                f"with extension {', '.join(sorted(self._extensions))} ({ignored} other files).{self._hint()}"
            )
        frame = pd.DataFrame(rows, columns=COLUMNS)
        frame = frame.sort_values(COLUMNS, na_position="first", ignore_index=True)
        frame.attrs["source"] = str(self._path)
        logger.info(
            "%s: %d images%s; %d other files ignored",
            self._path,
            len(frame),
            "" if self._layout == "flat" else f" in {frame.groupby(['split', 'class_name']).ngroups} split/class folders",
            ignored,
        )
        return frame

    # --- saving ---------------------------------------------------------------------

    def _checked_target(self, key: str) -> PurePosixPath:
        """``key`` as a relative ``.png`` path at the layout's depth (so what is saved can be loaded)."""
        relative = PurePosixPath(key)
        depth = LAYOUTS[self._layout]
        if relative.is_absolute() or ".." in relative.parts or len(relative.parts) != depth or relative.suffix.lower() != ".png":
            expected = "<split>/<class>/<name>.png" if self._layout == "splits" else "<name>.png"
            raise DatasetError(f"ImageFolderDataset ({self._layout} layout) saves keys like {expected}, got {key!r}.")
        return relative

    def save(self, data: Mapping[str, np.ndarray]) -> None:
        if self._archives:
            raise DatasetError(f"{self._path} holds downloaded data (archives are configured); it is read-only.")
        targets = {self._checked_target(key): image for key, image in data.items()}
        if not targets:
            raise DatasetError(f"Nothing to save into {self._path}: the image dict is empty.")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        staging = self._path.with_name(f".{self._path.name}.saving-{uuid.uuid4().hex[:8]}")
        try:
            for relative, image in targets.items():
                file = staging / relative
                file.parent.mkdir(parents=True, exist_ok=True)
                try:
                    file.write_bytes(png_bytes(np.asarray(image)))
                except ValueError as err:
                    raise DatasetError(f"Cannot save image {relative} into {self._path}: {err}.") from err
            self._swap_in(staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.info("%s: wrote %d PNG images", self._path, len(targets))

    def _swap_in(self, staging: Path) -> None:
        """Replace ``path`` by the completely written ``staging`` folder (two renames; the old one is then deleted)."""
        retired = self._path.with_name(f".{self._path.name}.old-{uuid.uuid4().hex[:8]}")
        if self._path.exists():
            os.replace(self._path, retired)
        os.replace(staging, self._path)
        shutil.rmtree(retired, ignore_errors=True)

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "layout": self._layout, "archives": len(self._archives)}
