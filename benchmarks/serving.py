"""How fast are the registered champions in use? HTTP latency for one house, and batch throughput of the inference pipelines.

1. **Serving latency**: ``mlflow models serve -m models:/house_prices@champion --env-manager local``
   on a free loopback port; after ``--warmup`` requests, ``--requests`` sequential POSTs of one
   house (Kaggle columns, JSON ``dataframe_split``); p50 / p95 / max in milliseconds
   (target: p50 <= 20 ms).
2. **Batch throughput**: ``house_prices_predict`` on ``--rows`` houses and ``image_classify``
   (``image_cnn_classify``) on folders of ``--images`` PNG digits (2,000 and 10,000: a Kedro run
   has a fixed cost, reading the whole project's configuration, that a bigger batch spreads), each run in a Kedro session (catalog
   load of the CSV / folder, validation, hooks, kedro-mlflow's run, versioned CSV save), against a plain
   script doing the same work with the bare model: ``mlflow.pyfunc.load_model`` of the same
   URI, read the same input, ``predict``, write a CSV. Both sides load the model each time.
   Prints rows/s and images/s of both and their ratio (target: pipeline >= 0.8 x plain),
   median of ``--repeats`` alternating runs.

    python benchmarks/serving.py [--project .] [--requests 200] [--rows 14590] [--images 2000 10000] [--repeats 3]

``--project`` is a project folder where ``kedro run --pipelines=house_prices`` and
``--pipelines=image_cnn`` have run (its ``mlflow.db`` holds the champions; its ``data/`` the
houses and digits the inputs are drawn from). The pipelines run in a temporary copy of
``conf/`` that uses that MLflow store; nothing is written to the project. Exit status 1 if a
target is missed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOUSES_URI = "models:/house_prices@champion"
DIGITS_URI = "models:/image_cnn@champion"


def consumer_project(folder: Path, tracking_uri: str) -> Path:
    shutil.copy(PROJECT_ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    return folder


def write_houses(project: Path, consumer: Path, rows: int) -> Path:
    """``rows`` houses (no SalePrice, an Id) as data/01_raw/house_prices/test.csv."""
    import numpy as np
    import pandas as pd

    houses = pd.read_parquet(project / "data/02_intermediate/house_prices/houses.parquet").drop(columns=["SalePrice"])
    table = houses.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    table.insert(0, "Id", np.arange(1, rows + 1))
    csv = consumer / "data/01_raw/house_prices/test.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv, index=False, na_rep="NA")
    return csv


def write_digits(project: Path, consumer: Path, images: int) -> Path:
    """Exactly ``images`` PNG digits (MNIST test digits, repeated) in image_cnn_classify's folder."""
    import numpy as np

    from neural_pipelines.datasets.image_folder import png_bytes

    digits = np.load(project / "data/05_model_input/image_cnn/splits.npz")["x_test"]
    folder = consumer / "data/01_raw/image_classify/image_cnn"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for index in range(images):
        (folder / f"digit_{index:05d}.png").write_bytes(png_bytes(digits[index % len(digits)]))
    return folder


