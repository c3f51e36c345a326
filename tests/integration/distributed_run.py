"""One ``kedro run --pipelines=traffic_lstm --env=test`` on two logical CPU devices, for ``test_distribution``.

    python -m tests.integration.distributed_run <project folder> <none|mirrored> <batch_size>

TensorFlow fixes its devices when it first starts, so this runs in a fresh process: it
splits the CPU into two logical devices, runs the pipeline in a temporary copy of the
project at ``<project folder>`` with every variant's ``training.distribution`` and
``batch_size`` set, and prints one JSON line: the strategy's replicas and, per Keras variant,
its test metrics, training time and epochs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import tensorflow as tf

LOGICAL_DEVICES = 2


def main(folder: Path, distribution: str, batch_size: int) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * LOGICAL_DEVICES)

    from neural_pipelines.training.distribute import replicas
    from tests.conftest import make_temp_project

    folder.mkdir(parents=True)
    project = make_temp_project(folder)
    training = {"distribution": distribution, "batch_size": batch_size, "steps_per_execution": 1}  # > 1 is refused with a strategy
    project.run("traffic_lstm", params={"traffic_lstm": {"training": training}})
    runs = project.runs("traffic_lstm")
    keras = runs[runs["params.training.distribution"].notna()].set_index("tags.model")
    result = {
        "devices": len(tf.config.list_logical_devices("CPU")),
        "replicas": replicas(distribution),  # type: ignore[arg-type] (the command line's string is one of the three)
        "variants": {
            model: {
                "status": row["status"],
                "distribution": row["params.training.distribution"],
                "batch_size": int(row["params.training.batch_size"]),
                **{name: float(row[f"metrics.{name}"]) for name in ("test_mse", "test_mae", "train_seconds", "epochs_run")},
            }
            for model, row in keras.iterrows()
        },
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
