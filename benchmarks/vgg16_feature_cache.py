"""Training the head on cached features vs running the frozen base every epoch: seconds per epoch.

Both sides train the same transfer model (``vgg16_finetune``'s builder, seed, optimizer and
batch size: the ``feature_extraction`` variant by default) on the same images, in this one
process, for the same number of epochs, each with a validation pass per epoch:

- **cached**: the pipeline's way. ``cache_features`` runs the frozen base once over all
  images (timed separately: a one-off cost), then the head trains on the cached arrays.
- **frozen base every epoch**: the full model (preprocess → frozen base → head) fits on the
  image files through ``tf.data`` (decoded, resized and cached as pixels, so decoding is not
  counted after the first epoch); the frozen base runs forward on every batch of every epoch.

The images are the base environment's generated sample, drawn by ``sample_images`` with its
``vgg16_finetune`` parameters into a temporary folder, at ``vgg16_finetune.image_size``.
Seconds per epoch are the median over epochs 2…N (epoch 1 includes tracing).

    python benchmarks/vgg16_feature_cache.py [--variant feature_extraction] [--epochs 4] [--image-size 64]

Prints both sides, their ratio (target ≥ 5×; exit status 1 if it misses) and after how many
epochs the one-off caching has paid for itself. Writes nothing outside a temporary folder.
Run it on an otherwise idle machine.
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
TARGET = 5.0


def parameters() -> tuple[dict, dict]:
    """``vgg16_finetune`` and ``sample_images`` parameters of the base environment (globals resolved)."""
    from kedro.config import OmegaConfigLoader

    parameters = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")["parameters"]
    return parameters["vgg16_finetune"], parameters["sample_images"]


def draw_sample(folder: Path, sample: dict, image_size: list[int]) -> None:
    """The generated vgg16_finetune sample (train / validation, both classes) as PNG files in ``folder``."""
    from neural_pipelines.datasets import ImageFolderDataset
    from neural_pipelines.pipelines.sample_images.nodes import draw_image_folder

    target = {**sample["vgg16_finetune"], "image_size": image_size}
    ImageFolderDataset(str(folder)).save(draw_image_folder(target, sample["style"]))


class EpochTimes:
    """A Keras callback that records each epoch's wall time."""

    def __new__(cls):  # a keras.callbacks.Callback subclass, defined once keras is imported
        import keras

        class _EpochTimes(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.seconds: list[float] = []

            def on_epoch_begin(self, epoch, logs=None) -> None:
                self._started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None) -> None:
                self.seconds.append(time.perf_counter() - self._started)

        return _EpochTimes()


def steady(seconds: list[float]) -> float:
    """Median epoch time after the first (which includes tracing the training step)."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="feature_extraction", choices=["feature_extraction", "mobilenet_v2"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=None, help="square input size (default: vgg16_finetune.image_size)")
    args = parser.parse_args()

    import numpy as np

    from neural_pipelines.datasets import ImageFolderDataset
    from neural_pipelines.models import compile_model, trainable_count
    from neural_pipelines.models.transfer import split_at
    from neural_pipelines.pipelines.vgg16_finetune import nodes
    from neural_pipelines.training import image_file_dataset, seed_everything, steps

    pipeline, sample = parameters()
    settings = pipeline[args.variant]
    image_size = [args.image_size] * 2 if args.image_size else list(pipeline["image_size"])
    batch_size = int(settings["training"]["batch_size"])
    seed = int(pipeline["seed"])
    workdir = Path(tempfile.mkdtemp(prefix="vgg16_feature_cache_"))
    try:
        draw_sample(workdir / "images", sample, image_size)
        images = nodes.validate_images(ImageFolderDataset(str(workdir / "images")).load(), pipeline["classes"], pipeline["splits"], {})
        n_train, n_test = int((images["role"] == "train").sum()), int((images["role"] == "test").sum())

        # cached: one pass of the frozen base, then the head on arrays
        model = steps.build_model(
            settings["model"], settings["optimizer"], pipeline["compile"], settings["training"], steps.rgb_image_shapes(image_size), seed
        )
        started = time.perf_counter()
        features = nodes.cache_features(model, images, image_size, settings["features"])
        cache_seconds = time.perf_counter() - started
        _, top = split_at(model, settings["features"].get("cut_layer"))
        compile_model(top, settings["optimizer"], pipeline["compile"])
        cached_times = EpochTimes()
        seed_everything(seed)
        top.fit(
            features["x_train"],
            features["y_train"],
            batch_size=batch_size,
            epochs=args.epochs,
            validation_data=(features["x_test"], features["y_test"]),
            callbacks=[cached_times],
            verbose=0,
        )

        # frozen base every epoch: the full model on the images
        model = steps.build_model(
            settings["model"], settings["optimizer"], pipeline["compile"], settings["training"], steps.rgb_image_shapes(image_size), seed
        )
        train, test = (
            image_file_dataset(
                rows["filepath"].tolist(),
                rows["label"].to_numpy(np.float32),
                image_size=image_size,
                batch_size=batch_size,
                shuffle_seed=seed if role == "train" else None,
            )
            for role, rows in ((role, images[images["role"] == role]) for role in ("train", "test"))
        )
        full_times = EpochTimes()
        seed_everything(seed)
        model.fit(train, validation_data=test, epochs=args.epochs, callbacks=[full_times], shuffle=False, verbose=0)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    cached, full = steady(cached_times.seconds), steady(full_times.seconds)
    ratio = full / cached
    payback = cache_seconds / max(full - cached, 1e-9)
    print(
        f"{args.variant} ({settings['model'].get('architecture', 'vgg16')}, weights {settings['model'].get('weights')}) at "
        f"{image_size[0]}×{image_size[1]}: {n_train} train + {n_test} validation images, batch {batch_size}, "
        f"{args.epochs} epochs, {trainable_count(model):,} trainable of {model.count_params():,} parameters"
    )
    print(f"  one-off feature caching (frozen base, all images once): {cache_seconds:8.2f} s")
    print(f"  head on cached features:            {cached:8.3f} s/epoch  (epochs: {', '.join(f'{s:.3f}' for s in cached_times.seconds)})")
    print(f"  full model, frozen base each epoch: {full:8.3f} s/epoch  (epochs: {', '.join(f'{s:.2f}' for s in full_times.seconds)})")
    print(
        f"  ratio: {ratio:.0f}× faster per epoch on cached features (target ≥ {TARGET:.0f}×); "
        f"caching pays for itself after {payback:.1f} epochs"
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
