"""Transfer-learning builders: the course's VGG16 parameter counts, preprocessing in the model,
safe-mode loading, the split that shares layers."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from neural_pipelines.models import build_architecture, compile_model, trainable_count, transfer
from neural_pipelines.models.transfer import VGG16Preprocess, parts, split_at, unfreeze_top_layers

RMSPROP = {"name": "rmsprop", "learning_rate": 1e-4}
VGG16 = {"architecture": "vgg16", "weights": None}
MOBILENET_V2 = {"architecture": "mobilenet_v2", "weights": None, "dense_units": 128, "dropout": 0.2}
BINARY = {"loss": "binary_crossentropy", "metrics": ["accuracy"]}


def build_transfer_model(model: dict, optimizer: dict, image_size: list[int]) -> keras.Model:
    """The transfer model for RGB images of ``image_size``, compiled as vgg16_finetune's parameters compile it."""
    return compile_model(build_architecture(model, [*image_size, 3], 1), optimizer, BINARY)


@pytest.fixture(scope="module")
def vgg16_224() -> keras.Model:
    return build_transfer_model(VGG16, RMSPROP, [224, 224])


def test_vgg16_at_224_has_the_course_counts_and_a_frozen_base(vgg16_224: keras.Model) -> None:
    _, base, head = parts(vgg16_224)
    assert base.count_params() == 14_714_688  # VGG16 without its top
    assert trainable_count(base) == 0  # frozen
    assert head.count_params() == trainable_count(vgg16_224) == 25_089  # 7·7·512 + 1
    assert vgg16_224.count_params() == 14_714_688 + 25_089
    assert vgg16_224.input_shape == (None, 224, 224, 3) and vgg16_224.output_shape == (None, 1)
    assert vgg16_224.loss == "binary_crossentropy"
    assert isinstance(vgg16_224.optimizer, keras.optimizers.RMSprop)


def test_unfreezing_block5_leaves_7_104_513_trainable() -> None:
    model = build_transfer_model(VGG16, RMSPROP, [224, 224])
    unfrozen = unfreeze_top_layers(model, 4)
    _, base, _ = parts(model)
    assert unfrozen == ["block5_conv1", "block5_conv2", "block5_conv3", "block5_pool"]
    assert trainable_count(base) == 7_079_424  # three 3×3×512→512 convolutions
    assert trainable_count(model) == 7_104_513
    assert all(not layer.trainable for layer in base.layers[:-4])


def test_mobilenet_v2_at_224_counts_as_the_model_reports_them() -> None:
    model = build_transfer_model(MOBILENET_V2, {"name": "adam", "learning_rate": 1e-4}, [224, 224])
    _, base, head = parts(model)
    assert base.count_params() == 2_257_984 and trainable_count(base) == 0
    assert head.count_params() == trainable_count(model) == 1280 * 128 + 128 + 128 + 1  # 164,097
    assert [type(layer).__name__ for layer in head.layers] == ["GlobalAveragePooling2D", "Dense", "Dropout", "Dense"]
    assert head.layers[1].units == 128 and head.layers[2].rate == 0.2
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    preprocess, _, _ = parts(model)
    np.testing.assert_allclose(np.asarray(preprocess(np.array([[[[0.0, 127.5, 255.0]]]], np.float32))), [[[[-1.0, 0.0, 1.0]]]])


def test_vgg16_preprocess_layer_is_keras_preprocess_input() -> None:
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 4, 5, 3)).astype(np.float32)
    expected = keras.applications.vgg16.preprocess_input(pixels.copy())
    np.testing.assert_allclose(np.asarray(VGG16Preprocess()(pixels)), expected, rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(VGG16Preprocess()(pixels))[0, 0, 0], pixels[0, 0, 0, ::-1] - [103.939, 116.779, 123.68], rtol=1e-6
    )


def test_the_preprocess_layer_is_registered_so_safe_mode_can_rebuild_it() -> None:
    # A saved model loads in safe mode (the pipeline test reloads logged models) only because
    # no layer is a Lambda and this one is registered by name.
    config = keras.saving.serialize_keras_object(VGG16Preprocess(name="preprocess"))
    assert config["registered_name"] == "neural_pipelines>VGG16Preprocess"
    rebuilt = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert isinstance(rebuilt, VGG16Preprocess) and rebuilt.name == "preprocess"


@pytest.mark.parametrize("cut", [None, "block4_pool"])
def test_split_parts_compose_to_the_model_and_share_its_layers(cut: str | None) -> None:
    keras.utils.set_random_seed(0)
    model = build_transfer_model(VGG16, RMSPROP, [32, 32])
    frozen, top = split_at(model, cut)
    images = np.random.default_rng(2).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(top(frozen(images))), np.asarray(model(images)), rtol=1e-5, atol=1e-7)
    _, base, head = parts(model)
    assert top.get_layer("head") is head
    if cut == "block4_pool":
        assert frozen.output_shape == (None, 2, 2, 512)
        assert top.get_layer("block5_conv1") is base.get_layer("block5_conv1")


def test_configuration_errors_name_the_parameter_file() -> None:
    with pytest.raises(ValueError, match=r"Unknown architecture 'resnet'.*parameters_<pipeline>\.yml.*'vgg16'"):
        build_transfer_model({"architecture": "resnet", "weights": None}, RMSPROP, [32, 32])
    model = build_transfer_model(VGG16, RMSPROP, [32, 32])
    with pytest.raises(ValueError, match=r"vgg16 has no layer 'block9_pool'"):
        split_at(model, "block9_pool")
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adagrad'.*parameters_<pipeline>\.yml"):
        build_transfer_model(VGG16, {"name": "adagrad"}, [32, 32])


def test_imagenet_weights_offline_fail_at_once_saying_which_file_to_put_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(transfer.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(transfer, "WEIGHTS_HOST", "127.0.0.1")  # nothing listens on 443 here: refused at once
    calls: list[dict] = []

    def application(**kwargs: object) -> keras.Model:
        calls.append(kwargs)
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: [Errno -3] Temporary failure in name resolution")

    with pytest.raises(RuntimeError, match=r"vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5 into ~/\.keras/models/") as error:
        transfer._pretrained_base(application, "vgg16", (224, 224, 3), "imagenet")
    assert "127.0.0.1 is unreachable" in str(error.value) and calls == []  # Keras' own download (no timeout) never starts

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5").write_bytes(b"cached")
    with pytest.raises(RuntimeError, match=r"URL fetch failure.*mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1\.0_96_no_top\.h5"):
        transfer._pretrained_base(application, "mobilenet_v2", (96, 96, 3), "imagenet")
    assert calls[0]["weights"] == "imagenet"  # cached: no probe, Keras loads it
