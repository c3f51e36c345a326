"""``cats_vs_dogs_cnn``, the course's cats-vs-dogs CNN trained from scratch (``vgg16_finetune.from_scratch``),
built from the project's own parameter files."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from neural_pipelines.models import ModelSettings
from neural_pipelines.training import TrainingSettings
from neural_pipelines.training.steps import build_model

CONF = Path(__file__).resolve().parents[2] / "conf"
PARAMETERS = yaml.safe_load((CONF / "base/parameters_vgg16_finetune.yml").read_text())["vgg16_finetune"]
SETTINGS = PARAMETERS["from_scratch"]


def build(image_size: tuple[int, int]) -> keras.Model:
    """``from_scratch`` as the pipeline's shared build step makes it, for RGB images of ``image_size``."""
    shapes = {"input_shape": [*image_size, 3], "outputs": 1}
    training = TrainingSettings(**SETTINGS["training"])
    return build_model(SETTINGS["model"], SETTINGS["optimizer"], PARAMETERS["compile"], training, shapes, seed=0)


def test_the_course_stack_on_rgb_images_with_one_sigmoid_output() -> None:
    model = build((224, 224))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Rescaling", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense"]
    assert [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == [32, 64, 128]
    assert model.layers[0].scale == pytest.approx(1 / 255)  # raw RGB 0..255 in, as the transfer variants take it
    assert model.output_shape == (None, 1) and model.layers[-1].activation.__name__ == "sigmoid"
    assert model.loss == "binary_crossentropy" and isinstance(model.optimizer, keras.optimizers.RMSprop)


def test_parameter_counts_at_the_course_and_the_base_sizes() -> None:
    convolutions = 896 + 18_496 + 73_856  # the MNIST CNN's three convolutions (320 there: one input channel), on RGB
    # 224 → 222/111 → 109/54 → 52: 52·52·128 features into Dense 1
    assert build((224, 224)).count_params() == convolutions + 52 * 52 * 128 + 1 == 439_361
    # 64 → 62/31 → 29/14 → 12 (the base env's image size)
    assert build((64, 64)).count_params() == convolutions + 12 * 12 * 128 + 1 == 111_681
    model = build((64, 64))
    assert not model.non_trainable_weights  # nothing frozen: every parameter trains


def test_the_model_reloads_in_safe_mode_and_predicts_raw_pixels(tmp_path: Path) -> None:
    model = build((64, 64))
    pixels = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)
    predictions = model.predict(pixels, verbose=0)
    assert ((predictions > 0) & (predictions < 1)).all()
    model.save(tmp_path / "from_scratch.keras")
    reloaded = keras.models.load_model(tmp_path / "from_scratch.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(pixels, verbose=0), predictions, rtol=1e-5)


def test_the_block_is_checked_against_the_builder_signature() -> None:
    assert ModelSettings(**SETTINGS["model"]).architecture == "cats_vs_dogs_cnn"
    with pytest.raises(ValueError, match=r"architecture cats_vs_dogs_cnn"):
        ModelSettings(**{**SETTINGS["model"], "filters": [32, 0, 128]})  # a layer of no filters
    with pytest.raises(ValueError, match=r"dense_units"):
        ModelSettings(**{**SETTINGS["model"], "dense_units": 512})  # not a size this network has
