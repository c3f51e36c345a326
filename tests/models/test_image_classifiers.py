"""Image classifier builders: the course's parameter counts, from the project's own parameter file."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from neural_pipelines.models import ARCHITECTURES, build_architecture, make_optimizer, registry
from neural_pipelines.models.image_classifiers import IMAGE_CLASSIFIERS
from neural_pipelines.training import TrainingSettings
from neural_pipelines.training.steps import build_model

PARAMETERS = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf/base/parameters_image_cnn.yml").read_text())["image_cnn"]

# The course's parameter counts (its Fashion-MNIST and MNIST notebooks). By hand, e.g. dnn: 784*128+128 +
# 128*128+128 + 128*10+10 = 118,282; mnist_cnn: 320 + 18,496 + 73,856 + 1,152*10+10 = 104,202.
COURSE_PARAMETER_COUNTS = {"dnn": 118_282, "cnn": 53_578, "cnn_dnn": 243_786, "deep_cnn": 1_413_834, "mnist_cnn": 104_202, "mlp": 266_610}

# The course states no count for these; by hand (a Dense layer has inputs·units + units, a 3×3
# convolution (3·3·channels in + 1)·filters, pooling and dropout none):
HAND_COUNTED = {
    # 784·512+512 = 401,920; 512·256+256 = 131,328; 256·128+128 = 32,896; 128·10+10 = 1,290
    "mnist_mlp": 401_920 + 131_328 + 32_896 + 1_290,
    # (9·1+1)·64 = 640; (9·64+1)·64 = 36,928; (9·64+1)·128 = 73,856; (9·128+1)·128 = 147,584;
    # global average pooling leaves 128 features: 128·10+10 = 1,290
    "gap_cnn": 640 + 36_928 + 73_856 + 147_584 + 1_290,
    # (9·1+1)·32 = 320; 28 → 26 → pool 13, DepthPool 32 → 16 channels; (9·16+1)·64 = 9,280;
    # 13 → 11 → pool 5, DepthPool 64 → 32 channels: 5·5·32 = 800 features, 800·10+10 = 8,010
    "depthpool_cnn": 320 + 9_280 + 8_010,
}


def build(variant: str) -> keras.Model:
    """The variant as the pipeline's shared build step makes it from the parameter file."""
    settings = PARAMETERS[variant]
    shapes = {"input_shape": PARAMETERS["image_shape"], "outputs": len(PARAMETERS["classes"])}
    return build_model(
        settings["model"], settings["optimizer"], PARAMETERS["compile"], TrainingSettings(**settings["training"]), shapes, seed=0
    )


@pytest.mark.parametrize("variant", [*COURSE_PARAMETER_COUNTS, *HAND_COUNTED])
def test_configured_variant_has_the_course_parameter_count(variant: str) -> None:
    model = build(variant)
    assert model.count_params() == {**COURSE_PARAMETER_COUNTS, **HAND_COUNTED}[variant]
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
    for variant in ("dnn", "cnn", "cnn_dnn", "mnist_cnn", "mnist_mlp", "gap_cnn", "depthpool_cnn"):
        optimizer = build(variant).optimizer
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(1e-3)


def test_cnn_dnn_is_the_cnn_plus_one_hidden_dense_layer() -> None:
    cnn, cnn_dnn = build("cnn"), build("cnn_dnn")
    # flatten gives 5*5*64 = 1600 features: the hidden Dense adds 1600*128+128 and the
    # output grows from 1600*10+10 to 128*10+10
    assert cnn_dnn.count_params() - cnn.count_params() == (1600 * 128 + 128) + (128 * 10 + 10) - (1600 * 10 + 10)


def test_mlp_is_the_course_300_100_network_trained_with_plain_sgd() -> None:
    model = build("mlp")
    # 784·300+300 = 235,500; 300·100+100 = 30,100; 100·10+10 = 1,010: the course's summary, line by line
    assert [layer.count_params() for layer in model.layers] == [0, 235_500, 30_100, 1_010]
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)  # Keras' default rate for "sgd"


