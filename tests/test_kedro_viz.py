"""kedro-viz on a finished run of every experiment: the build succeeds, every dataset sits in a layer,
variants fold into namespaces, and ``--include-previews`` gives every figure and table its preview."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import TempProject

pytestmark = pytest.mark.pipeline

VARIANTS = {
    "traffic_lstm": ("dense", "simple_rnn", "lstm", "persistence", "seasonal_naive_24h", "seasonal_naive_168h"),
    "house_prices": ("mlp_course", "mlp", "wide_deep", "linear", "gradient_boosting"),
    "image_cnn": ("dnn", "cnn", "cnn_dnn", "deep_cnn", "mnist_cnn", "mlp", "mnist_mlp", "gap_cnn", "depthpool_cnn"),
    "horse_or_human": ("cnn", "cnn_augmented"),
    "fundamentals": (
        "linear_neuron",
        "perceptron",
        "mlp_classifier",
        "mlp_regressor",
        "keras_mlp",
        "wide_deep",
        "wide_deep_two_inputs",
        "linear",
    ),
    "vgg16_finetune": ("feature_extraction", "fine_tuning", "mobilenet_v2", "from_scratch"),
}


@pytest.fixture(scope="module")
def build(shared_project: TempProject) -> Path:
    """``kedro viz build --include-previews`` in the shared project, after every experiment ran there: ``build/api``."""
    for pipeline in VARIANTS:
        shared_project.ensure_ran(pipeline)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MLFLOW_TRACKING_URI": shared_project.tracking_uri}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build", "--include-previews"],
        cwd=shared_project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return shared_project.path / "build" / "api"


def data_nodes(build: Path) -> dict[str, tuple[dict, dict]]:
    """Dataset name → (its node in /api/main, its /api/nodes/<id> metadata: type, filepath, preview …)."""
    graph = json.loads((build / "main").read_text())
    return {
        node["name"]: (node, json.loads((build / "nodes" / node["id"]).read_text())) for node in graph["nodes"] if node["type"] == "data"
    }


def newest(filepath: str) -> Path:
    """The file a versioned dataset loads (its newest version), or the file itself."""
    path = Path(filepath)
    return sorted(path.iterdir())[-1] / path.name if path.is_dir() else path


def test_viz_build_has_layers_for_every_dataset_and_a_group_per_variant(build: Path) -> None:
    graph = json.loads((build / "main").read_text())
    datasets = [node for node in graph["nodes"] if node["type"] == "data"]
    assert datasets
    assert [node["name"] for node in datasets if not node.get("layer")] == []
    groups = set(graph["modular_pipelines"])
    for pipeline, names in VARIANTS.items():
        assert {f"{pipeline}.{name}" for name in names} <= groups


@pytest.mark.parametrize("pipeline", VARIANTS)
def test_every_figure_and_table_of_an_experiment_has_its_preview(build: Path, pipeline: str) -> None:
    nodes = {name: pair for name, pair in data_nodes(build).items() if pipeline in pair[0]["pipelines"]}
    files = {name: metadata["filepath"] for name, (_, metadata) in nodes.items() if metadata.get("filepath")}
    figures = sorted(name for name, filepath in files.items() if filepath.endswith(".png"))
    tables = sorted(name for name, filepath in files.items() if filepath.endswith((".csv", ".parquet")))
    assert figures, f"no figure in {pipeline}"
    assert f"{pipeline}.comparison" in tables
    for name in figures:  # the PNG of the newest run, byte for byte
        metadata = nodes[name][1]
        assert metadata["preview_type"] == "ImagePreview", name
        assert base64.b64decode(metadata["preview"]) == newest(files[name]).read_bytes(), name
    for name in tables:
        metadata = nodes[name][1]
        assert metadata["preview_type"] == "TablePreview", name
        assert metadata["preview"]["data"], name
    comparison = nodes[f"{pipeline}.comparison"][1]["preview"]  # the report's table: its first rows, every column
    shown = pd.DataFrame(comparison["data"], columns=comparison["columns"])
    expected = pd.read_csv(newest(files[f"{pipeline}.comparison"])).head(5)
    pd.testing.assert_frame_equal(shown, expected, check_dtype=False)
