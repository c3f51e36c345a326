"""Image classifier builders: the course's parameter counts, from the project's own parameter file."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from neural_pipelines.models.image_classifiers import build_image_classifier, make_optimizer

PARAMETERS = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf/base/parameters_image_cnn.yml").read_text())["image_cnn"]

# The course's tables (DESIGN.md, the image_cnn issue). By hand, e.g. dnn: 784*128+128 +
# 128*128+128 + 128*10+10 = 118,282; mnist_cnn: 320 + 18,496 + 73,856 + 1,152*10+10 = 104,202.
COURSE_PARAMETER_COUNTS = {
    "dnn": 118_282,
    "cnn": 53_578,
    "cnn_dnn": 243_786,
    "deep_cnn": 1_413_834,
    "mnist_cnn": 104_202,
}


def build(variant: str) -> keras.Model:
    settings = PARAMETERS[variant]
    return build_image_classifier(settings["model"], settings["optimizer"], PARAMETERS["image_shape"], len(PARAMETERS["classes"]))


@pytest.mark.parametrize("variant", list(COURSE_PARAMETER_COUNTS))
def test_configured_variant_has_the_course_parameter_count(variant: str) -> None:
    model = build(variant)
    assert model.count_params() == COURSE_PARAMETER_COUNTS[variant]
    assert model.name == variant
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    assert model.loss == "sparse_categorical_crossentropy"


def test_outputs_are_class_probabilities() -> None:
    keras.utils.set_random_seed(0)
    probabilities = np.asarray(build("cnn")(np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities >= 0).all()


def test_deep_cnn_layer_stack_and_optimizer_follow_the_course() -> None:
    model = build("deep_cnn")
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(layer.filters, layer.kernel_size) for layer in convolutions] == [
        (64, (7, 7)),
        (128, (3, 3)),
        (128, (3, 3)),
        (256, (3, 3)),
        (256, (3, 3)),
    ]
    assert {layer.padding for layer in convolutions} == {"same"}
    assert {type(layer.kernel_initializer).__name__ for layer in convolutions} == {"HeNormal"}
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.5, 0.5]
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [128, 64, 10]
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)


def test_other_variants_use_adam_at_the_keras_default_rate() -> None:
    for variant in ("dnn", "cnn", "cnn_dnn", "mnist_cnn"):
        optimizer = build(variant).optimizer
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(1e-3)


def test_cnn_dnn_is_the_cnn_plus_one_hidden_dense_layer() -> None:
    cnn, cnn_dnn = build("cnn"), build("cnn_dnn")
    # flatten gives 5*5*64 = 1600 features: the hidden Dense adds 1600*128+128 and the
    # output grows from 1600*10+10 to 128*10+10
    assert cnn_dnn.count_params() - cnn.count_params() == (1600 * 128 + 128) + (128 * 10 + 10) - (1600 * 10 + 10)


def test_optimizer_settings_are_passed_through() -> None:
    optimizer = make_optimizer({"name": "SGD", "learning_rate": 0.01, "momentum": 0.9})
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert float(optimizer.momentum) == pytest.approx(0.9)


def test_unknown_names_point_at_the_parameter_file() -> None:
    with pytest.raises(ValueError, match=r"'resnet'.*parameters_image_cnn\.yml.*'cnn'"):
        build_image_classifier({"architecture": "resnet"}, {"name": "adam"}, (28, 28, 1), 10)
    with pytest.raises(ValueError, match=r"optimizer 'adagrad'.*parameters_image_cnn\.yml"):
        make_optimizer({"name": "adagrad"})
