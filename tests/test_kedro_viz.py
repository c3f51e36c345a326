"""kedro-viz: the build succeeds, every dataset sits in a layer, variants fold into namespaces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, TempProject

pytestmark = pytest.mark.pipeline


def test_viz_build_has_layers_for_every_dataset_and_a_group_per_variant(temp_project: TempProject) -> None:
    # the kedro CLI wants the package source inside the project it runs in
    shutil.copytree(PROJECT_ROOT / "src", temp_project.path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MLFLOW_TRACKING_URI": temp_project.tracking_uri}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build"],
        cwd=temp_project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    graph = json.loads((temp_project.path / "build" / "api" / "main").read_text())
    datasets = [node for node in graph["nodes"] if node["type"] == "data"]
    assert datasets
    assert [node["name"] for node in datasets if not node.get("layer")] == []
    groups = set(graph["modular_pipelines"])
    variants = {
        "traffic_lstm": ("dense", "simple_rnn", "lstm", "persistence", "seasonal_naive_24h", "seasonal_naive_168h"),
        "house_prices": ("mlp_course", "mlp", "wide_deep", "linear", "gradient_boosting"),
        "image_cnn": ("dnn", "cnn", "cnn_dnn", "deep_cnn", "mnist_cnn"),
        "horse_or_human": ("cnn", "cnn_augmented"),
        "vgg16_finetune": ("feature_extraction", "fine_tuning", "mobilenet_v2"),
    }
    for pipeline, names in variants.items():
        assert {f"{pipeline}.{name}" for name in names} <= groups
