"""`shapes`: the built-in procedural text-to-image dataset.

Scenes of one or two coloured shapes on a dark background, in the spirit of the CSS
(colour, shape, size) benchmark. Every attribute that a caption mentions is stored with the
image, so generated images can be judged against their captions (`t2izoo.metrics.shapes`).

* 8 colours x 5 shapes x 3 sizes x 9 grid positions; two-object scenes add a relation word.
* Ten captions per image from varied templates and synonyms: every caption names every
  attribute of every object, so all ten describe the same picture in different words.
* Geometry is sampled once per scene and rendered anti-aliased (4x supersampling) directly at
  any resolution, so the 64/128/256 px views of a scene agree.
* Splits `train` and `test` never use the held-out colour-shape pairs `NOVEL_PAIRS`; every scene
  of `novel` contains at least one of them (compositional generalisation).
* Deterministic: the same (seed, split, size) always gives the same scenes and captions.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import os

import numpy as np
from PIL import Image, ImageDraw

from t2izoo.data.base import CaptionedImageSet, cache_root, cached_array, config_hash

COLORS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "white")
COLOR_RGB = {
    "red": (220, 40, 40),
    "orange": (245, 140, 25),
    "yellow": (240, 225, 40),
    "green": (40, 175, 60),
    "cyan": (50, 215, 225),
    "blue": (45, 85, 235),
    "purple": (155, 60, 205),
    "white": (240, 240, 240),
}
SHAPES = ("circle", "square", "triangle", "star", "hexagon")
SIZES = ("small", "medium", "large")
SIZE_RADIUS = (0.08, 0.12, 0.16)  # circumradius as a fraction of the image side
# 3x3 grid, row-major: index = 3 * row + col.
POSITIONS = (
    "top left", "top", "top right",
    "left", "center", "right",
    "bottom left", "bottom", "bottom right",
)
SPLITS = ("train", "test", "novel")
# Held-out colour-shape pairs: one per shape, never seen in train or test.
NOVEL_PAIRS = frozenset(
    (COLORS[(3 * s + 1) % len(COLORS)], SHAPES[s]) for s in range(len(SHAPES))
)
MAX_OBJECTS = 2
# Attribute columns of `ShapesScenes.attributes[..., k]`.
ATTR_PRESENT, ATTR_COLOR, ATTR_SHAPE, ATTR_SIZE, ATTR_POSITION = range(5)
ATTRIBUTE_NAMES = ("color", "shape", "size", "position")

_COLOR_WORDS = {
    "red": ("red", "red", "crimson"),
    "orange": ("orange",),
    "yellow": ("yellow",),
    "green": ("green",),
    "cyan": ("cyan", "cyan", "turquoise"),
    "blue": ("blue",),
    "purple": ("purple", "purple", "violet"),
    "white": ("white",),
}
_SHAPE_WORDS = {
    "circle": ("circle", "circle", "disc"),
    "square": ("square", "square", "box"),
    "triangle": ("triangle",),
    "star": ("star", "star", "five pointed star"),
    "hexagon": ("hexagon", "hexagon", "six sided shape"),
}
_SIZE_WORDS = {
    "small": ("small", "little", "tiny"),
    "medium": ("medium", "medium sized", "mid sized"),
    "large": ("large", "big", "huge"),
}
_POSITION_PHRASES = {
    "top left": ("in the top left", "at the top left corner", "in the upper left"),
    "top": ("at the top", "at the top center", "in the upper middle"),
    "top right": ("in the top right", "at the top right corner", "in the upper right"),
    "left": ("on the left", "at the left middle", "on the left side"),
    "center": ("in the center", "in the middle", "at the center"),
    "right": ("on the right", "at the right middle", "on the right side"),
    "bottom left": ("in the bottom left", "at the bottom left corner", "in the lower left"),
    "bottom": ("at the bottom", "at the bottom center", "in the lower middle"),
    "bottom right": ("in the bottom right", "at the bottom right corner", "in the lower right"),
}
_ONE_OBJECT_TEMPLATES = (
    "a {size} {color} {shape} {pos}",
    "{pos} there is a {size} {color} {shape}",
    "there is a {size} {shape} {pos} and it is {color}",
    "this picture shows a {size} {color} {shape} {pos}",
    "{pos} sits a {color} {shape} that is {size}",
    "the image contains one {size} {shape} colored {color} {pos}",
    "a {color} {shape} , {size} , {pos}",
    "one {size} {color} {shape} placed {pos} of a dark background",
)
_TWO_OBJECT_TEMPLATES = (
    "a {o1} {pos1} and a {o2} {pos2}",
    "a {o1} {pos1} {rel} a {o2} {pos2}",
    "{pos2} a {o2} and {pos1} a {o1}",
    "{pos1} there is a {o1} , {rel} a {o2} {pos2}",
    "a {o2} {pos2} with a {o1} {pos1}",
    "two shapes : a {o1} {pos1} and a {o2} {pos2}",
)
_RELATIONS = {
    "left": ("to the left of", "left of"),
    "right": ("to the right of", "right of"),
    "above": ("above",),
    "below": ("below", "under"),
}


@dataclasses.dataclass(frozen=True)
class ShapesConfig:
    """How many scenes each split has and how they look.

    Args:
        num_train, num_test, num_novel: scenes per split.
        captions_per_image: captions generated per scene (10 as in Reed's CUB/Flowers data).
        two_object_fraction: probability that a scene holds two objects.
        seed: base seed; each split derives its own stream from it.
    """

    num_train: int = 10000
    num_test: int = 2000
    num_novel: int = 1000
    captions_per_image: int = 10
    two_object_fraction: float = 0.3
    seed: int = 0

    def num_for(self, split: str) -> int:
        return {"train": self.num_train, "test": self.num_test, "novel": self.num_novel}[split]


def relation(cell_a: int, cell_b: int) -> str:
    """Spatial relation of object a to object b from their grid cells."""
    row_a, col_a = divmod(cell_a, 3)
    row_b, col_b = divmod(cell_b, 3)
    if col_a != col_b:
        return "left" if col_a < col_b else "right"
    return "above" if row_a < row_b else "below"


@dataclasses.dataclass(frozen=True)
class ShapesScenes:
    """The sampled scenes of one split (geometry, attributes and captions; no pixels).

    Attributes:
        attributes: int32 [N, 2, 5]: (present, color, shape, size, position) per object.
        geometry: float32 [N, 2, 4]: (center x, center y, radius, rotation degrees), fractions of
            the image side.
        background: uint8 [N]: background grey level.
        captions: N lists of `captions_per_image` strings.
        class_ids: int32 [N]: colour * 5 + shape of the first object.
    """

    split: str
    attributes: np.ndarray
    geometry: np.ndarray
    background: np.ndarray
    captions: list
    class_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.captions)

    def render(self, index: int, size: int) -> np.ndarray:
        return render_scene(self.attributes[index], self.geometry[index], int(self.background[index]), size)

    def render_all(self, size: int, indices=None) -> np.ndarray:
        indices = range(len(self)) if indices is None else indices
        out = np.empty((len(indices), size, size, 3), np.uint8)
        for k, i in enumerate(indices):
            out[k] = self.render(i, size)
        return out


def _allowed_pairs(novel: bool):
    pairs = [(c, s) for c in range(len(COLORS)) for s in range(len(SHAPES))]
    is_novel = [(COLORS[c], SHAPES[s]) in NOVEL_PAIRS for c, s in pairs]
    return [p for p, n in zip(pairs, is_novel) if n == novel]


def sample_scenes(config: ShapesConfig, split: str) -> ShapesScenes:
    """Samples the scenes of `split` deterministically from `config.seed`."""
    if split not in SPLITS:
        raise ValueError(f"shapes has splits {SPLITS}, not {split!r}")
    n = config.num_for(split)
    rng = np.random.default_rng([config.seed, SPLITS.index(split)])
    seen_pairs = _allowed_pairs(novel=False)
    novel_pairs = _allowed_pairs(novel=True)
    attributes = np.zeros((n, MAX_OBJECTS, 5), np.int32)
    geometry = np.zeros((n, MAX_OBJECTS, 4), np.float32)
    background = rng.integers(15, 60, size=n).astype(np.uint8)
    captions = []
    for i in range(n):
        count = 2 if rng.random() < config.two_object_fraction else 1
        cells = rng.choice(9, size=count, replace=False)
        for k in range(count):
            pool = novel_pairs if (split == "novel" and k == 0) else seen_pairs
            color, shape = pool[rng.integers(len(pool))]
            size = rng.integers(len(SIZES))
            attributes[i, k] = (1, color, shape, size, cells[k])
            row, col = divmod(int(cells[k]), 3)
            jitter = rng.uniform(-0.035, 0.035, size=2)
            geometry[i, k] = (
                (col + 0.5) / 3 + jitter[0],
                (row + 0.5) / 3 + jitter[1],
                SIZE_RADIUS[size] * rng.uniform(0.93, 1.07),
                rng.uniform(-12, 12),
            )
        captions.append(make_captions(attributes[i], config.captions_per_image, rng))
    class_ids = attributes[:, 0, ATTR_COLOR] * len(SHAPES) + attributes[:, 0, ATTR_SHAPE]
    return ShapesScenes(split, attributes, geometry, background, captions, class_ids.astype(np.int32))


def _describe(obj, rng) -> dict:
    pick = lambda options: options[rng.integers(len(options))]  # noqa: E731
    return {
        "color": pick(_COLOR_WORDS[COLORS[obj[ATTR_COLOR]]]),
        "shape": pick(_SHAPE_WORDS[SHAPES[obj[ATTR_SHAPE]]]),
        "size": pick(_SIZE_WORDS[SIZES[obj[ATTR_SIZE]]]),
        "pos": pick(_POSITION_PHRASES[POSITIONS[obj[ATTR_POSITION]]]),
    }


def make_captions(objects: np.ndarray, count: int, rng: np.random.Generator) -> list:
    """`count` captions for one scene, each naming every attribute of every object."""
    num = int(objects[:, ATTR_PRESENT].sum())
    templates = _ONE_OBJECT_TEMPLATES if num == 1 else _TWO_OBJECT_TEMPLATES
    order = rng.permutation(np.resize(np.arange(len(templates)), max(count, len(templates))))[:count]
    captions = []
    for t in order:
        if num == 1:
            captions.append(templates[t].format(**_describe(objects[0], rng)))
            continue
        a, b = _describe(objects[0], rng), _describe(objects[1], rng)
        captions.append(_two_object_caption(templates[t], objects, a, b, rng))
    return captions


def _two_object_caption(template: str, objects: np.ndarray, a: dict, b: dict, rng) -> str:
    rel_options = _RELATIONS[relation(objects[0, ATTR_POSITION], objects[1, ATTR_POSITION])]
    return template.format(
        o1=f"{a['size']} {a['color']} {a['shape']}", pos1=a["pos"],
        o2=f"{b['size']} {b['color']} {b['shape']}", pos2=b["pos"],
        rel=rel_options[rng.integers(len(rel_options))],
    )


def has_two_colors(objects: np.ndarray) -> bool:
    """Whether a scene holds two objects of different colours (it has a colour-binding twin)."""
    present = np.flatnonzero(objects[:, ATTR_PRESENT])
    return len(present) == 2 and objects[present[0], ATTR_COLOR] != objects[present[1], ATTR_COLOR]


def binding_swapped_caption_pair(objects: np.ndarray, rng: np.random.Generator) -> tuple:
    """(true caption, the same caption with the two objects' colour words exchanged).

    For a two-object scene of two colours: one template and word choice, so the captions hold
    the same words and differ only in which object each colour word is bound to. Example:
    ("a small red circle at the top and a large blue star at the bottom",
     "a small blue circle at the top and a large red star at the bottom").
    """
    if not has_two_colors(objects):
        raise ValueError("a binding swap needs a scene of two objects of different colours")
    a, b = _describe(objects[0], rng), _describe(objects[1], rng)
    template = _TWO_OBJECT_TEMPLATES[rng.integers(len(_TWO_OBJECT_TEMPLATES))]
    state = rng.bit_generator.state  # the same relation phrase in both captions
    true = _two_object_caption(template, objects, a, b, rng)
    rng.bit_generator.state = state
    swapped = _two_object_caption(template, objects, dict(a, color=b["color"]), dict(b, color=a["color"]), rng)
    return true, swapped


def attribute_swapped_scene(objects: np.ndarray, attribute: str, rng: np.random.Generator) -> np.ndarray:
    """A copy of one scene's `objects` with `attribute` of one present object set to another value.

    A position moves to a cell no object occupies, so the scene stays one a caption can describe.
    `make_captions` of the result gives "hard" mismatched captions: they differ from the true
    ones in that one attribute only (e.g. "a small red star ..." for a small red circle).
    """
    if attribute not in ATTRIBUTE_NAMES:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {ATTRIBUTE_NAMES}")
    column = 1 + ATTRIBUTE_NAMES.index(attribute)
    out = np.array(objects, copy=True)
    present = np.flatnonzero(out[:, ATTR_PRESENT])
    k = present[rng.integers(len(present))]
    num_values = len((COLORS, SHAPES, SIZES, POSITIONS)[column - 1])
    taken = set(out[present, ATTR_POSITION]) if attribute == "position" else {out[k, column]}
    out[k, column] = rng.choice([v for v in range(num_values) if v not in taken])
    return out


def color_binding_swapped_scene(objects: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A two-object scene with its objects' colours exchanged ("a red circle and a blue square"
    -> "a blue circle and a red square"): the same words, bound to the other object.

    Scenes with one object, or two of one colour, have no such twin; they get the colour of one
    object changed instead (`attribute_swapped_scene(objects, "color")`).
    """
    if not has_two_colors(objects):
        return attribute_swapped_scene(objects, "color", rng)
    present = np.flatnonzero(objects[:, ATTR_PRESENT])
    out = np.array(objects, copy=True)
    out[present[0], ATTR_COLOR], out[present[1], ATTR_COLOR] = objects[present[1], ATTR_COLOR], objects[present[0], ATTR_COLOR]
    return out


# Kinds of hard negative `hard_negative_captions` can make: one attribute changed, or colours
# exchanged between two objects.
HARD_NEGATIVE_KINDS = ATTRIBUTE_NAMES + ("color_binding",)


def parse_hard_negative_kinds(value: str, field: str) -> tuple:
    """A comma-separated list of `HARD_NEGATIVE_KINDS` (config field `field`) as a tuple;
    ConfigError when empty, repeated or unknown."""
    from t2izoo.errors import ConfigError

    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    bad = [k for k in kinds if k not in HARD_NEGATIVE_KINDS]
    if bad or not kinds or len(set(kinds)) != len(kinds):
        raise ConfigError(f"{field}={value!r}: expected distinct comma-separated kinds from "
                          f"{', '.join(HARD_NEGATIVE_KINDS)}")
    return kinds


def hard_negative_scene(objects: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "color_binding":
        return color_binding_swapped_scene(objects, rng)
    if kind not in ATTRIBUTE_NAMES:
        raise ValueError(f"unknown hard-negative kind {kind!r}; choose from {HARD_NEGATIVE_KINDS}")
    return attribute_swapped_scene(objects, kind, rng)


def hard_negative_captions(objects: np.ndarray, count: int, rng: np.random.Generator,
                           kinds=ATTRIBUTE_NAMES) -> list:
    """For each of `kinds` (`HARD_NEGATIVE_KINDS`), `count` captions of the scene changed that way."""
    return [make_captions(hard_negative_scene(objects, k, rng), count, rng) for k in kinds]


_ATTRIBUTE_WORDS = {  # attribute name -> (value names, synonyms per value, template key)
    "color": (COLORS, _COLOR_WORDS, "color"),
    "shape": (SHAPES, _SHAPE_WORDS, "shape"),
    "size": (SIZES, _SIZE_WORDS, "size"),
    "position": (POSITIONS, _POSITION_PHRASES, "pos"),
}


def swapped_caption_pair(obj: np.ndarray, attribute: str, rng: np.random.Generator) -> tuple:
    """(true caption, the same caption with `attribute` changed to another random value).

    For one object `obj` (a row of `ShapesScenes.attributes`): one template and one word choice
    for everything else, so the two captions differ only in the words naming `attribute`. A
    joint image-text embedding that encodes the attribute must score the image closer to the
    first. Example: ("a small red circle in the center", "a small red star in the center").
    """
    if attribute not in _ATTRIBUTE_WORDS:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {tuple(_ATTRIBUTE_WORDS)}")
    names, synonyms, key = _ATTRIBUTE_WORDS[attribute]
    column = 1 + ATTRIBUTE_NAMES.index(attribute)
    true_value = int(obj[column])
    other = rng.choice([v for v in range(len(names)) if v != true_value])
    words = _describe(obj, rng)
    options = synonyms[names[other]]
    swapped = dict(words, **{key: options[rng.integers(len(options))]})
    template = _ONE_OBJECT_TEMPLATES[rng.integers(len(_ONE_OBJECT_TEMPLATES))]
    return template.format(**words), template.format(**swapped)


@functools.lru_cache(maxsize=None)
def _unit_polygon(shape: str):
    """Vertices on the unit circle (None for the circle), pointing up at rotation 0."""
    if shape == "circle":
        return None
    if shape == "square":
        angles = np.deg2rad([45, 135, 225, 315])
        return np.stack([np.cos(angles), np.sin(angles)], 1)
    if shape == "triangle":
        angles = np.deg2rad([-90, 30, 150])
        return np.stack([np.cos(angles), np.sin(angles)], 1) * 1.1
    if shape == "hexagon":
        angles = np.deg2rad(np.arange(6) * 60)
        return np.stack([np.cos(angles), np.sin(angles)], 1)
    if shape == "star":
        angles = np.deg2rad(-90 + np.arange(10) * 36)
        radius = np.where(np.arange(10) % 2 == 0, 1.15, 0.47)
        return np.stack([np.cos(angles) * radius, np.sin(angles) * radius], 1)
    raise ValueError(shape)


_SUPERSAMPLE = 4


def render_scene(objects: np.ndarray, geometry: np.ndarray, background: int, size: int) -> np.ndarray:
    """Renders one scene anti-aliased at `size` px; returns uint8 [size, size, 3]."""
    big = size * _SUPERSAMPLE
    canvas = Image.new("RGB", (big, big), (background, background, background))
    draw = ImageDraw.Draw(canvas)
    for obj, (cx, cy, radius, rotation) in zip(objects, geometry):
        if not obj[ATTR_PRESENT]:
            continue
        fill = COLOR_RGB[COLORS[obj[ATTR_COLOR]]]
        cx, cy, r = cx * big, cy * big, radius * big
        unit = _unit_polygon(SHAPES[obj[ATTR_SHAPE]])
        if unit is None:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
            continue
        theta = np.deg2rad(rotation)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        points = unit @ rot.T * r + (cx, cy)
        draw.polygon([tuple(p) for p in points], fill=fill)
    return np.asarray(canvas.reduce(_SUPERSAMPLE))


@functools.lru_cache(maxsize=None)
def renderer_version() -> str:
    """A fingerprint of the code that draws the scenes (its source): part of the render cache's key,
    so renders cached by another version of the renderer are never served."""
    parts = (render_scene, _unit_polygon, ShapesScenes.render, ShapesScenes.render_all)
    source = "".join(inspect.getsource(fn) for fn in parts)
    return hashlib.sha1(f"{source}|{_SUPERSAMPLE}".encode()).hexdigest()[:8]


class ShapesImageSet(CaptionedImageSet):
    """A `shapes` split served from renders cached on disk (one .npy per resolution).

    Args:
        split: `train`, `test` or `novel`.
        config: `ShapesConfig` (sizes and seed of the splits).
        cache: cache renders under `t2izoo.data.base.cache_root()`; off in some tests.

    Example:
        >>> ds = ShapesImageSet("train", ShapesConfig(num_train=100))
        >>> ds.load_images([0, 1], sizes=(64,))[64].shape
        (2, 64, 64, 3)
    """

    name = "shapes"
    flip = False  # captions say "left" and "right"

    def __init__(self, split: str = "train", config: ShapesConfig = ShapesConfig(), cache: bool = True):
        self.split = split
        self.config = config
        self.cache = cache
        self.scenes = sample_scenes(config, split)
        self.captions = self.scenes.captions
        self.class_ids = self.scenes.class_ids
        self.attributes = self.scenes.attributes
        self._arrays = {}

    def cache_path(self, size: int) -> str:
        """Where the renders at `size` px are cached: keyed by the config and the renderer's version."""
        key = config_hash(dataclasses.asdict(self.config))
        return os.path.join(cache_root(), "shapes", f"{key}_r{renderer_version()}_{self.split}_{size}.npy")

    def images(self, size: int) -> np.ndarray:
        """All renders of the split at `size` px, uint8 [N, size, size, 3] (cached)."""
        if size not in self._arrays:
            build = lambda: self.scenes.render_all(size)  # noqa: E731
            if self.cache:
                self._arrays[size] = cached_array(self.cache_path(size), build, (len(self), size, size, 3))
            else:
                self._arrays[size] = build()
        return self._arrays[size]

    def load_images(self, indices, sizes, rng=None) -> dict:
        indices = np.asarray(indices)
        order = np.argsort(indices)  # sorted reads are faster on a memory map
        out = {}
        for s in sizes:
            batch = np.empty((len(indices), s, s, 3), np.uint8)
            batch[order] = self.images(s)[indices[order]]
            out[s] = batch
        return out


# Attributes a manipulation edit changes (`edit_scene`); position is left to the layout.
EDIT_ATTRIBUTES = ("color", "shape", "size")


@dataclasses.dataclass(frozen=True)
class SceneEdit:
    """One edit of one scene: `attribute` of object `obj` goes from `old` to `new`.

    Attributes:
        attribute: "color", "shape" or "size" (`EDIT_ATTRIBUTES`).
        obj: index of the edited object in the scene's attribute rows.
        old, new: value indices (into COLORS, SHAPES or SIZES); equal for a no-op edit.
        objects: int [2, 5]: the edited scene's attributes (the source's with one entry changed).
        caption: a caption of the edited scene (it names every attribute of every object, the
            new value included).
    """

    attribute: str
    obj: int
    old: int
    new: int
    objects: np.ndarray
    caption: str

    @property
    def column(self) -> int:
        return 1 + ATTRIBUTE_NAMES.index(self.attribute)

    @property
    def is_noop(self) -> bool:
        return self.old == self.new


def edit_scene(objects: np.ndarray, attribute: str, rng: np.random.Generator, allow_noop: bool = False) -> SceneEdit:
    """Edits `attribute` of one present object of a scene and captions the result.

    The new value is drawn uniformly from the attribute's other values (`allow_noop`: from all
    of them, so an edit may ask for what the image already shows). Example: a scene "a small red
    circle in the center" edited in colour gives e.g. objects with colour blue and the caption
    "a small blue circle in the center" in one of the dataset's templates.
    """
    if attribute not in EDIT_ATTRIBUTES:
        raise ValueError(f"unknown edit attribute {attribute!r}; choose from {EDIT_ATTRIBUTES}")
    column = 1 + ATTRIBUTE_NAMES.index(attribute)
    values = len((COLORS, SHAPES, SIZES)[EDIT_ATTRIBUTES.index(attribute)])
    present = np.flatnonzero(objects[:, ATTR_PRESENT])
    k = int(present[rng.integers(len(present))])
    old = int(objects[k, column])
    choices = list(range(values)) if allow_noop else [v for v in range(values) if v != old]
    new = int(choices[rng.integers(len(choices))])
    edited = np.array(objects, copy=True)
    edited[k, column] = new
    return SceneEdit(attribute, k, old, new, edited, make_captions(edited, 1, rng)[0])


def edited_geometry(geometry: np.ndarray, source: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """The geometry of an edited scene: the source's, each object's radius rescaled when its size
    changed (so a render of the edited scene keeps everything else in place)."""
    out = np.array(geometry, copy=True)
    for k in range(len(source)):
        if source[k, ATTR_PRESENT] and source[k, ATTR_SIZE] != edited[k, ATTR_SIZE]:
            out[k, 2] *= SIZE_RADIUS[edited[k, ATTR_SIZE]] / SIZE_RADIUS[source[k, ATTR_SIZE]]
    return out
