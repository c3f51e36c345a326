"""``sample_images`` nodes: deterministic drawings in which shape, not colour, tells horses from humans,
and whose validation split is shifted by exactly the configured scene parameters."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from neural_pipelines.datasets.image_folder import png_bytes
from neural_pipelines.pipelines.sample_images.nodes import background, draw_image_folder, draw_unlabeled_images

SIDE = 96
SCENES = {
    "train": {"scale": [0.55, 0.8], "offset": [0.0, 0.08], "facing_right": 0.85, "tilt_degrees": 8},
    "validation": {"scale": [0.35, 0.55], "offset": [0.1, 0.2], "facing_right": 0.25, "tilt_degrees": 20},
}
#: Plain backgrounds without clutter, so the figure can be cut out by colour and measured.
MEASURABLE = {"backgrounds": ["plain"], "min_contrast": 90, "clutter": [0, 0], "noise_std": 4}
STYLE = {"backgrounds": ["plain", "gradient", "noise"], "min_contrast": 90, "clutter": [0, 3], "noise_std": 4}


def target(per_class: dict[str, int] | None = None, seed: int = 5, size: tuple[int, int] = (SIDE, SIDE)) -> dict[str, Any]:
    return {
        "seed": seed,
        "image_size": list(size),
        "figures": {"horses": "horse", "humans": "human"},
        "images_per_class": per_class or {"train": 40, "validation": 40},
        "scenes": copy.deepcopy(SCENES),
    }


def figure_box(image: np.ndarray) -> dict[str, float]:
    """Bounding box of the pixels that differ from the (plain) background by more than noise."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    mask = np.abs(image.astype(int) - np.median(border, axis=0)).max(axis=2) > 30
    rows, cols = np.nonzero(mask)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    centre_x, centre_y = (cols.max() + cols.min()) / 2, (rows.max() + rows.min()) / 2
    top = rows < rows.min() + 0.4 * height  # a horse's head and neck are in front, up high
    return {
        "aspect": width / height,
        "size": float(np.sqrt(mask.sum())),
        "offset": float(np.hypot(centre_x - (image.shape[1] - 1) / 2, centre_y - (image.shape[0] - 1) / 2) / SIDE),
        "faces_right": float(cols[top].mean() > centre_x),
    }


