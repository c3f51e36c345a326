"""Node-level tests of ``vgg16_finetune`` on tiny PNG folders written here: values, not just shapes."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from neural_pipelines.datasets import ImageFolderDataset
from neural_pipelines.models import trainable_count
from neural_pipelines.models.transfer import parts, split_at
from neural_pipelines.pipelines.vgg16_finetune import nodes
from neural_pipelines.pipelines.vgg16_finetune.pipeline import template_for
from neural_pipelines.reporting import render_block
from neural_pipelines.reporting.classification import binary_metrics
from neural_pipelines.training import TrainingSettings, load_image_array, steps

CLASSES = ["horses", "humans"]
SPLITS = {"train": "train", "test": "validation"}
SIZE = [32, 32]  # the smallest input VGG16 and MobileNetV2 accept
VGG16 = {"architecture": "vgg16", "weights": None}
BINARY = {"loss": "binary_crossentropy", "metrics": ["accuracy"]}
RMSPROP = {"name": "rmsprop", "learning_rate": 1e-3}
WHOLE_BASE = {"cut_layer": None, "batch_size": 3}
BLOCK4 = {"cut_layer": "block4_pool", "batch_size": 3}
TRAINING = TrainingSettings(batch_size=4, max_epochs=2)
EVALUATION = {"batch_size": 8, "threshold": 0.5, "check_images": 3, "check_tolerance": 1e-4}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def picture(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """Horses bright on the left, humans bright at the top, over dark noise."""
    pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    if label:
        pixels[: size // 2] = 220
    else:
        pixels[:, : size // 2] = 220
    return pixels


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A labelled folder (4 train, 2 validation images per class) and a flat folder of 4 new pictures."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    labelled = {
        f"{split}/{name}/{name}_{index}.png": picture(label, rng)
        for split, count in (("train", 4), ("validation", 2))
        for label, name in enumerate(CLASSES)
        for index in range(count)
    }
    ImageFolderDataset(str(root / "sample")).save(labelled)
    new = root / "new"
    new.mkdir()
    for index in range(4):
        Image.fromarray(picture(index % 2, rng)).convert("RGBA" if index == 3 else "RGB").save(new / f"new_{index}.png")
    return root / "sample", new


@pytest.fixture(scope="module")
def images(folders: tuple[Path, Path]) -> pd.DataFrame:
    return nodes.validate_images(ImageFolderDataset(str(folders[0])).load(), CLASSES, SPLITS, {"skip_corrupt": False})


def built() -> keras.Model:
    return steps.build_model(VGG16, RMSPROP, BINARY, TRAINING, steps.rgb_image_shapes(pd.DataFrame({"label": [0, 1]}), SIZE), seed=0)


def weights_by_layer(model: keras.Model) -> dict[str, list[np.ndarray]]:
    """Every layer's weights, copied, keyed by layer name (base layers by their own names)."""
    _, base, head = parts(model)
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in [*base.layers, head] if layer.weights}


# --- ingest -------------------------------------------------------------------------


def test_validation_labels_every_image_and_maps_the_validation_folder_to_test(images: pd.DataFrame) -> None:
    assert len(images) == 12
    assert (images["label"] == images["class_name"].map({"horses": 0, "humans": 1})).all()
    assert (images.loc[images["split"] == "validation", "role"] == "test").all()
    assert (images.loc[images["split"] == "train", "role"] == "train").all()
    with pytest.raises(ValueError, match=r"needs the roles \['train', 'test'\].*missing \['test'\]"):
        nodes.validate_images(images, CLASSES, {"train": "train"}, {})


# --- per variant --------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(images: pd.DataFrame) -> tuple[keras.Model, dict[str, np.ndarray], dict, list[np.ndarray]]:
    """A VGG16 transfer model, its cached features, its head trained on them, and the head's initial weights."""
    model = built()
    head_before = [np.array(w) for w in parts(model)[2].get_weights()]
    features = nodes.cache_features(model, images, SIZE, WHOLE_BASE)
    model, fit = nodes.train_model(model, features, RMSPROP, BINARY, TRAINING, WHOLE_BASE, seed=0)
    return model, features, fit, head_before