def test_mnist_mlp_and_gap_cnn_follow_the_course() -> None:
    mlp, gap = build("mnist_mlp"), build("gap_cnn")
    assert [type(layer).__name__ for layer in mlp.layers] == ["Flatten", "Dense", "Dense", "Dense", "Dropout", "Dense"]
    assert [layer.units for layer in mlp.layers if isinstance(layer, keras.layers.Dense)] == [512, 256, 128, 10]
    assert mlp.layers[4].rate == pytest.approx(0.5)
    assert [type(layer).__name__ for layer in gap.layers] == [
        *["Conv2D", "Conv2D", "MaxPooling2D", "Conv2D", "Conv2D"],
        *["GlobalAveragePooling2D", "Dropout", "Dense"],
    ]
    assert [layer.filters for layer in gap.layers if isinstance(layer, keras.layers.Conv2D)] == [64, 64, 128, 128]
    assert gap.layers[-2].rate == pytest.approx(0.5)
    for variant in ("mnist_mlp", "gap_cnn"):  # the course validates on the last 15% of the training images
        assert TrainingSettings(**PARAMETERS[variant]["training"]).validation_split == pytest.approx(0.15)


def test_depthpool_cnn_halves_the_channels_after_each_block() -> None:
    model = build("depthpool_cnn")
    assert [type(layer).__name__ for layer in model.layers] == [
        *["Conv2D", "MaxPooling2D", "DepthPool", "Conv2D", "MaxPooling2D", "DepthPool"],
        *["Flatten", "Dense"],
    ]
    assert [tuple(layer.output.shape[1:]) for layer in model.layers[:6]] == [
        (26, 26, 32),
        (13, 13, 32),
        (13, 13, 16),
        (11, 11, 64),
        (5, 5, 64),
        (5, 5, 32),
    ]
    # the same stack without DepthPool: (9·32+1)·64 = 18,496 and 5·5·64·10+10 = 16,010 instead of 9,280 and 8,010
    assert model.count_params() == HAND_COUNTED["depthpool_cnn"] == 320 + 18_496 + 16_010 - (18_496 - 9_280) - (16_010 - 8_010)


def test_a_depthpool_size_that_does_not_divide_the_filters_stops_the_build_naming_both() -> None:
    model = {**PARAMETERS["depthpool_cnn"]["model"], "filters": [30, 64], "depth_pool_size": 4}
    with pytest.raises(ValueError, match=r"30 input channels cannot be split into groups of pool_size=4"):
        build_architecture(model, (28, 28, 1), 10)


def test_image_classifier_names_are_not_taken_by_another_experiment_builder() -> None:
    # ARCHITECTURES merges every module's builders: a shared name would silently build the other
    # network (the course's MLP is registered as image_mlp because house_prices has an mlp)
    for name, builder in IMAGE_CLASSIFIERS.items():
        assert ARCHITECTURES[name] is builder, name


def test_optimizer_settings_are_passed_through() -> None:
    optimizer = make_optimizer({"name": "SGD", "learning_rate": 0.01, "momentum": 0.9})
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert float(optimizer.momentum) == pytest.approx(0.9)


def test_unknown_names_point_at_the_parameter_file() -> None:
    with pytest.raises(ValueError, match=r"'resnet'.*parameters_<pipeline>\.yml.*'cnn'"):
        build_architecture({"architecture": "resnet"}, (28, 28, 1), 10)
    with pytest.raises(ValueError, match=r"optimizer 'adagrad'.*parameters_<pipeline>\.yml"):
        make_optimizer({"name": "adagrad"})


# --- horse_or_human ----------------------------------------------------------------------

HORSE_OR_HUMAN = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf/base/parameters_horse_or_human.yml").read_text())[
    "horse_or_human"
]


def build_horse_or_human(variant: str, image_size: tuple[int, int] | None = None) -> keras.Model:
    settings = HORSE_OR_HUMAN[variant]
    shapes = {"input_shape": [*(image_size or HORSE_OR_HUMAN["image_size"]), 3], "outputs": 1}
    return build_model(
        settings["model"], settings["optimizer"], HORSE_OR_HUMAN["compile"], TrainingSettings(**settings["training"]), shapes, seed=0
    )


