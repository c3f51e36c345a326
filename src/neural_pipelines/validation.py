"""Input validation shared by every ingest node: errors that name the file, the field and the fix."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
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


#: Default of the ``max_pixels`` settings (``ingest.max_pixels``): 25 megapixels, e.g. 5000×5000.
#: Far above what the pipelines resize to, far below what a decoded image may take in memory
#: (an RGB image needs 3 bytes a pixel, TensorFlow's float copy 12).
DEFAULT_MAX_PIXELS = 25_000_000
_TOO_LARGE = "more than max_pixels"


def check_max_pixels(value: Any, setting: str) -> int | None:
    """A ``max_pixels`` setting as given (a positive whole number, or ``None``: no limit); else ``ValueError`` naming it."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(
        f"{setting} is {value!r}: it must be a whole number of pixels (width × height) of at least 1, "
        f"e.g. {DEFAULT_MAX_PIXELS} (the default), or null for no limit."
    )


# --- PIL's own checks and warnings while images are opened ---------------------------------
#
# Opening runs in a thread pool (``_decode_all``), and ``warnings.catch_warnings`` is not
# thread-safe before Python 3.14: it saves and restores the process-wide ``warnings.filters``
# and ``warnings.showwarning``, so one context per worker thread would interleave and could
# leave them changed for good (e.g. every later warning swallowed). So ONE context is entered
# for all the opens in flight, by whichever thread opens first, and left by the last one out
# (a counter under a lock). Inside it ``showwarning`` routes a warning raised in a thread that
# is opening an image (recorded per thread in ``_opening``) to this module's logger with that
# file's path; warnings of other threads go where they went before. PIL's warnings are set to
# "always" so every file's warning is logged, not only the first with the same text.
#
# PIL's decompression-bomb check runs inside ``Image.open`` itself, before the caller can read
# the size: it warns above ``Image.MAX_IMAGE_PIXELS`` (89 megapixels) and refuses twice that,
# whatever ``max_pixels`` says. ``decode_problem`` checks the size from the header before
# decoding a pixel, so PIL's check is switched off (``MAX_IMAGE_PIXELS = None``) for the same
# window and restored after: the configured ``max_pixels`` is the one limit (null: none), and
# its error names the file, the size and the setting. The price: another thread of this
# process opening an image with PIL during validation is not guarded by PIL's limit then.

_opening = threading.local()  # .path: the image this thread is opening
_window_lock = threading.Lock()
_window: dict[str, Any] = {"users": 0, "stack": None}


def _log_warning(
    message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None, *, previous: Any
) -> None:
    path = getattr(_opening, "path", None)
    if path is None:
        previous(message, category, filename, lineno, file, line)
    else:
        logger.warning("%s: %s while opening it: %s", path, category.__name__, message)


