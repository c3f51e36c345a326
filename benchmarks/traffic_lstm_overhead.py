"""Does Kedro + MLflow slow training down? The `lstm` variant through the pipeline vs plain Keras.

Both sides train the same LSTM (same builder, seed, compile settings, batch size and number
of epochs, early stopping off) on the same windows array, in this one process, alternating
plain / pipeline so that machine noise hits both alike. The pipeline side is a real Kedro
session running the variant's `build_model` and `train_model` nodes: catalog loads, hooks,
the nested MLflow run with its params, the versioned `.keras` save and the `mlflow.keras`
model logging all count. The plain side builds, fits and saves a `.keras` file.

    python benchmarks/traffic_lstm_overhead.py [--epochs 30] [--repeats 3]

Prints both sides' median and fastest wall times and their ratios (target <= 1.10; exit
status 1 if the median ratio misses it) and writes nothing outside a temporary folder
(its own data/ and MLflow store). Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VARIANT_NODES = ["traffic_lstm.lstm.model_shapes", "traffic_lstm.lstm.build_model", "traffic_lstm.lstm.train_model"]
DATA_NODES = ["traffic_lstm.ingest_traffic", "traffic_lstm.regularize_hourly", "traffic_lstm.split_and_scale", "traffic_lstm.make_windows"]


def temp_project(folder: Path) -> Path:
    shutil.copy(PROJECT_ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    os.chdir(folder)  # MLflow's SQLite store writes artifacts to ./mlruns
    return folder


def run_nodes(project: Path, nodes: list[str], epochs: int) -> float:
    """Wall seconds of ``kedro run --nodes=...`` in-process (session creation excluded, as imports are)."""
    from kedro.framework.session import KedroSession

    extra = {"traffic_lstm": {"training": {"max_epochs": epochs, "patience": None}}}
    with KedroSession.create(project_path=project, runtime_params=extra) as session:
        started = time.perf_counter()
        session.run(pipeline_names=["traffic_lstm"], node_names=nodes)
        return time.perf_counter() - started


def plain_keras(project: Path, epochs: int, params: dict) -> float:
    """The same model, arrays and settings in a plain Keras script: build, fit, save."""
    import numpy as np

    from neural_pipelines.models import build_architecture, compile_model
    from neural_pipelines.training import seed_everything

    windows_file = project / "data/05_model_input/traffic_lstm/windows.npz"
    with np.load(windows_file) as arrays:
        x_train, y_train = arrays["x_train"], arrays["y_train"]
        x_val, y_val = arrays["x_validation"], arrays["y_validation"]
    training, model_params = params["training"], params["lstm"]["model"]
    started = time.perf_counter()
    seed_everything(params["seed"])  # same seed and deterministic kernels as the pipeline
    model = build_architecture(model_params, x_train.shape[1:], y_train.shape[1])
    compile_model(model, params["optimizer"], params["compile"], steps_per_execution=training["steps_per_execution"])
    model.fit(x_train, y_train, validation_data=(x_val, y_val), batch_size=training["batch_size"], epochs=epochs, shuffle=True, verbose=0)
    model.save(project / "plain_lstm.keras")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30, help="epochs per training (default 30)")
    parser.add_argument("--repeats", type=int, default=3, help="trainings per side (default 3)")
    args = parser.parse_args()

    import logging

    import yaml
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("neural_pipelines").setLevel(logging.INFO)
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_traffic_lstm.yml").read_text())["traffic_lstm"]
    with tempfile.TemporaryDirectory(prefix="bench-traffic-") as folder:
        project = temp_project(Path(folder))
        run_nodes(project, DATA_NODES, args.epochs)  # windows on disk for both sides
        plain_keras(project, 1, params)  # warm-up: graph tracing and first-call costs on neither side's clock
        plain_times, pipeline_times = [], []
        for repeat in range(args.repeats):
            plain_times.append(plain_keras(project, args.epochs, params))
            pipeline_times.append(run_nodes(project, VARIANT_NODES, args.epochs))
            print(f"repeat {repeat + 1}: plain Keras {plain_times[-1]:.1f}s, pipeline {pipeline_times[-1]:.1f}s", flush=True)
    plain, pipeline = statistics.median(plain_times), statistics.median(pipeline_times)
    ratio = pipeline / plain
    # Noise only ever adds time, so the fastest of each side is the steadiest comparison.
    best_ratio = min(pipeline_times) / min(plain_times)
    print(
        f"lstm, {args.epochs} epochs, batch {params['training']['batch_size']}, {args.repeats} repeats: "
        f"median plain Keras {plain:.1f}s vs Kedro pipeline + MLflow {pipeline:.1f}s, ratio {ratio:.3f}; "
        f"fastest {min(plain_times):.1f}s vs {min(pipeline_times):.1f}s, ratio {best_ratio:.3f} (target <= 1.10)"
    )
    return 0 if ratio <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