def test_cached_features_are_the_frozen_base_on_the_same_images(images: pd.DataFrame, trained) -> None:
    model, features, _, _ = trained
    _, base, _ = parts(model)
    train = images[images["role"] == "train"]
    pixels = load_image_array(train["filepath"], SIZE).astype(np.float32)
    expected = np.asarray(base(keras.applications.vgg16.preprocess_input(pixels.copy())))
    assert features["x_train"].dtype == np.float32 and features["x_train"].shape == (8, 1, 1, 512)
    np.testing.assert_allclose(features["x_train"], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(features["y_train"], train["label"].to_numpy())
    np.testing.assert_array_equal(features["y_test"], [0, 0, 1, 1])
    assert float(features["seconds"]) > 0


def test_the_trained_full_model_predicts_what_the_head_predicts_on_cached_features(images: pd.DataFrame, trained) -> None:
    model, features, fit, head_before = trained
    assert not np.array_equal(parts(model)[2].get_weights()[0], head_before[0])  # the full model's head was trained
    assert set(fit["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"} and fit["epochs_run"] == 2
    assert fit["n_params"] == 14_714_688 + 513 and fit["n_trainable_params"] == 513
    assert fit["metrics"]["feature_seconds"] == pytest.approx(float(features["seconds"]), abs=1e-3)
    assert nodes.save_model(model) is model

    evaluation, predictions = nodes.evaluate_model(model, features, images, SIZE, WHOLE_BASE, EVALUATION)
    test = images[images["role"] == "test"]
    direct = np.asarray(model(load_image_array(test["filepath"], SIZE).astype(np.float32))).reshape(-1)
    np.testing.assert_allclose(predictions["probabilities"], direct, rtol=1e-4, atol=1e-6)
    assert evaluation["full_model_check"] == {"images": 3, "max_abs_difference": pytest.approx(0, abs=1e-5)}
    expected = binary_metrics(test["label"], direct)
    assert evaluation["metrics"]["test_accuracy"] == pytest.approx(expected["accuracy"])
    assert evaluation["metrics"]["test_auc"] == pytest.approx(expected["auc"])
    assert evaluation["metrics"]["test_loss"] == pytest.approx(expected["loss"], rel=1e-4)
    assert evaluation["test_precision"] == pytest.approx(expected["precision"])
    predicted = (direct >= 0.5).astype(np.uint8)
    np.testing.assert_array_equal(predictions["predicted"], predicted)
    pairs = Counter(zip(test["label"].tolist(), predicted.tolist(), strict=True))  # (true, predicted) → images
    assert evaluation["confusion_matrix"] == [[pairs[(0, 0)], pairs[(0, 1)]], [pairs[(1, 0)], pairs[(1, 1)]]]

    metrics, summary = steps.record_results(evaluation, fit)
    assert [point["step"] for point in metrics["val_loss"]] == [1, 2]
    assert metrics["test_auc"] == [{"value": evaluation["metrics"]["test_auc"], "step": 0}]
    assert metrics["feature_seconds"][0]["value"] == fit["metrics"]["feature_seconds"] == summary["feature_seconds"]
    assert summary["n_trainable_params"] == 513 and summary["epochs_run"] == 2
    assert summary["cut_layer"] is None and summary["trained_layers"] == ["head"]

    stale = {**features, "x_test": features["x_test"] + 1.0}  # e.g. computed by another base
    with pytest.raises(RuntimeError, match=r"disagree by .* run the variant from its cache_features node"):
        nodes.evaluate_model(model, stale, images, SIZE, WHOLE_BASE, EVALUATION)


def test_a_patience_is_refused_because_the_validation_data_is_the_test_set(trained) -> None:
    model, features, _, _ = trained
    with pytest.raises(ValueError, match=r"training\.patience is 3 .*conf/base/parameters_vgg16_finetune\.yml.*validation is the test set"):
        nodes.train_model(model, features, RMSPROP, BINARY, TRAINING.model_copy(update={"patience": 3}), WHOLE_BASE, seed=0)


def test_fine_tuning_changes_only_block5_and_the_head_and_caches_block4_pool(images: pd.DataFrame) -> None:
    model = nodes.prepare_fine_tuning(built(), {"unfreeze_last_layers": 4}, {"name": "rmsprop", "learning_rate": 1e-3}, BINARY, VGG16)
    assert trainable_count(model) == 7_079_424 + 513
    before = weights_by_layer(model)
    features = nodes.cache_features(model, images, SIZE, BLOCK4)
    _, base, _ = parts(model)
    pixels = load_image_array(images.loc[images["role"] == "test", "filepath"], SIZE).astype(np.float32)
    up_to_block4 = keras.Model(base.input, base.get_layer("block4_pool").output)
    expected = np.asarray(up_to_block4(keras.applications.vgg16.preprocess_input(pixels.copy())))
    assert features["x_test"].shape == (4, 2, 2, 512)
    np.testing.assert_allclose(features["x_test"], expected, rtol=1e-4, atol=1e-6)

    _, fit = nodes.train_model(model, features, RMSPROP, BINARY, TRAINING.model_copy(update={"max_epochs": 1}), BLOCK4, seed=0)
    assert fit["n_trainable_params"] == 7_079_937 and fit["feature_shape"] == [2, 2, 512]
    assert fit["cut_layer"] == "block4_pool" and fit["trained_layers"] == ["block5_conv1", "block5_conv2", "block5_conv3", "head"]
    after = weights_by_layer(model)
    changed = {name for name in before if any(not np.array_equal(a, b) for a, b in zip(before[name], after[name], strict=True))}
    assert changed == {"block5_conv1", "block5_conv2", "block5_conv3", "head"}
    _, top = split_at(model, "block4_pool")
    np.testing.assert_allclose(np.asarray(top(features["x_test"])), np.asarray(model(pixels)), rtol=1e-4, atol=1e-6)


# --- trained from scratch on the images ----------------------------------------------

SCRATCH = {"architecture": "cats_vs_dogs_cnn", "filters": [32, 64, 128], "kernel_size": 3, "pool_size": 2}


def unbatched(dataset) -> tuple[np.ndarray, np.ndarray]:
    """All images and labels of a ``tf.data`` pipeline of ``(images, labels)`` batches, in the order it gives them."""
    images, labels = zip(*[(np.asarray(x), np.asarray(y)) for x, y in dataset], strict=True)
    return np.concatenate(images), np.concatenate(labels)


def test_from_scratch_batches_are_the_image_files_themselves(images: pd.DataFrame) -> None:
    batches = nodes.make_batches(images, SIZE, TRAINING, seed=0)
    train, test = images[images["role"] == "train"], images[images["role"] == "test"]
    expected_train = load_image_array(train["filepath"], SIZE).astype(np.float32)  # raw RGB 0..255, as the model takes it
    x, y = unbatched(batches["train"])
    order = [int(np.argmin(np.abs(expected_train - image).sum(axis=(1, 2, 3)))) for image in x]  # shuffled: find each image
    assert sorted(order) == list(range(8)) and x.max() > 1.0  # every training file once, not rescaled
    np.testing.assert_array_equal(x, expected_train[order])
    np.testing.assert_array_equal(y, train["label"].to_numpy()[order])
    x_test, y_test = unbatched(batches["validation"])
    np.testing.assert_array_equal(x_test, load_image_array(test["filepath"], SIZE).astype(np.float32))  # the test folder, in order
    np.testing.assert_array_equal(y_test, [0, 0, 1, 1])
    np.testing.assert_array_equal(batches["y_train"], train["label"].to_numpy())
    with pytest.raises(ValueError, match=r"training\.patience is 2 .*validation is the test set"):
        nodes.make_batches(images, SIZE, TRAINING.model_copy(update={"patience": 2}), seed=0)
    with pytest.raises(ValueError, match=r"validation_split is set .*validates on its test folder"):
        nodes.make_batches(images, SIZE, TRAINING.model_copy(update={"validation_split": 0.25}), seed=0)


def test_from_scratch_trains_every_layer_on_the_images_and_is_scored_like_the_others(images: pd.DataFrame) -> None:
    shapes = steps.rgb_image_shapes(images, SIZE)
    model = steps.build_model(SCRATCH, RMSPROP, BINARY, TRAINING, shapes, seed=0)
    before = [np.array(weight) for weight in model.weights]
    model, fit = steps.train_model(model, nodes.make_batches(images, SIZE, TRAINING, seed=0), TRAINING, seed=0)
    # 896 + 18,496 + 73,856 convolution weights, 4×4×128 + 1 into the sigmoid at 32×32: all of them train
    assert fit["n_params"] == fit["n_trainable_params"] == 95_297 and fit["epochs_run"] == 2
    assert all(not np.array_equal(old, np.array(new)) for old, new in zip(before, model.weights, strict=True))

    evaluation, predictions = nodes.evaluate_on_images(model, images, SIZE, EVALUATION)
    test = images[images["role"] == "test"]
    direct = np.asarray(model(load_image_array(test["filepath"], SIZE).astype(np.float32))).reshape(-1)
    np.testing.assert_allclose(predictions["probabilities"], direct, rtol=1e-5, atol=1e-6)
    expected = binary_metrics(test["label"], direct)
    assert evaluation["metrics"]["test_accuracy"] == pytest.approx(expected["accuracy"])
    assert evaluation["metrics"]["test_auc"] == pytest.approx(expected["auc"])
    np.testing.assert_array_equal(predictions["labels"], [0, 0, 1, 1])
    assert evaluation["trained_on"] == "images"
    trained = [model.get_layer(name) for name in evaluation["trained_layers"]]
    assert [type(layer).__name__ for layer in trained] == ["Conv2D", "Conv2D", "Conv2D", "Dense"]
    _, summary = steps.record_results(evaluation, fit)
    assert summary["n_trainable_params"] == summary["n_params"] and "feature_seconds" not in summary


def test_the_template_follows_the_variant_block() -> None:
    def names(block: dict) -> set[str]:
        return {node.name for node in template_for(block).nodes}

    scratch = names({"model": SCRATCH})
    assert {"make_batches", "model_shapes", "build_model", "train_model", "save_model", "evaluate_on_images"} <= scratch
    assert "cache_features" not in scratch  # nothing frozen, nothing cached
    (train,) = [node for node in template_for({"model": SCRATCH}).nodes if node.name == "train_model"]
    assert train.inputs[:2] == ["untrained_model", "batches"] and train.outputs == ["trained_model", "fit_record"]
    assert "cache_features" in names({"model": VGG16}) and "make_batches" not in names({"model": VGG16})


# --- predict and report --------------------------------------------------------------


class FixedModel:
    """Stands in for a Keras model: returns the given probabilities, one per image it is shown."""

    def __init__(self, probabilities: list[float]) -> None:
        self.probabilities = np.array(probabilities, np.float32).reshape(-1, 1)
        self.shown = 0

    def __call__(self, batch, training: bool = False) -> np.ndarray:
        assert batch.shape[1:] == (*SIZE, 3) and not training
        start, self.shown = self.shown, self.shown + int(batch.shape[0])
        return self.probabilities[start : self.shown]


SUMMARIES = {
    "feature_extraction": {"test_accuracy": 0.75, "test_auc": 0.8, "n_trainable_params": 513},
    "fine_tuning": {"test_accuracy": 0.75, "test_auc": 0.9, "n_trainable_params": 7_079_937},
    "mobilenet_v2": {"test_accuracy": 0.5, "test_auc": 0.5, "n_trainable_params": 164_097},
}
PREDICT = {"model": None, "threshold": 0.5, "batch_size": 2}


def new_pictures(folder: Path, tmp_path: Path) -> pd.DataFrame:
    """The validated table of the new pictures, written to CSV and read back as the pipeline does (no ``attrs``)."""
    validated = nodes.validate_new_images(ImageFolderDataset(str(folder), layout="flat").load(), PREDICT)
    validated.to_csv(tmp_path / "new_image_manifest.csv", index=False)
    return pd.read_csv(tmp_path / "new_image_manifest.csv")


def test_new_pictures_are_checked_up_front_and_a_corrupt_one_stops_the_run(folders: tuple[Path, Path], tmp_path: Path) -> None:
    table = new_pictures(folders[1], tmp_path)
    assert list(table.columns) == ["file", "filepath", "mode"]
    assert table["file"].tolist() == ["new_0.png", "new_1.png", "new_2.png", "new_3.png"]
    assert table["mode"].tolist() == ["RGB", "RGB", "RGB", "RGBA"]
    broken = tmp_path / "broken"
    shutil.copytree(folders[1], broken)
    (broken / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(Exception, match=r"cannot be decoded as images: .*zz_broken\.png"):
        nodes.validate_new_images(ImageFolderDataset(str(broken), layout="flat").load(), PREDICT)
    skipped = nodes.validate_new_images(ImageFolderDataset(str(broken), layout="flat").load(), {**PREDICT, "skip_corrupt": True})
    assert skipped["file"].tolist() == table["file"].tolist()


def test_predictions_give_the_class_and_its_probability_for_each_new_file(folders: tuple[Path, Path], tmp_path: Path) -> None:
    manifest = new_pictures(folders[1], tmp_path)
    models = {"fine_tuning": FixedModel([0.9, 0.2, 0.5, 0.01]), "feature_extraction": FixedModel([0.0] * 4)}
    table = nodes.predict_new_images(manifest, SUMMARIES, models, CLASSES, SIZE, PREDICT)
    assert list(table.columns) == ["file", "predicted_class", "confidence", "model"]
    assert table["file"].tolist() == ["new_0.png", "new_1.png", "new_2.png", "new_3.png"]
    assert table["predicted_class"].tolist() == ["humans", "horses", "humans", "horses"]  # p ≥ 0.5 → classes[1]
    np.testing.assert_allclose(table["confidence"], [0.9, 0.8, 0.5, 0.99], atol=1e-6)  # max(p, 1 − p)
    assert set(table["model"]) == {"fine_tuning"}  # tied accuracy, better AUC

    models["feature_extraction"].shown = 0
    chosen = nodes.predict_new_images(manifest, SUMMARIES, models, CLASSES, SIZE, {**PREDICT, "model": "feature_extraction"})
    assert set(chosen["model"]) == {"feature_extraction"} and set(chosen["predicted_class"]) == {"horses"}
    np.testing.assert_allclose(chosen["confidence"], 1.0)
    with pytest.raises(ValueError, match=r"predict\.model is 'vgg19'; use one of"):
        nodes.predict_new_images(manifest, SUMMARIES, models, CLASSES, SIZE, {**PREDICT, "model": "vgg19"})


TRAINED_PARTS = {
    "feature_extraction": {"cut_layer": None, "trained_layers": ["head"]},
    "fine_tuning": {"cut_layer": "block4_pool", "trained_layers": ["block5_conv1", "block5_conv2", "block5_conv3", "head"]},
    "mobilenet_v2": {"cut_layer": None, "trained_layers": ["head"]},
}


def report_inputs(folders: tuple[Path, Path], images: pd.DataFrame, tmp_path: Path) -> dict:
    history = {"loss": [0.7, 0.6], "val_loss": [0.7, 0.65], "accuracy": [0.5, 0.75], "val_accuracy": [0.5, 0.75]}
    summaries = {
        name: {
            **values,
            **TRAINED_PARTS[name],
            "n_params": 14_715_201,
            "test_loss": 0.6,
            "train_seconds": 1.0,
            "feature_seconds": 2.0,
            "epochs_run": 2,
            "history": history,
            "feature_spread": 0.05 if name != "mobilenet_v2" else 1e-12,
        }
        for name, values in SUMMARIES.items()
    }
    labels = np.array([0, 0, 1, 1], np.uint8)
    predictions = {
        name: {"probabilities": np.array([0.2, 0.7, 0.9, 0.4], np.float32), "predicted": np.array([0, 1, 1, 0], np.uint8), "labels": labels}
        for name in SUMMARIES
    }
    new_images = new_pictures(folders[1], tmp_path)
    new_predictions = pd.DataFrame(
        {
            "file": [f"new_{i}.png" for i in range(4)],
            "predicted_class": ["humans", "horses"] * 2,
            "confidence": [0.9, 0.8, 0.6, 0.7],
            "model": "fine_tuning",
        }
    )
    reporting = {
        "title": "transfer learning",
        "data_note": "Tiny test folders.",
        "pretrained_weights_hint": "Name a local weights file to use pretrained weights here.",
        "misclassified_images": 8,
        "constant_features_below": 1e-6,
        "pattern_layers": ["block1_conv1"],
        "pattern_filters": 2,
        "course_results": {"fine_tuning": "97.4% → 97.5%"},
    }
    return {
        "summaries": summaries,
        "predictions": predictions,
        "settings": {"feature_extraction": VGG16, "fine_tuning": VGG16, "mobilenet_v2": {"architecture": "mobilenet_v2", "weights": None}},
        "models": {"feature_extraction": built()},
        "images": images,
        "new_images": new_images,
        "new_predictions": new_predictions,
        "classes": CLASSES,
        "image_size": SIZE,
        "reporting": reporting,
    }


def test_report_ranks_the_variants_and_says_plainly_when_weights_are_random(
    folders: tuple[Path, Path], images: pd.DataFrame, tmp_path: Path
) -> None:
    inputs = report_inputs(folders, images, tmp_path)
    ranking, *figures, html = nodes.build_report(**inputs)
    assert ranking["model"].tolist() == ["fine_tuning", "feature_extraction", "mobilenet_v2"]
    assert list(ranking.columns)[:5] == ["model", "n_params", "n_trainable_params", "test_accuracy", "test_auc"]
    assert {"train_seconds", "feature_seconds", "epochs_run"} <= set(ranking.columns)
    assert len(figures) == 5 and html.count("data:image/png;base64,") == 5
    assert "What VGG16's filters respond to" in html
    assert "meaningless" in figures[4].get_suptitle()  # VGG16 has random weights here
    assert "random initialization" in html and "say nothing about transfer learning" in html
    assert "Name a local weights file to use pretrained weights here." in html  # the hint comes from the parameters
    assert "mobilenet_v2: the frozen part gives (nearly) the same features to every image" in html
    assert "With random weights this is expected of MobileNetV2" in html
    assert "97.4% → 97.5%" in html and "new_3.png" in html
    assert "the validation folder is the test set" in html
    assert f"Folder: {folders[0]}; 2 classes: 0 = horses, 1 = humans" in html
    # what trains comes from each variant's summary (its features.cut_layer), no path or layer is built in
    assert (
        "feature_extraction: head on the cached output of the whole base; "
        "fine_tuning: block5_conv1, block5_conv2, block5_conv3, head on the cached block4_pool output; "
        "mobilenet_v2: head on the cached output of the whole base" in html
    )
    assert "data/04_feature" not in html
    other_cut = {"model": "fine_tuning", "cut_layer": "block3_pool", "trained_layers": ["block4_conv1", "head"]}
    comparison = render_block(
        "vgg16_finetune.html.j2", "comparison", table=ranking, folders={"train": "train", "test": "validation"}, trained_parts=[other_cut]
    )
    assert "(fine_tuning: block4_conv1, head on the cached block3_pool output)" in comparison


def weights_note(settings: dict[str, dict]) -> str:
    """The report's paragraph on the bases' weights, as the template writes it."""
    weights = {name: model.get("weights") for name, model in settings.items()}
    all_pretrained = all(source == "imagenet" for source in weights.values())
    hint = {"pretrained_weights_hint": "(hint)"}
    return render_block("vgg16_finetune.html.j2", "weights", base_weights=weights, all_pretrained=all_pretrained, reporting=hint)


def test_the_weights_note_names_each_source() -> None:
    note = weights_note({"feature_extraction": {"weights": "imagenet"}, "mobilenet_v2": {"weights": "imagenet"}})
    assert "Base weights: feature_extraction: ImageNet, mobilenet_v2: ImageNet." in note
    assert "random feature extractor" not in note and "(hint)" not in note
    note = weights_note({"feature_extraction": {"weights": "/w/vgg16.h5"}, "mobilenet_v2": {"weights": None}})
    assert "Base weights: feature_extraction: the local file /w/vgg16.h5, mobilenet_v2: random initialization." in note
    assert "random feature extractor" in note and "(hint)" in note


def test_the_report_lists_a_variant_trained_from_scratch_next_to_the_transfer_variants(
    folders: tuple[Path, Path], images: pd.DataFrame, tmp_path: Path
) -> None:
    inputs = report_inputs(folders, images, tmp_path)
    history = {"loss": [0.7, 0.3], "val_loss": [0.7, 0.9], "accuracy": [0.6, 0.97], "val_accuracy": [0.5, 0.7]}
    inputs["summaries"]["from_scratch"] = {  # what record_results makes of its fit record and evaluate_on_images: no cache
        "n_params": 95_297,
        "n_trainable_params": 95_297,
        "test_accuracy": 0.7,
        "test_auc": 0.75,
        "test_loss": 0.9,
        "train_seconds": 3.0,
        "epochs_run": 2,
        "history": history,
        "trained_on": "images",
        "trained_layers": ["conv2d", "conv2d_1", "conv2d_2", "dense"],
    }
    inputs["predictions"]["from_scratch"] = inputs["predictions"]["fine_tuning"]
    inputs["settings"]["from_scratch"] = SCRATCH
    inputs["reporting"]["course_results"]["from_scratch"] = "cats vs dogs ~70%"
    ranking, *_, html = nodes.build_report(**inputs)
    assert ranking["model"].tolist() == ["fine_tuning", "feature_extraction", "from_scratch", "mobilenet_v2"]
    row = ranking.set_index("model").loc["from_scratch"]
    assert row["n_trainable_params"] == row["n_params"] == 95_297 and pd.isna(row["feature_seconds"])
    assert "Base weights: feature_extraction: random initialization, fine_tuning: random initialization, mobilenet_v2:" in html
    assert (
        "Trained from scratch: from_scratch (no pretrained base: random initial weights, trained on the images themselves) "
        "reaches 70.00% test accuracy after 2 epochs, with 97.00% accuracy on the training images in its last epoch "
        "(the course: cats vs dogs ~70%)" in html
    )
    assert "from_scratch: every layer (conv2d, conv2d_1, conv2d_2, dense) on the images, in batches read from the files" in html
    assert "<td>none (trained from scratch)</td>" in html
    assert "<td>–</td>" in html and "<td>NaN</td>" not in html  # its feature_seconds: nothing cached
