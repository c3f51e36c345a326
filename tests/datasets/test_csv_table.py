"""``CSVTableDataset``: raw CSVs that cannot be read fail with the file, what was expected and the fix."""

from __future__ import annotations

import gzip
import pickle
import random
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, DatasetError
from kedro.io.core import Version
from kedro_datasets.pandas import CSVDataset

from neural_pipelines.datasets import CSVTableDataset, DownloadedFileDataset, PackageFileDataset
from tests.datasets.http_server import QuietHandler, serving

COMMA = "expected a comma-separated text file with a header row"
CONF = Path(__file__).parents[2] / "conf"
BINARY = "looks like a binary file (e.g. a pickle or spreadsheet)"


def load_error(path: Path, **kwargs: object) -> str:
    """The message a ``CSVTableDataset`` load of ``path`` fails with; it starts with the file."""
    with pytest.raises(DatasetError) as caught:
        CSVTableDataset(filepath=str(path), **kwargs).load()  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "Fix: " in message, message
    return message


class TouchOnUnpickle:
    """Unpickling this creates ``marker``: proof that a file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("content", [b"", b"  \n\n\t \r\n"], ids=["0 bytes", "whitespace only"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "train.csv"
    path.write_bytes(content)
    message = load_error(path)
    assert "is empty (0 bytes, or only blank lines)" in message and COMMA in message
    assert "Fix: export the table again, with its header row" in message


def test_random_bytes_with_nul_are_called_binary(tmp_path: Path) -> None:
    path = tmp_path / "traffic.csv"
    noise = random.Random(0).randbytes(4000)
    path.write_bytes(b"\x89" + noise[:2000] + b"\x00" + noise[2000:])
    message = load_error(path)
    assert BINARY in message and "contain NUL bytes" in message and COMMA in message
    assert "Fix: export the table as CSV text" in message
    assert "codec can't decode" not in message  # not pandas' raw UnicodeDecodeError


def test_pickled_dataframe_named_csv_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled.marker"
    frame = pd.DataFrame({"SalePrice": [208500, 181500], "trap": [TouchOnUnpickle(marker), None]})
    path = tmp_path / "train.csv"
    frame.to_pickle(path)
    # the trap works: unpickling a copy creates the marker
    pd.read_pickle(path, compression=None)
    assert marker.exists()
    marker.unlink()

    message = load_error(path)
    assert BINARY in message and "it starts like a Python pickle" in message and "it was not opened as one" in message
    assert COMMA in message and "Fix: export the table as CSV text (pandas: DataFrame.to_csv" in message
    assert not marker.exists()


def test_spreadsheet_named_csv_is_named(tmp_path: Path) -> None:
    path = tmp_path / "houses.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4)  # the start of an .xlsx (a zip)
    message = load_error(path)
    assert BINARY in message and "an .xlsx spreadsheet" in message


def test_latin1_file_names_the_encoding_and_loads_with_it(tmp_path: Path) -> None:
    path = tmp_path / "houses.csv"
    path.write_bytes("Neighborhood,SalePrice\nCafé du Nord,208500\nNAmes,181500\n".encode("latin-1"))
    message = load_error(path)
    assert "is not valid text in encoding 'utf-8'" in message and "load_args.encoding is not set" in message
    assert "byte 0xe9" in message and COMMA in message
    assert "Fix: re-save it as UTF-8" in message and "`load_args: {encoding: latin-1}`" in message

    explicit = load_error(path, load_args={"encoding": "ascii"})
    assert "encoding 'ascii'" in explicit and "(load_args.encoding)" in explicit

    frame = CSVTableDataset(filepath=str(path), load_args={"encoding": "latin-1"}).load()
    assert frame["Neighborhood"].tolist() == ["Café du Nord", "NAmes"]


@pytest.mark.parametrize(
    ("codec", "described", "fix"),
    [
        ("utf-16", "UTF-16 text (with a byte-order mark)", "utf-16"),
        ("utf-16-le", "UTF-16 little-endian text (without a byte-order mark)", "utf-16-le"),
    ],
)
def test_utf16_file_is_recognised(tmp_path: Path, codec: str, described: str, fix: str) -> None:
    path = tmp_path / "traffic.csv"
    path.write_bytes("datetime,traffic_volume\n2024-01-01 00:00:00,5\nCafé,6\n".encode(codec))
    message = load_error(path)
    assert f"is {described}, but was read with encoding 'utf-8'" in message and COMMA in message
    assert f"Fix: re-save it as UTF-8 (e.g. 'CSV UTF-8' in Excel), or set `load_args: {{encoding: {fix}}}`" in message
    assert BINARY not in message
    frame = CSVTableDataset(filepath=str(path), load_args={"encoding": fix}).load()
    assert frame["traffic_volume"].tolist() == [5, 6]


@pytest.mark.parametrize(
    ("sep", "named", "written"), [(";", "';'", "{sep: ';'}"), ("\t", "tab ('\\t')", '{sep: "\\t"}'), ("|", "'|'", "{sep: '|'}")]
)
def test_other_separator_is_named_with_the_load_args_fix(tmp_path: Path, sep: str, named: str, written: str) -> None:
    path = tmp_path / "traffic.csv"
    path.write_text(f"datetime{sep}traffic_volume\n2024-01-01 00:00:00{sep}5\n2024-01-01 01:00:00{sep}6\n")
    message = load_error(path)
    assert f"was read as ONE column because its header {f'datetime{sep}traffic_volume'!r} is separated by {named}" in message
    assert COMMA in message
    assert f"Fix: set `load_args: {written}` in its catalog entry (keep its other load_args), or re-export the file with commas" in message
    frame = CSVTableDataset(filepath=str(path), load_args={"sep": sep}).load()
    assert list(frame.columns) == ["datetime", "traffic_volume"] and frame["traffic_volume"].tolist() == [5, 6]


def test_other_separator_without_header_row(tmp_path: Path) -> None:
    path = tmp_path / "digits.csv"
    path.write_text("0;0;255;7\n0;12;0;3\n")
    message = load_error(path, load_args={"header": None})
    assert "its first row '0;0;255;7' is separated by ';'" in message
    assert "expected a comma-separated text file without a header row (load_args.header: null)" in message
    assert "Fix: set `load_args: {sep: ';'}`" in message


def test_one_real_column_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("id\n1\n2\n")
    assert CSVTableDataset(filepath=str(path)).load()["id"].tolist() == [1, 2]


def test_ragged_lines_quote_pandas_line_info(tmp_path: Path) -> None:
    path = tmp_path / "houses.csv"
    path.write_text("Id,SalePrice\n1,208500\n2,181,500\n")
    message = load_error(path)
    assert "cannot be parsed as CSV: Error tokenizing data. C error: Expected 2 fields in line 3, saw 3" in message
    assert COMMA in message and "Fix: give every line as many fields as the header has" in message
    assert "`load_args: {on_bad_lines: skip}`" in message

    configured = load_error(path, load_args={"sep": ","})
    assert "expected a text file separated by ',' (load_args.sep) with a header row" in configured


def test_semicolon_file_with_decimal_commas_gets_the_separator_hint(tmp_path: Path) -> None:
    path = tmp_path / "houses.csv"
    path.write_text("Id;LotArea\n1;8450\n2;9600\n3;11250,5;0,25\n")
    message = load_error(path)
    assert "Expected 1 fields in line 4, saw 3" in message
    assert "Fix: its header row is separated by ';': set `load_args: {sep: ';'}` in its catalog entry" in message


def test_good_csv_loads_as_pandas_csvdataset_does(tmp_path: Path) -> None:
    path = tmp_path / "traffic.csv.gz"
    text = "datetime,traffic_volume,weather_main\n2024-01-01 00:00:00,5,Clouds\n2024-01-01 01:00:00,,Rain\n2024-01-01 02:00:00,7,NA\n"
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    for load_args in ({}, {"nrows": 2, "parse_dates": ["datetime"]}):
        ours = CSVTableDataset(filepath=str(path), load_args=load_args).load()
        pd.testing.assert_frame_equal(ours, CSVDataset(filepath=str(path), load_args=load_args).load())
    assert isinstance(CSVTableDataset(filepath=str(path)), CSVDataset)


def test_save_versioning_and_catalog_are_csvdatasets(tmp_path: Path) -> None:
    catalog = DataCatalog.from_config(
        {
            "table": {
                "type": "neural_pipelines.datasets.CSVTableDataset",
                "filepath": str(tmp_path / "table.csv"),
                "versioned": True,
                "save_args": {"sep": ";"},
                "load_args": {"sep": ";"},
            }
        }
    )
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    catalog.save("table", frame)
    pd.testing.assert_frame_equal(catalog.load("table"), frame)
    assert len(list((tmp_path / "table.csv").iterdir())) == 1


def test_versioned_bad_file_names_the_version_that_was_read(tmp_path: Path) -> None:
    version = "2024-01-01T00.00.00.000Z"
    path = tmp_path / "table.csv" / version / "table.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match=rf"^{re.escape(str(path))}: is empty"):
        CSVTableDataset(filepath=str(tmp_path / "table.csv"), version=Version(None, None)).load()


def test_compressed_pickle_is_recognised_after_decompression(tmp_path: Path) -> None:
    path = tmp_path / "train.csv.gz"
    path.write_bytes(gzip.compress(pickle.dumps(pd.DataFrame({"a": [1]}), protocol=5), mtime=0))
    message = load_error(path)
    assert "it starts like a Python pickle" in message


def test_package_file_dataset_passes_the_message_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "traffic.csv"
    bad.write_text("datetime;traffic_volume\n2024-01-01 00:00:00;5\n")
    monkeypatch.setattr(PackageFileDataset, "_locate", lambda self: bad)
    dataset = PackageFileDataset(
        package="autots", resource="datasets/data/traffic_hourly.zip", dataset={"type": "neural_pipelines.datasets.CSVTableDataset"}
    )
    with pytest.raises(DatasetError) as caught:
        dataset.load()
    message = str(caught.value)
    assert message.startswith(f"{bad}: was read as ONE column") and "Fix: set `load_args: {sep: ';'}`" in message


class CsvHandler(QuietHandler):
    def do_GET(self) -> None:
        body = "Neighborhood,SalePrice\nCafé,208500\n".encode("latin-1")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_downloaded_file_dataset_passes_the_message_through(tmp_path: Path) -> None:
    target = tmp_path / "raw" / "train.csv"
    config = {"type": "neural_pipelines.datasets.CSVTableDataset", "load_args": {"na_values": ["?"]}}
    with serving(CsvHandler) as url:
        dataset = DownloadedFileDataset(url=f"{url}/train.csv", filepath=str(target), timeout=5, dataset=config)
        with pytest.raises(DatasetError) as caught:
            dataset.load()
    message = str(caught.value)
    assert message.startswith(f"{target}: is not valid text in encoding 'utf-8'"), message
    assert "Fix: re-save it as UTF-8" in message and "`load_args: {encoding: latin-1}`" in message
    fixed = DownloadedFileDataset(
        url="http://127.0.0.1:9/unused", filepath=str(target), dataset={**config, "load_args": {"na_values": ["?"], "encoding": "latin-1"}}
    )
    assert fixed.load()["Neighborhood"].tolist() == ["Café"]


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ("base", "traffic_lstm.raw_traffic"),
        ("base", "image_cnn.raw_images"),
        ("test", "traffic_lstm.raw_traffic"),
        ("full", "traffic_lstm.raw_traffic"),
        ("full", "house_prices.raw_houses"),
    ],
)
def test_project_catalogs_read_raw_csvs_with_it(env: str, name: str) -> None:
    entry = yaml.safe_load((CONF / env / f"catalog_{name.partition('.')[0]}.yml").read_text())[name]
    wrapped = entry["dataset"]
    assert wrapped["type"] == "neural_pipelines.datasets.CSVTableDataset"
    if entry["type"] == "neural_pipelines.datasets.PackageFileDataset":  # the bundled file reads as before
        wrapped["load_args"] = {**wrapped.get("load_args", {}), "nrows": 3}
        frame = DataCatalog.from_config({name: entry}).load(name)
        assert len(frame) == 3 and frame.shape[1] > 1
