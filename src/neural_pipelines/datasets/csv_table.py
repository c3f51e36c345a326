"""``CSVTableDataset``: ``pandas.CSVDataset`` whose load errors name the file, the problem and the fix.

A raw CSV that cannot be read (empty, binary, a pickle or spreadsheet renamed ``.csv``, another
text encoding, ragged lines) makes pandas raise ``EmptyDataError``, ``UnicodeDecodeError`` or
``ParserError`` without the file's name; a semicolon- or tab-separated file even loads, as one
column, and fails later as "missing column". This dataset turns all of these into a
``DatasetError`` in the style of :class:`neural_pipelines.validation.DataValidationError`::

    data/01_raw/house_prices/train.csv: looks like a binary file (e.g. a pickle or spreadsheet),
    not text: it starts like a Python pickle; it was not opened as one; expected a
    comma-separated text file with a header row. Fix: export the table as CSV text (…)

To say what the file is, it reads at most its first 8 KiB as bytes (decompressed like pandas
would); it never unpickles or otherwise interprets them. Everything else (``load_args``,
``save_args``, versioning, fsspec paths and credentials) is ``pandas.CSVDataset``'s.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fsspec.utils import infer_compression
from kedro.io.core import PROTOCOL_DELIMITER, DatasetError, get_filepath_str
from kedro_datasets.pandas import CSVDataset

#: How much of the file is read to tell what it is.
SNIFF_BYTES = 8 * 1024

#: Separators that, found in the only column's header, mean the file was read with the wrong one.
OTHER_SEPARATORS = {";": "';'", "\t": "tab ('\\t')", "|": "'|'"}

#: File signatures of binary formats people save under a ``.csv`` name by mistake.
_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive or an .xlsx spreadsheet"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an .xls spreadsheet"),
    (b"PAR1", "a Parquet file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"%PDF", "a PDF"),
)

#: How much of a one-column header an error message quotes.
SHOWN_CHARS = 60

RESAVE_AS_UTF8 = "re-save it as UTF-8 (e.g. 'CSV UTF-8' in Excel)"
EXPORT_AS_CSV = (
    "export the table as CSV text (pandas: DataFrame.to_csv; Excel: Save As 'CSV UTF-8') and point the catalog entry at that file"
)
EVEN_FIELDS = (
    'give every line as many fields as the header has and quote fields that contain the separator ("a, b"), '
    "or skip such lines with `load_args: {on_bad_lines: skip}` in its catalog entry"
)


def binary_evidence(head: bytes) -> str | None:
    """Why ``head`` (a file's first bytes) is binary, not text (``"it starts like a Python pickle"``), or ``None``.

    Pickles start with ``\\x80`` and the protocol number (2 to 5); other formats by their
    signature; anything else with a NUL byte is binary too. The bytes are only compared,
    never unpickled or parsed. UTF-16 text has NUL bytes as well: ask :func:`utf16_encoding` first.
    """
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle protocols 2-5
        return "it starts like a Python pickle"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return f"it starts like {kind}"
    if b"\x00" in head:
        return f"its first {len(head):,} bytes contain NUL bytes, which text files do not"
    return None


def utf16_encoding(head: bytes) -> tuple[str, str] | None:
    """``(description, encoding to read it with)`` when ``head`` looks like UTF-16 text, else ``None``.

    UTF-16 text starts with a byte-order mark, or (mostly ASCII, without one) has a NUL in
    every other byte.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text (with a byte-order mark)", "utf-16"
    pairs = len(head) // 2
    if pairs < 4:  # too short to tell
        return None
    even_nuls, odd_nuls = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
    if odd_nuls >= 0.9 * pairs and even_nuls <= 0.1 * pairs:
        return "UTF-16 little-endian text (without a byte-order mark)", "utf-16-le"
    if even_nuls >= 0.9 * pairs and odd_nuls <= 0.1 * pairs:
        return "UTF-16 big-endian text (without a byte-order mark)", "utf-16-be"
    return None


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text.strip() else ""


def _separator_in(text: str) -> str | None:
    """The first of ``;``, tab, ``|`` that ``text`` contains, or ``None``."""
    return next((sep for sep in OTHER_SEPARATORS if sep in text), None)


class CSVTableDataset(CSVDataset):
    """``pandas.CSVDataset`` that explains a file it cannot read: the file, what was expected, and the fix.

    Example catalog entry (wrapped, as the raw inputs are, or on its own with ``filepath``)::

        house_prices.raw_houses:
          type: neural_pipelines.datasets.CSVTableDataset
          filepath: data/01_raw/house_prices/train.csv
          load_args: {sep: ";", encoding: latin-1}
    """

    def load(self) -> pd.DataFrame:
        try:
            frame = super().load()
        except DatasetError as err:  # Kedro's load wrapper turns pandas' exception into this, as the cause
            explained = self._explained(err.__cause__)
            if explained is None:
                raise
            raise explained from err.__cause__
        except (pd.errors.EmptyDataError, UnicodeDecodeError, pd.errors.ParserError) as err:  # should Kedro stop wrapping
            explained = self._explained(err)
            if explained is None:
                raise
            raise explained from err
        self._check_separator(frame)
        return frame

    def _explained(self, err: BaseException | None) -> DatasetError | None:
        """The error to raise instead of pandas' ``err``, or ``None`` for errors this dataset does not explain."""
        if isinstance(err, pd.errors.EmptyDataError):
            return self._error(
                "is empty (0 bytes, or only blank lines)",
                "export the table again, with its header row, or point the catalog entry at the right file",
            )
        if isinstance(err, UnicodeDecodeError):
            return self._decode_error(err)
        if isinstance(err, pd.errors.ParserError):
            return self._parser_error(err)
        return None

    # --- what the file is and what was expected --------------------------------------

    def _location(self) -> str:
        """The path that was read (the resolved version, if versioned), as the user would type it."""
        try:
            path = str(self._get_load_path())
        except DatasetError:
            path = str(self._filepath)
        return path if self._protocol == "file" else f"{self._protocol}{PROTOCOL_DELIMITER}{path}"

    def _configured_sep(self) -> Any:
        """The configured separator, or ``None`` when pandas' default (comma) is in effect."""
        for key in ("sep", "delimiter"):
            if self._load_args.get(key) is not None:
                return self._load_args[key]
        return None

    def _expected(self) -> str:
        sep = self._configured_sep()
        separated = "a comma-separated text file" if sep is None else f"a text file separated by {sep!r} (load_args.sep)"
        header = (
            " without a header row (load_args.header: null)"
            if "header" in self._load_args and self._load_args["header"] is None
            else " with a header row"
        )
        return separated + header

    def _encoding(self) -> tuple[str, str]:
        """The encoding pandas tried, and where it came from."""
        encoding = self._load_args.get("encoding")
        if encoding:
            return str(encoding), "load_args.encoding"
        return "utf-8", "pandas' default; load_args.encoding is not set"

    def _error(self, problem: str, fix: str) -> DatasetError:
        return DatasetError(f"{self._location()}: {problem}; expected {self._expected()}. Fix: {fix}")

    def _head(self) -> bytes:
        """The file's first ``SNIFF_BYTES`` bytes, decompressed as pandas would; ``b""`` if unreadable. Never interpreted."""
        try:
            path = get_filepath_str(self._get_load_path(), self._protocol)
            compression = self._load_args.get("compression", "infer")
            method = compression.get("method") if isinstance(compression, dict) else compression
            if method == "infer":
                method = infer_compression(path)
            try:
                with self._fs.open(path, "rb", compression=method) as file:
                    return file.read(SNIFF_BYTES)
            except Exception:  # not compressed as its name says: look at the bytes as they are
                with self._fs.open(path, "rb") as file:
                    return file.read(SNIFF_BYTES)
        except Exception:
            return b""

    def _binary_error(self, evidence: str, detail: str = "") -> DatasetError:
        return self._error(f"looks like a binary file (e.g. a pickle or spreadsheet), not text: {evidence}{detail}", EXPORT_AS_CSV)

    # --- the errors -------------------------------------------------------------------

    def _decode_error(self, err: UnicodeDecodeError) -> DatasetError:
        head = self._head()
        encoding, origin = self._encoding()
        utf16 = None if encoding.lower().replace("-", "").startswith(("utf16", "utf32")) else utf16_encoding(head)
        if utf16:
            return self._error(
                f"is {utf16[0]}, but was read with encoding {encoding!r} ({origin})",
                f"{RESAVE_AS_UTF8}, or set `load_args: {{encoding: {utf16[1]}}}` in its catalog entry",
            )
        evidence = binary_evidence(head)
        if evidence:
            return self._binary_error(evidence, "; it was not opened as one")
        byte = f": byte 0x{err.object[err.start]:02x} cannot be decoded ({err.reason})" if err.object else f": {err.reason}"
        return self._error(
            f"is not valid text in encoding {encoding!r}, the one it was read with ({origin}){byte}",
            f"{RESAVE_AS_UTF8}, or name its encoding in its catalog entry, e.g. `load_args: {{encoding: latin-1}}` "
            "(Western European files from older Excel or Windows: cp1252)",
        )

    def _parser_error(self, err: pd.errors.ParserError) -> DatasetError:
        detail = " ".join(str(err).split())
        head = self._head()
        evidence = None if utf16_encoding(head) else binary_evidence(head)
        if evidence:
            return self._binary_error(evidence, f" (pandas: {detail})")
        fix = EVEN_FIELDS
        sep = None if self._configured_sep() is not None else _separator_in(_first_line(head.decode("utf-8", errors="replace")))
        if sep:
            fix = f"its header row is separated by {OTHER_SEPARATORS[sep]}: {_sep_fix(sep)}; otherwise {fix}"
        return self._error(f"cannot be parsed as CSV: {detail}", fix)

    def _check_separator(self, frame: pd.DataFrame) -> None:
        """A file read with the wrong separator loads as one column whose header (or first value) holds the real separator."""
        if self._configured_sep() is not None or frame.shape[1] != 1:
            return
        no_header = "header" in self._load_args and self._load_args["header"] is None
        sample = frame.iloc[0, 0] if no_header and len(frame) else frame.columns[0]
        sep = _separator_in(sample) if isinstance(sample, str) else None
        if sep is None:
            return
        where = "first row" if no_header else "header"
        shown = sample if len(sample) <= SHOWN_CHARS else sample[: SHOWN_CHARS - 1] + "…"
        raise self._error(
            f"was read as ONE column because its {where} {shown!r} is separated by {OTHER_SEPARATORS[sep]}, not commas", _sep_fix(sep)
        )


def _sep_fix(sep: str) -> str:
    """The catalog change that reads a file separated by ``sep``."""
    written = '"\\t"' if sep == "\t" else f"'{sep}'"
    return f"set `load_args: {{sep: {written}}}` in its catalog entry (keep its other load_args), or re-export the file with commas"


__all__ = ["CSVTableDataset", "binary_evidence", "utf16_encoding"]
