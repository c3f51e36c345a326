"""Peak memory of `kedro run --env=full --pipeline=image_cnn` on Fashion-MNIST-sized data.

Fashion-MNIST cannot be downloaded here, and its pixel values do not matter for memory, so
this writes 60,000 training and 10,000 test images of the real shape (28×28, uint8, random
pixels, balanced random labels) as the four IDX files the full environment reads, into a
temporary copy of the project (its own data/ and MLflow store). With the files in place
the full environment touches no network. It then runs the real pipeline there, one epoch
per variant (every stage still sees all 60,000 images: ingest, split, the tf.data caches
and shuffle buffers, evaluation on 10,000), and reports the kedro process's peak resident
set size (the kernel's high-water mark), plus which node was running when the sampled RSS
peaked.

    python benchmarks/image_cnn_memory.py [--train-images 60000] [--test-images 10000] [--epochs 1] [--limit-gb 3]

Exit status 1 if the peak exceeds the limit. Expect ~10 minutes on 2 CPU cores (one epoch of
the 1.4M-parameter deep_cnn over 54,000 images dominates). Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("dnn", "cnn", "cnn_dnn", "deep_cnn", "mnist_cnn")
RAW_FOLDER = "data/01_raw/image_cnn/fashion-mnist"  # as conf/full/catalog_image_cnn.yml names it


def fashion_mnist_files() -> dict[str, str]:
    """File name → array name of Fashion-MNIST, as the full environment's catalog names them."""
    import yaml

    catalog = yaml.safe_load((PROJECT_ROOT / "conf/full/catalog_image_cnn.yml").read_text())
    return catalog["_image_cnn_keras_datasets"]["fashion_mnist"]["files"]


def write_fake_fashion_mnist(folder: Path, n_train: int, n_test: int, seed: int = 0) -> int:
    """Random uint8 images of the real shape and balanced labels; returns the bytes of pixels written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.permutation(np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.permutation(np.arange(n_test) % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    from neural_pipelines.datasets.keras_arrays import idx_bytes

    for file, name in fashion_mnist_files().items():
        (folder / file).write_bytes(gzip.compress(idx_bytes(arrays[name]), compresslevel=1, mtime=0))
    return arrays["x_train"].nbytes + arrays["x_test"].nbytes


def temp_project(folder: Path) -> Path:
    shutil.copy(PROJECT_ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    shutil.copytree(PROJECT_ROOT / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return folder


class RssSampler(threading.Thread):
    """Samples a process's resident set size and remembers the node that was running at its peak."""

    def __init__(self, pid: int, log: Path, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.log, self.interval = pid, log, interval
        self.peak_kb, self.peak_node = 0, "start-up"
        self.running = True

    def current_node(self) -> str:
        """``evaluate_model(image_cnn.deep_cnn.model, …)``: the last node started, with its first input."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        nodes = re.findall(r"Running node: (\S+?): \S+?\(\[([^;\]]+)", text)
        return f"{nodes[-1][0]}({nodes[-1][1]}, …)" if nodes else "start-up"

    def run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while self.running:
            try:
                rss = int(re.search(r"VmRSS:\s+(\d+) kB", status.read_text()).group(1))
            except (OSError, AttributeError):
                return
            if rss > self.peak_kb:
                self.peak_kb, self.peak_node = rss, self.current_node()
            time.sleep(self.interval)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-images", type=int, default=60_000)
    parser.add_argument("--test-images", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=1, help="epochs per variant (default 1)")
    parser.add_argument("--limit-gb", type=float, default=3.0, help="peak RSS budget in GB (default 3)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-image-cnn-") as folder:
        project = temp_project(Path(folder))
        pixel_bytes = write_fake_fashion_mnist(project / RAW_FOLDER, args.train_images, args.test_images)
        print(
            f"{args.train_images:,} + {args.test_images:,} random 28x28 uint8 images ({pixel_bytes / 1e6:.0f} MB of pixels) "
            f"in {RAW_FOLDER}; running kedro run --env=full --pipeline=image_cnn, {args.epochs} epoch(s) per variant",
            flush=True,
        )
        epochs = ",".join(f"image_cnn.{variant}.training.max_epochs={args.epochs}" for variant in VARIANTS)
        command = [sys.executable, "-m", "kedro", "run", "--env=full", "--pipeline=image_cnn", f"--params={epochs}"]
        env = {
            **os.environ,
            "KEDRO_DISABLE_TELEMETRY": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        }
        log = project / "kedro_run.log"
        started = time.perf_counter()
        with log.open("w") as output:
            child = subprocess.Popen(command, cwd=project, env=env, stdout=output, stderr=subprocess.STDOUT)
            sampler = RssSampler(child.pid, log)
            sampler.start()
            status = child.wait()
            sampler.running = False
        seconds = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: kB, the kernel's high-water mark
        text = log.read_text(errors="replace")
        if status != 0:
            print(text[-4000:])
            print(f"kedro run failed with exit status {status}")
            return 2
        for line in text.splitlines():
            if re.search(r"Split \(|epochs in|test accuracy|Pipeline execution", line):
                print("  " + line.split(": ", 1)[-1])
    peak_gb = peak_kb * 1024 / 1e9
    print(
        f"peak RSS {peak_gb:.2f} GB ({peak_kb / 1024:.0f} MiB; sampled peak while running {sampler.peak_node}); "
        f"wall time {seconds:.0f} s; budget {args.limit_gb:g} GB: {'OK' if peak_gb <= args.limit_gb else 'EXCEEDED'}"
    )
    return 0 if peak_gb <= args.limit_gb else 1


if __name__ == "__main__":
    sys.exit(main())