@pytest.fixture(scope="module")
def measured() -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Box statistics per (split, class) of 40 measurable images each."""
    boxes: dict[tuple[str, str], list[dict[str, float]]] = {}
    for key, image in draw_image_folder(target(), MEASURABLE).items():
        split, folder, _ = key.split("/")
        boxes.setdefault((split, folder), []).append(figure_box(image))
    return {group: {name: np.array([box[name] for box in rows]) for name in rows[0]} for group, rows in boxes.items()}


def test_every_split_and_class_is_drawn_at_the_configured_size_as_uint8_rgb() -> None:
    images = draw_image_folder(target({"train": 3, "validation": 2}, size=(40, 56)), STYLE)
    assert sorted(images) == sorted(
        [f"train/{folder}/{figure}_{n:04d}.png" for folder, figure in (("horses", "horse"), ("humans", "human")) for n in (1, 2, 3)]
        + [f"validation/{folder}/{figure}_{n:04d}.png" for folder, figure in (("horses", "horse"), ("humans", "human")) for n in (1, 2)]
    )
    assert {image.shape for image in images.values()} == {(40, 56, 3)}
    assert {image.dtype for image in images.values()} == {np.dtype(np.uint8)}
    assert len({png_bytes(image) for image in images.values()}) == len(images)  # no two alike


def test_the_same_seed_draws_byte_identical_pngs_and_another_seed_does_not() -> None:
    first = draw_image_folder(target({"train": 4, "validation": 2}), STYLE)
    again = draw_image_folder(target({"train": 4, "validation": 2}), STYLE)
    other = draw_image_folder(target({"train": 4, "validation": 2}, seed=6), STYLE)
    assert {key: png_bytes(image) for key, image in first.items()} == {key: png_bytes(image) for key, image in again.items()}
    assert all(png_bytes(first[key]) != png_bytes(other[key]) for key in first)


def test_more_validation_images_leave_the_training_images_as_they_were() -> None:
    few = draw_image_folder(target({"train": 3, "validation": 1}), STYLE)
    more = draw_image_folder(target({"train": 3, "validation": 5}), STYLE)
    for key, image in few.items():
        np.testing.assert_array_equal(more[key], image)


def test_shape_separates_the_classes_horses_are_wider_than_tall_humans_taller_than_wide(measured: dict) -> None:
    for split in SCENES:
        horses, humans = measured[(split, "horses")]["aspect"], measured[(split, "humans")]["aspect"]
        assert (horses > 1).mean() >= 0.9, split
        assert (humans < 1).mean() >= 0.95, split


def test_colour_does_not_separate_the_classes() -> None:
    images = draw_image_folder(target({"train": 200, "validation": 1}, size=(32, 32)), STYLE)
    train = sorted(key for key in images if key.startswith("train/"))
    colours = np.array([images[key].reshape(-1, 3).mean(axis=0) for key in train])
    labels = np.array([key.split("/")[1] == "humans" for key in train])
    accuracy = cross_val_score(LogisticRegression(), colours / 255, labels, cv=5).mean()
    assert accuracy < 0.62


def test_validation_figures_are_smaller_by_the_configured_scale_ratio(measured: dict) -> None:
    expected = np.mean(SCENES["validation"]["scale"]) / np.mean(SCENES["train"]["scale"])  # 0.45 / 0.675
    for folder in ("horses", "humans"):
        ratio = measured[("validation", folder)]["size"].mean() / measured[("train", folder)]["size"].mean()
        assert ratio == pytest.approx(expected, abs=0.07), folder


def test_figures_sit_off_centre_by_the_configured_offsets(measured: dict) -> None:
    for split, scene in SCENES.items():
        for folder in ("horses", "humans"):
            assert measured[(split, folder)]["offset"].mean() == pytest.approx(np.mean(scene["offset"]), abs=0.02), (split, folder)


def test_horses_face_right_as_often_as_configured(measured: dict) -> None:
    for split, scene in SCENES.items():
        assert measured[(split, "horses")]["faces_right"].mean() == pytest.approx(scene["facing_right"], abs=0.15), split


def test_unlabeled_images_are_balanced_shuffled_and_named_without_their_class() -> None:
    config = {
        "seed": 17,
        "image_size": [SIDE, SIDE],
        "figures": {"horses": "horse", "humans": "human"},
        "images": 12,
        "scene": SCENES["train"],
    }
    images = draw_unlabeled_images(config, MEASURABLE)
    assert sorted(images) == [f"new_{n:03d}.png" for n in range(1, 13)]
    wide = [figure_box(images[key])["aspect"] > 1 for key in sorted(images)]
    assert sum(wide) == 6
    assert wide not in ([True] * 6 + [False] * 6, [False] * 6 + [True] * 6, [True, False] * 6, [False, True] * 6)
    again = draw_unlabeled_images(config, MEASURABLE)
    assert all(np.array_equal(images[key], again[key]) for key in images)


def test_backgrounds_stay_near_their_base_colour_and_unknown_kinds_are_refused() -> None:
    base = np.array([100.0, 150.0, 200.0])
    rng = np.random.default_rng(0)
    assert np.array_equal(background(rng, "plain", (4, 6), base), np.broadcast_to(base, (4, 6, 3)))
    gradient = background(rng, "gradient", (20, 30), base)
    assert gradient.shape == (20, 30, 3)
    distance_to_base = np.linalg.norm(gradient - base, axis=2)
    assert distance_to_base.min() == pytest.approx(0.0, abs=1e-9)  # one corner is the base colour …
    assert distance_to_base.max() > 1  # … and the colour changes across the image
    noise = background(rng, "noise", (20, 30), base)
    assert noise.std(axis=(0, 1)).min() > 1
    assert np.abs(noise.mean(axis=(0, 1)) - base).max() < 60
    with pytest.raises(ValueError, match="unknown background 'stripes'"):
        background(rng, "stripes", (4, 4), base)
