"""Input validation shared by every ingest node: errors that name the file, the field and the fix."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
from PIL import Image

logger = logging.getLogger(__name__)


class DataValidationError(ValueError):
    """Bad input data. The message names the file, the field, the problem and the fix."""

    def __init__(self, source: str, field: str, problem: str, fix: str) -> None:
        self.source, self.field, self.problem, self.fix = source, field, problem, fix
        super().__init__(f"{source}: column '{field}': {problem}. Fix: {fix}")


def source_of(frame: Any, default: str = "input data") -> str:
    """The file a loaded table came from (set by ``DataSourceHook``), for error messages."""
    return str(getattr(frame, "attrs", {}).get("source", default))


def examples(rows: Iterable[Any], values: Iterable[Any] | None = None, limit: int = 5, noun: str = "rows") -> str:
    """``rows 3, 7 (values 'abc', 'x')`` for the first few offending rows, to quote in an error."""
    rows = list(rows)
    shown = ", ".join(str(row) for row in rows[:limit]) + (f" … ({len(rows)} in all)" if len(rows) > limit else "")
    if values is None:
        return f"{noun} {shown}"
    values = list(values)[:limit]
    return f"{noun} {shown} (values {', '.join(repr(value) for value in values)})"


# --- image folders ------------------------------------------------------------------

#: How many offending files an error message lists before "… (n in all)".
LISTED_FILES = 5


#: The formats training reads: ``tf.io.decode_image`` in ``tf.data`` (``training/tfdata.py``).
#: PIL opens more (TIFF, ICO, PPM …): such a file would pass a PIL-only check and then stop
#: ``model.fit`` inside ``tf.data`` without naming the file. WebP is left out too: TensorFlow
#: 2.21 decodes still WebP but rejects animated ones. CMYK JPEGs decode in TensorFlow (as RGB) and pass.
TENSORFLOW_FORMATS = frozenset({"PNG", "JPEG", "GIF", "BMP"})
_FORMAT_PROBLEM = f"not a format training reads with TensorFlow ({', '.join(sorted(TENSORFLOW_FORMATS))})"


def decode_problem(filepath: str) -> tuple[str | None, str | None]:
    """``(PIL mode, None)`` if the file decodes completely in a format TensorFlow reads, else ``(None, why not)``.

    ``Image.load()`` decodes every pixel, so a truncated file fails here, not only one with
    a broken header (``Image.verify()`` would miss the truncation). PIL detects the format
    from the content, so a TIFF named ``.jpg`` is still reported as a TIFF.
    """
    try:
        with Image.open(filepath) as image:
            mode, image_format = image.mode, image.format
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return None, f"{type(err).__name__}: {err}"
    if image_format not in TENSORFLOW_FORMATS:
        return None, f"{image_format} image: {_FORMAT_PROBLEM}"
    return mode, None


def _listed(paths: list[str]) -> str:
    """The first few paths, then how many there are in all."""
    shown = ", ".join(paths[:LISTED_FILES])
    return shown + (f" … ({len(paths)} in all)" if len(paths) > LISTED_FILES else "")


def _check_folders(frame: pd.DataFrame, classes: Sequence[str], splits: Sequence[str], source: str) -> pd.DataFrame:
    """Keep the configured splits; every configured split and class folder must hold images, and no other class may."""
    other_splits = sorted(set(frame["split"]) - set(splits))
    if other_splits:
        logger.warning("%s: ignoring split folders %s (parameters list only %s)", source, other_splits, list(splits))
        frame = frame[frame["split"].isin(splits)]
    missing_splits = [split for split in splits if split not in set(frame["split"])]
    if missing_splits:
        raise DataValidationError(
            source,
            "split",
            f"no images in split folder(s) {_listed([f'{source}/{split}/' for split in missing_splits])}",
            f"put each split in its own folder <split>/<class>/<image> (splits: {', '.join(splits)})",
        )
    unknown = sorted(
        {f"{source}/{split}/{name}/" for split, name in zip(frame["split"], frame["class_name"], strict=False) if name not in classes}
    )
    if unknown:
        raise DataValidationError(
            source,
            "class_name",
            f"class folder(s) {_listed(unknown)} are not among the classes {list(classes)}",
            "remove or rename those folders, or add the class to the pipeline's `classes` parameter",
        )
    _check_every_class_present(frame, classes, splits, source)
    return frame


def _check_every_class_present(frame: pd.DataFrame, classes: Sequence[str], splits: Sequence[str], source: str) -> None:
    """Every class needs at least one image in every split (training and evaluation both need all classes)."""
    present = set(zip(frame["split"], frame["class_name"], strict=False))
    empty = [f"{source}/{split}/{name}/" for split in splits for name in classes if (split, name) not in present]
    if empty:
        raise DataValidationError(
            source,
            "class_name",
            f"no (readable) images in {_listed(empty)}",
            "every split needs the same classes, each with at least one image: add images there",
        )


def _decode_all(frame: pd.DataFrame, source: str, skip_corrupt: bool) -> pd.DataFrame:
    """Decode every file; add its PIL ``mode``; stop on (or, with ``skip_corrupt``, drop and log) files training cannot decode.

    Those are corrupt files and images in a format TensorFlow does not read (``TENSORFLOW_FORMATS``).
    """
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL decodes outside the GIL
        outcomes = list(pool.map(decode_problem, frame["filepath"]))
    frame = frame.assign(mode=[mode for mode, _ in outcomes])
    problems = {path: problem for path, (_, problem) in zip(frame["filepath"], outcomes, strict=False) if problem is not None}
    if problems and not skip_corrupt:
        first = next(iter(problems.items()))
        other_formats = [path for path, problem in problems.items() if problem.endswith(_FORMAT_PROBLEM)]
        formats = f"; {len(other_formats)} of them in a format TensorFlow does not read: {_listed(other_formats)}" if other_formats else ""
        raise DataValidationError(
            source,
            "filepath",
            f"{len(problems)} file(s) cannot be decoded as images: {_listed(list(problems))} (first: {first[1]}){formats}",
            "delete or replace those files (convert images in other formats, e.g. TIFF or WebP, to PNG or JPEG), "
            "or set `skip_corrupt: true` in the pipeline's parameters to leave them out (each skipped file is logged)",
        )
    for path, problem in problems.items():
        logger.warning("Skipping image %s that training cannot decode (%s): skip_corrupt is true", path, problem)
    return frame[frame["mode"].notna()]


def validate_image_folder(
    manifest: pd.DataFrame, classes: Sequence[str] | None = None, splits: Sequence[str] | None = None, skip_corrupt: bool = False
) -> pd.DataFrame:
    """Check an ``ImageFolderDataset`` manifest: folders as configured and every file decodable, by PIL and by TensorFlow.

    Args:
        manifest: ``split``, ``class_name``, ``filepath`` per image (``attrs["source"]``: the folder).
        classes: class folder names; label ``i`` is ``classes[i]``. ``None`` for a flat folder
            of unlabeled images (then ``splits`` is ignored and no ``label`` column is added).
        splits: split folders to keep (e.g. ``train``, ``validation``); others are ignored (logged).
        skip_corrupt: leave undecodable files (corrupt, or in a format TensorFlow does not read:
            only PNG, JPEG, GIF and BMP pass) out, one WARNING each, instead of stopping.

    Returns:
        The manifest's rows that passed (index reset), plus ``mode`` (the file's PIL mode:
        RGB, RGBA, L, P … — every one is read as RGB later) and, with classes, ``label``.
    """
    source = source_of(manifest, "image folder")
    frame = manifest
    if classes is not None:
        frame = _check_folders(frame, list(classes), list(splits or []), source)
    frame = _decode_all(frame, source, skip_corrupt)
    if classes is not None:
        _check_every_class_present(frame, list(classes), list(splits or []), source)
        frame = frame.assign(label=frame["class_name"].map({name: index for index, name in enumerate(classes)}).astype("int64"))
    frame = frame.reset_index(drop=True)
    frame.attrs["source"] = source
    logger.info(
        "%s: %d images pass validation (modes: %s)",
        source,
        len(frame),
        ", ".join(f"{mode} {count}" for mode, count in frame["mode"].value_counts().items()),
    )
    return frame
