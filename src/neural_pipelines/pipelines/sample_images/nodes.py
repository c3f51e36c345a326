"""Nodes of ``sample_images``: procedurally drawn horses and humans, written as image folders.

No image dataset can be downloaded in the base environment, so this pipeline draws a small
stand-in for horse-or-human (and the folders ``vgg16_finetune`` reads) in the real datasets'
layout: ``<split>/<class>/<image>.png``. What tells the classes apart is *shape*, as in the
photos: a horse is a horizontal body on four legs with a neck and head in front; a human is
upright on two legs with two arms. Everything else is random and shared by both classes:
pose (leg, arm, neck angles), size, position, tilt, facing direction, two colours per
figure, the background (plain, gradient or blotchy noise), distractor shapes and pixel noise.

The validation split is drawn from a *shifted* scene distribution (other sizes, positions,
tilts and facing directions, see ``parameters_sample_images.yml``) so that a CNN trained
without augmentation meets things it has never seen, which augmentation (zoom, shift,
rotation, flip) can teach it.

Every image comes from ``numpy.random.default_rng([seed, split, class])``: the same seed
draws byte-identical PNGs, and changing the number of validation images leaves the training
images as they were. Images are drawn at the configured size directly (no resampling).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

logger = logging.getLogger(__name__)

#: A figure part: a polygon in figure units (x forward, y up; about one unit across) and its colour role.
Part = tuple[np.ndarray, str]

ELLIPSE_POINTS = 24
MAX_COLOUR_TRIES = 100


# --- geometry in figure units ---------------------------------------------------------


def heading(degrees: float) -> np.ndarray:
    """Unit vector ``degrees`` away from straight down, turned forward (+x): 90 is forward, 180 up."""
    radians = np.radians(degrees)
    return np.array([np.sin(radians), -np.cos(radians)])


def ellipse(centre: Sequence[float], radii: Sequence[float]) -> np.ndarray:
    """An axis-aligned ellipse as a polygon (so it rotates with the figure)."""
    angles = np.linspace(0.0, 2.0 * np.pi, ELLIPSE_POINTS, endpoint=False)
    return np.column_stack([centre[0] + radii[0] * np.cos(angles), centre[1] + radii[1] * np.sin(angles)])


def segment(start: np.ndarray, end: np.ndarray, width: float) -> np.ndarray:
    """A straight bar of ``width`` from ``start`` to ``end``."""
    along = end - start
    normal = np.array([-along[1], along[0]]) / (np.linalg.norm(along) + 1e-12) * width / 2.0
    return np.array([start + normal, end + normal, end - normal, start - normal])


def limb(
    start: Sequence[float], angles: Sequence[float], lengths: Sequence[float], width: float, role: str
) -> tuple[list[Part], np.ndarray]:
    """Jointed bars (thigh and shin, upper arm and forearm …) with rounded joints; returns the parts and the tip."""
    parts: list[Part] = []
    point = np.asarray(start, dtype=float)
    for angle, length in zip(angles, lengths, strict=False):
        tip = point + length * heading(angle)
        parts.append((segment(point, tip, width), role))
        parts.append((ellipse(tip, (width / 2.0, width / 2.0)), role))
        point = tip
    return parts, point


# --- the two figures ------------------------------------------------------------------


def horse(rng: np.random.Generator) -> list[Part]:
    """A side view: horizontal body, four legs in a random gait, neck and head in front, a tail behind."""
    parts: list[Part] = []
    for hip_x in (-0.27, -0.19, 0.19, 0.27):
        thigh = rng.uniform(-25.0, 25.0)
        leg, hoof = limb((hip_x, -0.04), [thigh, thigh + rng.uniform(-25.0, 10.0)], [0.21, 0.21], 0.06, "main")
        parts += [*leg, (ellipse(hoof, (0.04, 0.03)), "accent")]
    tail, _ = limb((-0.34, 0.06), [rng.uniform(-60.0, -20.0), rng.uniform(-40.0, -5.0)], [0.16, 0.14], 0.05, "accent")
    parts += tail
    parts.append((ellipse((0.0, 0.0), (0.36, 0.13)), "main"))
    neck_start = np.array([0.26, 0.04])
    neck_end = neck_start + 0.30 * heading(rng.uniform(115.0, 150.0))
    parts.append((segment(neck_start, neck_end, 0.13), "main"))
    parts.append((segment(neck_start + np.array([-0.05, 0.05]), neck_end + np.array([-0.04, 0.02]), 0.04), "accent"))  # mane
    head_tip = neck_end + 0.22 * heading(rng.uniform(40.0, 80.0))
    parts += [(ellipse(neck_end, (0.065, 0.065)), "main"), (segment(neck_end, head_tip, 0.10), "main")]
    parts.append((segment(neck_end + np.array([-0.02, 0.03]), neck_end + np.array([0.0, 0.11]), 0.035), "main"))  # ear
    return parts


def human(rng: np.random.Generator) -> list[Part]:
    """A front view: upright torso and head, two legs apart, two arms in independent random poses."""
    parts: list[Part] = []
    for side in (-1.0, 1.0):
        hip = side * rng.uniform(0.0, 20.0)
        leg, _ = limb((side * 0.05, 0.0), [hip, hip + rng.uniform(-8.0, 8.0)], [0.24, 0.24], 0.075, "accent")
        parts += leg
    parts.append((np.array([[-0.11, 0.30], [0.11, 0.30], [0.085, 0.0], [-0.085, 0.0]]), "main"))
    parts.append((segment(np.array([0.0, 0.28]), np.array([0.0, 0.35]), 0.05), "main"))
    parts += [(ellipse((0.0, 0.42), (0.07, 0.085)), "main"), (ellipse((0.0, 0.475), (0.065, 0.035)), "accent")]  # head, hair
    for side in (-1.0, 1.0):
        shoulder = rng.uniform(5.0, 60.0)
        arm, _ = limb((side * 0.11, 0.28), [side * shoulder, side * (shoulder + rng.uniform(-20.0, 70.0))], [0.16, 0.15], 0.05, "main")
        parts += arm
    return parts


FIGURES: dict[str, Callable[[np.random.Generator], list[Part]]] = {"horse": horse, "human": human}


# --- scenes -----------------------------------------------------------------------------


def contrasting_colour(rng: np.random.Generator, against: np.ndarray, min_distance: float) -> np.ndarray:
    """A random RGB colour at least ``min_distance`` (Euclidean, 0..255 units) from ``against``."""
    for _ in range(MAX_COLOUR_TRIES):
        colour = rng.uniform(0.0, 255.0, 3)
        if np.linalg.norm(colour - against) >= min_distance:
            return colour
    return 255.0 - against


def background(rng: np.random.Generator, kind: str, size: tuple[int, int], base: np.ndarray) -> np.ndarray:
    """Float ``(height, width, 3)`` background around the ``base`` colour: plain, a gradient, or blotchy noise."""
    height, width = size
    if kind == "plain":
        return np.broadcast_to(base, (height, width, 3)).astype(float)
    if kind == "gradient":
        other = np.clip(base + rng.normal(0.0, 45.0, 3), 0.0, 255.0)
        direction = heading(rng.uniform(0.0, 360.0))
        rows, cols = np.mgrid[0:height, 0:width]
        along = cols / max(width - 1, 1) * direction[0] + rows / max(height - 1, 1) * direction[1]
        t = ((along - along.min()) / (np.ptp(along) + 1e-12))[..., None]
        return (1.0 - t) * base + t * other
    if kind == "noise":
        coarse = np.clip(base + rng.normal(0.0, 35.0, (5, 5, 3)), 0.0, 255.0).astype(np.uint8)
        return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=float)
    raise ValueError(f"unknown background {kind!r}; use plain, gradient or noise")


def place(parts: list[Part], rng: np.random.Generator, scene: Mapping[str, Any], size: tuple[int, int]) -> list[tuple[np.ndarray, str]]:
    """Parts in pixel coordinates: tilted, maybe mirrored, scaled and moved so their bounding box centre lands at the scene's offset."""
    height, width = size
    side = min(height, width)
    tilt = np.radians(rng.uniform(-scene["tilt_degrees"], scene["tilt_degrees"]))
    mirror = 1.0 if rng.random() < scene["facing_right"] else -1.0
    scale = rng.uniform(*scene["scale"]) * side
    rotation = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
    transformed = [((polygon * [mirror, 1.0]) @ rotation.T * scale * [1.0, -1.0], role) for polygon, role in parts]  # y down in pixels
    points = np.vstack([polygon for polygon, _ in transformed])
    centre = (points.min(axis=0) + points.max(axis=0)) / 2.0
    shift = rng.uniform(*scene["offset"]) * side * heading(rng.uniform(0.0, 360.0))
    target = np.array([width / 2.0, height / 2.0]) + shift
    return [(polygon - centre + target, role) for polygon, role in transformed]


