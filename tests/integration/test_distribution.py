"""``training.distribution: mirrored`` on two logical CPU devices trains every Keras variant as ``none`` does on the same global batch.

Mirrored with 32 examples per replica on 2 replicas takes steps of 64 examples, so it is
compared with ``none`` at ``batch_size: 64``: the same data, seed, updates and order, only
the gradient's sum is split across two devices (float rounding). Each run is a fresh process
(``distributed_run.py``): TensorFlow's devices are fixed once it starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

KERAS_VARIANTS = {"dense", "simple_rnn", "lstm", "lstm_calendar"}
#: How far mirrored's test metrics may be from none's, relative (float rounding of the split gradient sum).
TOLERANCE = 0.01


def distributed_run(folder: Path, distribution: str, batch_size: int) -> dict:
    environment = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "tests.integration.distributed_run", str(folder), distribution, str(batch_size)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def test_mirrored_on_two_devices_matches_none_on_the_same_global_batch(tmp_path: Path) -> None:
    single = distributed_run(tmp_path / "none", "none", 64)
    mirrored = distributed_run(tmp_path / "mirrored", "mirrored", 32)
    print(json.dumps({"none": single, "mirrored": mirrored}, indent=1))

    assert (single["devices"], single["replicas"]) == (2, 1)
    assert (mirrored["devices"], mirrored["replicas"]) == (2, 2)
    for result, distribution, batch_size in ((single, "none", 64), (mirrored, "mirrored", 32)):
        assert set(result["variants"]) == KERAS_VARIANTS
        for variant in result["variants"].values():
            assert (variant["status"], variant["distribution"], variant["batch_size"]) == ("FINISHED", distribution, batch_size)
    for model in KERAS_VARIANTS:
        one, two = single["variants"][model], mirrored["variants"][model]
        assert one["epochs_run"] == two["epochs_run"]
        for metric in ("test_mse", "test_mae"):
            assert two[metric] == pytest.approx(one[metric], rel=TOLERANCE), f"{model} {metric}"