@contextmanager
def _opening_images() -> Iterator[None]:
    """While any thread is inside: PIL's bomb check off, warnings of threads opening an image logged (see above)."""
    with _window_lock:
        if _window["users"] == 0:
            stack = ExitStack()
            stack.enter_context(warnings.catch_warnings())  # restores showwarning and the filters on close
            warnings.showwarning = partial(_log_warning, previous=warnings.showwarning)
            warnings.filterwarnings("always", module=r"PIL(\.|$)")
            stack.callback(setattr, Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
            Image.MAX_IMAGE_PIXELS = None
            _window["stack"] = stack
        _window["users"] += 1
    try:
        yield
    finally:
        with _window_lock:
            _window["users"] -= 1
            if _window["users"] == 0:
                stack, _window["stack"] = _window["stack"], None
                stack.close()


def decode_problem(filepath: str, max_pixels: int | None = None) -> tuple[str | None, str | None]:
    """``(PIL mode, None)`` if the file decodes completely in a format TensorFlow reads, else ``(None, why not)``.

    ``Image.load()`` decodes every pixel, so a truncated file fails here, not only one with
    a broken header (``Image.verify()`` would miss the truncation). PIL detects the format
    from the content, so a TIFF named ``.jpg`` is still reported as a TIFF.

    An image with more than ``max_pixels`` pixels (width × height, read from the header) is
    a problem too, found before any pixel is decoded; ``None``: no limit. PIL's own
    decompression-bomb limit is off meanwhile, and the warnings PIL raises while opening
    the file are logged with its path (WARNING) instead of printed (see ``_opening_images``).
    """
    _opening.path = str(filepath)
    try:
        with _opening_images(), Image.open(filepath) as image:
            mode, image_format = image.mode, image.format
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                return None, f"{width}×{height} = {width * height:,} pixels, {_TOO_LARGE} ({max_pixels:,})"
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return None, f"{type(err).__name__}: {err}"
    finally:
        _opening.path = None
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


def _refusal(
    source: str, undecodable: dict[str, str], too_large: dict[str, str], max_pixels: int | None, max_pixels_setting: str
) -> DataValidationError:
    """The error for files that cannot be decoded and images above ``max_pixels``: each file, why, and the fixes."""
    found, fixes = [], []
    if undecodable:
        first = next(iter(undecodable.values()))
        other_formats = [path for path, problem in undecodable.items() if problem.endswith(_FORMAT_PROBLEM)]
        formats = f"; {len(other_formats)} of them in a format TensorFlow does not read: {_listed(other_formats)}" if other_formats else ""
        found.append(f"{len(undecodable)} file(s) cannot be decoded as images: {_listed(list(undecodable))} (first: {first}){formats}")
        fixes.append("delete or replace those files (convert images in other formats, e.g. TIFF or WebP, to PNG or JPEG)")
    if too_large:
        sizes = [f"{path} ({problem.split(', ' + _TOO_LARGE)[0]})" for path, problem in too_large.items()]
        found.append(f"{len(too_large)} image(s) larger than max_pixels = {max_pixels:,} pixels (width × height): {_listed(sizes)}")
        fixes.append(
            f"resize those images to at most {max_pixels:,} pixels, or raise {max_pixels_setting} "
            "(or override it in conf/local/; null: no limit)"
        )
    return DataValidationError(
        source,
        "filepath",
        "; ".join(found),
        "; ".join(fixes) + ", or set `skip_corrupt: true` in the pipeline's parameters to leave them out (each skipped file is logged)",
    )


def _decode_all(frame: pd.DataFrame, source: str, skip_corrupt: bool, max_pixels: int | None, max_pixels_setting: str) -> pd.DataFrame:
    """Decode every file; add its PIL ``mode``; stop on (or, with ``skip_corrupt``, drop and log) files training cannot decode.

    Those are corrupt files, images in a format TensorFlow does not read (``TENSORFLOW_FORMATS``)
    and images with more than ``max_pixels`` pixels (never decoded).
    """
    with _opening_images(), ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL decodes outside the GIL
        outcomes = list(pool.map(partial(decode_problem, max_pixels=max_pixels), frame["filepath"]))
    frame = frame.assign(mode=[mode for mode, _ in outcomes])
    problems = {path: problem for path, (_, problem) in zip(frame["filepath"], outcomes, strict=False) if problem is not None}
    too_large = {path: problem for path, problem in problems.items() if _TOO_LARGE in problem}
    undecodable = {path: problem for path, problem in problems.items() if path not in too_large}
    if problems and not skip_corrupt:
        raise _refusal(source, undecodable, too_large, max_pixels, max_pixels_setting)
    for path, problem in undecodable.items():
        logger.warning("Skipping image %s that training cannot decode (%s): skip_corrupt is true", path, problem)
    for path, problem in too_large.items():
        logger.warning("Skipping image %s: %s, set by %s (skip_corrupt is true)", path, problem, max_pixels_setting)
    return frame[frame["mode"].notna()]


def validate_image_folder(
    manifest: pd.DataFrame,
    classes: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
    skip_corrupt: bool = False,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_pixels_setting: str = "`max_pixels` in the pipeline's parameters",
) -> pd.DataFrame:
    """Check an ``ImageFolderDataset`` manifest: folders as configured and every file decodable, by PIL and by TensorFlow.

    Args:
        manifest: ``split``, ``class_name``, ``filepath`` per image (``attrs["source"]``: the folder).
        classes: class folder names; label ``i`` is ``classes[i]``. ``None`` for a flat folder
            of unlabeled images (then ``splits`` is ignored and no ``label`` column is added).
        splits: split folders to keep (e.g. ``train``, ``validation``); others are ignored (logged).
        skip_corrupt: leave undecodable files (corrupt, or in a format TensorFlow does not read:
            only PNG, JPEG, GIF and BMP pass; or larger than ``max_pixels``) out, one WARNING
            each, instead of stopping.
        max_pixels: the most pixels (width × height) an image may have, checked from its
            header before it is decoded; ``None``: no limit. PIL's own decompression-bomb
            limit does not apply meanwhile; PIL's warnings are logged with the file's path.
        max_pixels_setting: where ``max_pixels`` is set, for the error's fix (e.g.
            "`horse_or_human.ingest.max_pixels` in conf/base/parameters_horse_or_human.yml").

    Returns:
        The manifest's rows that passed (index reset), plus ``mode`` (the file's PIL mode:
        RGB, RGBA, L, P … — every one is read as RGB later) and, with classes, ``label``.
    """
    source = source_of(manifest, "image folder")
    max_pixels = check_max_pixels(max_pixels, max_pixels_setting)
    frame = manifest
    if classes is not None:
        frame = _check_folders(frame, list(classes), list(splits or []), source)
    frame = _decode_all(frame, source, skip_corrupt, max_pixels, max_pixels_setting)
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