def clutter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, count: int, size: tuple[int, int]) -> None:
    """``count`` random ellipses and rectangles behind the figure, so not every blob is the subject."""
    height, width = size
    for _ in range(count):
        radius = rng.uniform(0.03, 0.1) * min(height, width)
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        box = [x - radius, y - radius * rng.uniform(0.4, 1.0), x + radius, y + radius * rng.uniform(0.4, 1.0)]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)  # noqa: PLR2004 (a fair coin)


def draw_image(
    rng: np.random.Generator, figure: str, scene: Mapping[str, Any], style: Mapping[str, Any], size: tuple[int, int]
) -> np.ndarray:
    """One uint8 ``(height, width, 3)`` picture of a ``figure`` (``horse`` or ``human``) in a random scene."""
    base = rng.uniform(0.0, 255.0, 3)
    kind = style["backgrounds"][rng.integers(len(style["backgrounds"]))]
    canvas = Image.fromarray(np.clip(np.round(background(rng, kind, size, base)), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    clutter(draw, rng, int(rng.integers(style["clutter"][0], style["clutter"][1] + 1)), size)
    colours = {role: contrasting_colour(rng, base, style["min_contrast"]) for role in ("main", "accent")}
    for polygon, role in place(FIGURES[figure](rng), rng, scene, size):
        draw.polygon([tuple(point) for point in polygon], fill=tuple(int(c) for c in colours[role]))
    pixels = np.asarray(canvas, dtype=float) + rng.normal(0.0, style["noise_std"], (*size, 3))
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


# --- nodes ----------------------------------------------------------------------------


def _size(target: Mapping[str, Any]) -> tuple[int, int]:
    height, width = target["image_size"]
    return int(height), int(width)


def draw_image_folder(target: dict[str, Any], style: dict[str, Any]) -> dict[str, np.ndarray]:
    """``{"<split>/<class>/<figure>_0001.png": uint8 image}`` for every split and class of ``target``.

    Args:
        target: ``seed``, ``image_size`` (height, width), ``figures`` (class folder → ``horse``
            or ``human``), ``images_per_class`` (split → count) and ``scenes`` (split → scene:
            ``scale``, ``offset`` ranges, ``facing_right`` probability, ``tilt_degrees``).
        style: ``backgrounds``, ``min_contrast``, ``clutter`` (min, max), ``noise_std``.
    """
    size = _size(target)
    images: dict[str, np.ndarray] = {}
    for split_index, (split, count) in enumerate(target["images_per_class"].items()):
        for class_index, (folder, figure) in enumerate(target["figures"].items()):
            rng = np.random.default_rng([int(target["seed"]), split_index, class_index])
            for number in range(1, int(count) + 1):
                images[f"{split}/{folder}/{figure}_{number:04d}.png"] = draw_image(rng, figure, target["scenes"][split], style, size)
    logger.info(
        "Drew %d images of %s×%s pixels: %s per class in %s",
        len(images),
        *size,
        ", ".join(f"{count} {split}" for split, count in target["images_per_class"].items()),
        ", ".join(target["figures"]),
    )
    return images


def draw_unlabeled_images(target: dict[str, Any], style: dict[str, Any]) -> dict[str, np.ndarray]:
    """``{"new_001.png": uint8 image}``: ``images`` pictures of the ``figures`` in shuffled order, names that do not tell the class.

    Args:
        target: ``seed``, ``image_size``, ``figures`` (kinds drawn in turn: horse, human …),
            ``images`` (how many) and ``scene``.
        style: as for :func:`draw_image_folder`.
    """
    size = _size(target)
    rng = np.random.default_rng(int(target["seed"]))
    figures = list(target["figures"].values())
    kinds = rng.permutation([figures[number % len(figures)] for number in range(int(target["images"]))])
    images = {
        f"new_{number:03d}.png": draw_image(rng, str(kind), target["scene"], style, size) for number, kind in enumerate(kinds, start=1)
    }
    logger.info("Drew %d unlabeled images of %s×%s pixels", len(images), *size)
    return images
