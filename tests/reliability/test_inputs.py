"""Bad raw files stop at ingest naming the file, what is wrong and the fix, before any variant run opens.

Unreadable CSVs in every form (empty, binary, pickle, encodings, separators) are covered in
``tests/datasets/test_csv_table.py``; images (corrupt, oversized, PIL warnings) in
``tests/test_validation_images.py``; non-finite and negative volumes in the traffic node tests.
Here: time zones, and what a whole ``kedro run`` on a bad file leaves in MLflow.
"""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from kedro.io import DatasetError

from neural_pipelines.pipelines.traffic_lstm import nodes
from neural_pipelines.validation import DataValidationError
from tests.conftest import TempProject

INGEST = nodes.TrafficIngest(timestamp_column="datetime", volume_column="traffic_volume", min_hours=4)

#: A Chicago export in local time across the end of daylight saving time (3 Nov 2024): the
#: offset changes from -05:00 to -06:00 and the clock shows 01:00 twice.
AUTUMN_CHANGE = [
    "2024-11-03 00:00:00-05:00",
    "2024-11-03 01:00:00-05:00",
    "2024-11-03 01:00:00-06:00",
    "2024-11-03 02:00:00-06:00",
    "2024-11-03 03:00:00-06:00",
]


def local_export(stamps: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({"datetime": stamps, "traffic_volume": [float(value) for value in range(len(stamps))]})
    frame.attrs["source"] = "data/01_raw/chicago_local.csv"
    return frame


def test_mixed_utc_offsets_are_refused_naming_the_lines_and_the_timezone_setting() -> None:
    with pytest.raises(DataValidationError) as error:
        nodes.ingest_traffic(local_export(AUTUMN_CHANGE), INGEST)
    message = str(error.value)
    assert message.startswith("data/01_raw/chicago_local.csv: column 'datetime': timestamps with different UTC offsets (-05:00, -06:00)")
    assert "the offset changes on CSV lines 4, 5, 6 (values '2024-11-03 01:00:00-06:00'" in message
    assert "Fix: set traffic_lstm.ingest.timezone" in message and "UTC keeps every hour exactly once" in message


def test_timezone_utc_gives_every_hour_exactly_once() -> None:
    traffic = nodes.ingest_traffic(local_export(AUTUMN_CHANGE), INGEST.model_copy(update={"timezone": "UTC"}))
    assert traffic["datetime"].dt.tz is None
    assert traffic["datetime"].astype(str).tolist() == [
        "2024-11-03 05:00:00",
        "2024-11-03 06:00:00",
        "2024-11-03 07:00:00",
        "2024-11-03 08:00:00",
        "2024-11-03 09:00:00",
    ]


def test_a_local_timezone_repeats_the_autumn_hour_which_keep_first_resolves() -> None:
    local = INGEST.model_copy(update={"timezone": "America/Chicago"})
    with pytest.raises(DataValidationError, match=r"duplicate timestamps on CSV lines 3, 4 .*duplicate_timestamps: keep_first"):
        nodes.ingest_traffic(local_export(AUTUMN_CHANGE), local)
    traffic = nodes.ingest_traffic(local_export(AUTUMN_CHANGE), local.model_copy(update={"duplicate_timestamps": "keep_first"}))
    assert traffic["datetime"].astype(str).tolist() == [
        "2024-11-03 00:00:00",
        "2024-11-03 01:00:00",
        "2024-11-03 02:00:00",
        "2024-11-03 03:00:00",
    ]
    assert traffic["traffic_volume"].tolist() == [0.0, 1.0, 3.0, 4.0]  # the first 01:00 kept


USER_CSV = """
traffic_lstm.raw_traffic:
  type: neural_pipelines.datasets.CSVTableDataset
  filepath: {path}
  metadata:
    data_source: user
    kedro-viz: {{layer: raw}}
"""


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.", "looks like a binary file (e.g. a pickle or spreadsheet)"),
        (b"datetime;traffic_volume\n2024-01-01 00:00:00;5\n", "';'"),
    ],
    ids=["empty", "pickle", "semicolons"],
)
def test_a_run_on_an_unreadable_file_fails_at_ingest_and_opens_no_variant_run(
    temp_project: TempProject, content: bytes, problem: str
) -> None:
    bad = temp_project.path / "data" / "my_traffic.csv"
    bad.write_bytes(content)
    temp_project.add_env(
        "bad_file", {"catalog.yml": USER_CSV.format(path=bad), "parameters.yml": "traffic_lstm:\n  ingest: {min_hours: 4}\n"}
    )
    with pytest.raises(DatasetError) as error:
        temp_project.run("traffic_lstm", env="bad_file")
    message = str(error.value)
    assert str(bad) in message and problem in message and "Fix:" in message
    mlflow.set_tracking_uri(temp_project.tracking_uri)
    runs = mlflow.search_runs(search_all_experiments=True)
    assert list(runs["status"]) == ["FAILED"]  # the parent only: no variant had started
    assert list(runs["tags.mlflow.runName"]) == ["traffic_lstm"]
    assert not (temp_project.path / "data" / ".kedro_run.lock").exists()