@pytest.mark.parametrize("variant", ["cnn", "cnn_augmented"])
def test_horse_or_human_cnn_has_the_course_parameter_count_at_300_pixels(variant: str) -> None:
    # 5 blocks: 300 → 298/149 → 147/73 → 71/35 → 33/16 → 14/7; convolutions 448 + 4,640 +
    # 18,496 + 36,928 × 2 = 97,440; Dense 512: 7·7·64·512 + 512 = 1,606,144; output 513.
    model = build_horse_or_human(variant, (300, 300))
    assert model.count_params() == 1_704_097
    assert model.name == variant
    assert model.output_shape == (None, 1)
    assert model.loss == "binary_crossentropy"
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)


def test_horse_or_human_cnn_at_the_base_input_size() -> None:
    # 128 → 126/63 → 61/30 → 28/14 → 12/6 → 4/2: 2·2·64 = 256 features, 256·512 + 512 = 131,584
    assert tuple(HORSE_OR_HUMAN["image_size"]) == (128, 128)
    assert build_horse_or_human("cnn").count_params() == 97_440 + 131_584 + 513 == 229_537
    # the sample's own 150×150 ends at 5/2 too; 112×112 ends at 3/1: 64 features
    assert build_horse_or_human("cnn", (150, 150)).count_params() == 229_537
    assert build_horse_or_human("cnn", (112, 112)).count_params() == 97_440 + (64 * 512 + 512) + 513 == 131_233


def test_horse_or_human_layer_stack_follows_the_course() -> None:
    plain, augmented = build_horse_or_human("cnn"), build_horse_or_human("cnn_augmented")
    kinds = [type(layer).__name__ for layer in plain.layers]
    assert kinds == ["Rescaling"] + ["Conv2D", "MaxPooling2D"] * 5 + ["Flatten", "Dense", "Dense"]
    assert [layer.filters for layer in plain.layers if isinstance(layer, keras.layers.Conv2D)] == [16, 32, 64, 64, 64]
    assert plain.layers[0].scale == pytest.approx(1 / 255)
    assert [type(layer).__name__ for layer in augmented.layers] == ["Sequential", "Rescaling", *kinds[1:-1], "Dropout", "Dense"]
    steps = augmented.get_layer("augmentation").layers
    assert [type(layer).__name__ for layer in steps] == ["RandomRotation", "RandomTranslation", "RandomShear", "RandomZoom", "RandomFlip"]
    rotation, translation, shear, zoom, flip = steps
    assert rotation.factor == pytest.approx((-40 / 360, 40 / 360))
    assert (translation.height_factor, translation.width_factor) == (0.2, 0.2)
    assert shear.x_factor == pytest.approx((0.0, 0.2)) and shear.y_factor == pytest.approx((0.0, 0.2))  # ± by a random sign
    assert flip.mode == "horizontal"
    assert {layer.fill_mode for layer in (rotation, translation, shear, zoom)} == {"nearest"}
    assert augmented.get_layer(index=-2).rate == pytest.approx(0.2)


def test_horse_or_human_augmentation_acts_only_in_training_and_the_model_reloads_in_safe_mode(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    model = build_horse_or_human("cnn_augmented", (96, 96))
    images = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype(np.float32)
    augmentation = model.get_layer("augmentation")
    np.testing.assert_array_equal(np.asarray(augmentation(images, training=False)), images)
    assert not np.allclose(np.asarray(augmentation(images, training=True)), images)
    predictions = model.predict(images, verbose=0)
    np.testing.assert_allclose(model.predict(images, verbose=0), predictions)  # inference: no randomness
    assert ((predictions > 0) & (predictions < 1)).all()
    path = tmp_path / "cnn_augmented.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)  # no Lambda layers: safe mode loads it
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), predictions, rtol=1e-5)
    assert reloaded.get_layer("augmentation").layers[2].x_factor == pytest.approx((0.0, 0.2))


def test_unknown_architecture_lists_every_known_one() -> None:
    with pytest.raises(ValueError, match=r"'resnet'.*horse_or_human_cnn.*add a builder"):
        build_architecture({"architecture": "resnet"}, (96, 96, 3), 1)


def test_two_builder_families_cannot_share_an_architecture_name() -> None:
    def first(input_shape, outputs):
        return None

    def second(input_shape, outputs):
        return None

    assert registry({"a": first}, {"b": second}) == {"a": first, "b": second}
    with pytest.raises(ValueError, match=r"Architecture name 'a' names both first and second: rename one\."):
        registry({"a": first}, {"a": second})