def serving_latency(tracking_uri: str, csv: Path, warmup: int, requests: int) -> list[float]:
    """Milliseconds of each of ``requests`` sequential one-house requests, after ``warmup`` unmeasured ones."""
    import pandas as pd

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["mlflow", "models", "serve", "-m", HOUSES_URI, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        started = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.perf_counter() - started > 180:
                    raise RuntimeError("mlflow models serve did not start") from None
                time.sleep(0.2)
        print(f"server ready after {time.perf_counter() - started:.1f} s")
        house = pd.read_csv(csv, nrows=1)
        body = json.dumps({"dataframe_split": json.loads(house.to_json(orient="split", index=False))}).encode()
        url = f"http://127.0.0.1:{port}/invocations"
        times = []
        for index in range(warmup + requests):
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            begin = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            if index >= warmup:
                times.append((time.perf_counter() - begin) * 1000)
        return times
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def pipeline_seconds(consumer: Path, pipeline: str, namespaces: list[str] | None = None) -> float:
    """Wall seconds of ``kedro run --pipelines=<pipeline>`` in-process (session creation excluded, as imports are)."""
    from kedro.framework.session import KedroSession

    with KedroSession.create(project_path=consumer) as session:
        begin = time.perf_counter()
        session.run(pipeline_names=[pipeline], namespaces=namespaces)
        return time.perf_counter() - begin


def plain_houses(csv: Path, out: Path) -> float:
    """The bare model on the same CSV: load, read, predict, write ``Id,SalePrice``."""
    import mlflow
    import pandas as pd

    begin = time.perf_counter()
    model = mlflow.pyfunc.load_model(HOUSES_URI)
    table = pd.read_csv(csv)
    prices = model.predict(table[model.metadata.get_input_schema().input_names()])
    pd.DataFrame({"Id": table["Id"], "SalePrice": prices}).to_csv(out, index=False)
    return time.perf_counter() - begin


def plain_digits(folder: Path, out: Path) -> float:
    """The bare model on the same pictures: load, read the files, predict, write the labels."""
    import mlflow
    import pandas as pd

    begin = time.perf_counter()
    model = mlflow.pyfunc.load_model(DIGITS_URI)
    files = sorted(folder.glob("*.png"))
    labels = model.predict(pd.DataFrame({"image": [path.read_bytes() for path in files]}))
    labels.assign(file=[path.name for path in files]).to_csv(out, index=False)
    return time.perf_counter() - begin


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rows", type=int, default=14590)
    parser.add_argument("--images", type=int, nargs="+", default=[2000, 10000], help="folder sizes, each measured apart")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    project = args.project.resolve()
    tracking_uri = f"sqlite:///{project / 'mlflow.db'}"
    sys.path.insert(0, str(PROJECT_ROOT / "src"))

    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        consumer = consumer_project(Path(tmp), tracking_uri)
        csv = write_houses(project, consumer, args.rows)
        os.chdir(consumer)

        latency = sorted(serving_latency(tracking_uri, csv, args.warmup, args.requests))
        p50, p95 = statistics.median(latency), latency[int(0.95 * len(latency)) - 1]
        print(
            f"serving one house: {len(latency)} requests, p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {latency[-1]:.1f} ms (target p50 <= 20)"
        )

        cases = [("house_prices_predict", args.rows, "rows", "house_prices_predict", None, plain_houses, lambda: csv)]
        for count in args.images:
            writer = functools.partial(write_digits, project, consumer, count)
            cases.append(("image_classify", count, "images", "image_classify", ["image_cnn_classify"], plain_digits, writer))
        results = {}
        for name, count, unit, pipeline, namespaces, plain, prepare in cases:
            source = prepare()
            pipeline_times, plain_times = [], []
            for repeat in range(args.repeats):
                plain_times.append(plain(source, consumer / f"plain_{repeat}.csv"))
                pipeline_times.append(pipeline_seconds(consumer, pipeline, namespaces))
            pipe, bare = statistics.median(pipeline_times), statistics.median(plain_times)
            results[f"{name} ({count} {unit})"] = bare / pipe
            print(
                f"{name}: {count} {unit}: pipeline {count / pipe:,.0f} {unit}/s ({pipe:.2f} s), plain script {count / bare:,.0f} "
                f"{unit}/s ({bare:.2f} s), ratio {bare / pipe:.2f} (target >= 0.8), the pipeline's extra {pipe - bare:+.2f} s; runs: "
                f"pipeline {', '.join(f'{t:.2f}' for t in pipeline_times)} s, plain {', '.join(f'{t:.2f}' for t in plain_times)} s"
            )
    missed = p50 > 20 or any(ratio < 0.8 for ratio in results.values())
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
