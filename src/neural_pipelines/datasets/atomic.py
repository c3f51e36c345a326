"""All-or-nothing saves for versioned datasets: a new version appears complete or not at all.

Kedro datasets write a new version straight to its final path, and every later load picks
the newest version that exists. A save that fails midway (a full disk, a kill, a crash inside
the writer) would leave a truncated file there — the newest version, read by the next run or
node as if it were good. :class:`AtomicSaveMixin` writes the version under a ``.partial``
name, which no load matches, and renames it into place once the writer has finished. A
failed save removes its ``.partial`` and keeps every earlier version as it was.

The kedro-datasets classes the catalog writes versions with are offered here in that form
(``neural_pipelines.datasets.atomic.JSONDataset`` …); the project's own datasets (``.keras``
models, ``.npz`` arrays, pyfunc model folders) use the mixin directly.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from kedro.io.core import get_filepath_str
from kedro_datasets.json import JSONDataset as _JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset as _MatplotlibDataset
from kedro_datasets.pandas import CSVDataset as _CSVDataset
from kedro_datasets.pandas import ParquetDataset as _ParquetDataset
from kedro_datasets.pickle import PickleDataset as _PickleDataset
from kedro_datasets.text import TextDataset as _TextDataset

#: Suffix of a version still being written; Kedro's version lookup (``<file>/*/<name>``) never matches it.
PARTIAL_SUFFIX = ".partial"


class AtomicSaveMixin:
    """Put first in a versioned dataset's bases: its ``save`` writes to ``<path>.partial``, then renames.

    The dataset's own ``save`` runs unchanged, with :meth:`_get_save_path` pointing at the
    partial path; Kedro's wrapper (logging, version checks) stays around the whole.
    """

    # The type-ignores below: a mixin, whose _get_save_path, save, _protocol and _fs are the
    # dataset's that follows it in the bases.
    _saving_partial = False

    def _get_save_path(self) -> PurePosixPath:
        path = super()._get_save_path()  # type: ignore[misc]  # the dataset's (see above)
        return path.with_name(path.name + PARTIAL_SUFFIX) if self._saving_partial else path

    def save(self, data: Any) -> None:
        final = get_filepath_str(self._get_save_path(), self._protocol)  # type: ignore[attr-defined]  # the dataset's
        partial = final + PARTIAL_SUFFIX
        dataset_save = super().save  # type: ignore[misc]  # the dataset's
        unwrapped = getattr(dataset_save, "__wrapped__", None)  # the writer itself, without Kedro's wrapper a second time
        self._saving_partial = True
        try:
            unwrapped(self, data) if unwrapped else dataset_save(data)
        except BaseException:
            if self._fs.exists(partial):  # type: ignore[attr-defined]  # the dataset's
                self._fs.rm(partial, recursive=True)  # type: ignore[attr-defined]  # the dataset's
            raise
        finally:
            self._saving_partial = False
        self._fs.mv(partial, final, recursive=True)  # type: ignore[attr-defined]  # the dataset's


class JSONDataset(AtomicSaveMixin, _JSONDataset):
    """``json.JSONDataset``, saved all-or-nothing."""


class CSVDataset(AtomicSaveMixin, _CSVDataset):
    """``pandas.CSVDataset``, saved all-or-nothing."""


class ParquetDataset(AtomicSaveMixin, _ParquetDataset):
    """``pandas.ParquetDataset``, saved all-or-nothing."""


class PickleDataset(AtomicSaveMixin, _PickleDataset):
    """``pickle.PickleDataset``, saved all-or-nothing."""


class MatplotlibDataset(AtomicSaveMixin, _MatplotlibDataset):
    """``matplotlib.MatplotlibDataset``, saved all-or-nothing (one figure per entry)."""


class TextDataset(AtomicSaveMixin, _TextDataset):
    """``text.TextDataset``, saved all-or-nothing."""
