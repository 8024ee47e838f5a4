"""Attribute-swap accuracy: caption pairs differ in one attribute only; oracle encoders score as expected."""

import re

import numpy as np
import pytest

from t2izoo.data import shapes
from t2izoo.metrics.attribute_swap import shapes_swap_accuracy, swap_accuracy


def _words_of(table, caption):
    """Values of `table` (value -> synonyms) that `caption` names, longest synonym first."""
    found = set()
    for value, options in table.items():
        for option in options:
            if re.search(rf"\b{option}\b", caption):
                found.add(value)
    return found


@pytest.mark.parametrize("attribute, table", [("color", shapes._COLOR_WORDS), ("shape", shapes._SHAPE_WORDS),
                                              ("size", shapes._SIZE_WORDS)])
def test_pairs_differ_in_the_swapped_attribute_only(attribute, table):
    rng = np.random.default_rng(0)
    image_set = shapes.ShapesImageSet("test", shapes.ShapesConfig(num_train=10, num_test=40, num_novel=10),
                                      cache=False)
    names = dict(color=shapes.COLORS, shape=shapes.SHAPES, size=shapes.SIZES)[attribute]
    column = 1 + shapes.ATTRIBUTE_NAMES.index(attribute)
    for obj in image_set.attributes[image_set.attributes[:, 1, 0] == 0][:, 0]:
        true, swapped = shapes.swapped_caption_pair(obj, attribute, rng)
        true_values, swapped_values = _words_of(table, true), _words_of(table, swapped)
        assert names[obj[column]] in true_values
        assert names[obj[column]] not in swapped_values and swapped_values
        # Everything else is worded identically: removing the attribute words leaves the same text.
        strip = lambda c: re.sub("|".join(sorted((o for v in table.values() for o in v), key=len, reverse=True)),  # noqa: E731
                                 "_", c)
        assert strip(true) == strip(swapped)


def test_unknown_attribute_is_an_error():
    with pytest.raises(ValueError, match="unknown attribute"):
        shapes.swapped_caption_pair(np.array([1, 0, 0, 0, 0]), "texture", np.random.default_rng(0))


def test_swap_accuracy_counts_wins_and_half_ties():
    image = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    true = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 2.0]])
    swapped = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    assert swap_accuracy(image, true, swapped) == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    with pytest.raises(ValueError, match="arrays of one shape"):
        swap_accuracy(image, true[:2], swapped)


def test_colour_oracle_sees_colour_and_is_blind_to_shape():
    """Encoders that carry colour only: colour swaps always detected, shape swaps at chance (0.5)."""
    image_set = shapes.ShapesImageSet("test", shapes.ShapesConfig(num_train=10, num_test=60, num_novel=10),
                                      cache=False)
    palette = np.array([shapes.COLOR_RGB[c] for c in shapes.COLORS], np.float32) / 127.5 - 1.0

    def encode_images(images):
        flat = images.reshape(len(images), -1, 3)
        brightest = flat[np.arange(len(flat)), flat.sum(-1).argmax(1)]
        return np.eye(len(palette))[np.argmin(((brightest[:, None] - palette[None]) ** 2).sum(-1), axis=1)]

    def encode_captions(captions):
        return np.stack([np.eye(len(palette))[shapes.COLORS.index(_words_of(shapes._COLOR_WORDS, c).pop())]
                         for c in captions])

    scores = shapes_swap_accuracy(encode_images, encode_captions, image_set, image_size=32,
                                  attributes=("color", "shape"))
    assert scores["color"] == 1.0
    assert scores["shape"] == 0.5
