import os

import numpy as np
import pytest

from t2izoo.data import shapes
from t2izoo.data.datasets import load_split
from t2izoo.errors import DataError

CFG = shapes.ShapesConfig(num_train=300, num_test=60, num_novel=40, seed=5)


def test_same_seed_same_scenes_and_pixels():
    a, b = shapes.sample_scenes(CFG, "train"), shapes.sample_scenes(CFG, "train")
    assert a.captions == b.captions
    np.testing.assert_array_equal(a.attributes, b.attributes)
    np.testing.assert_array_equal(a.render_all(32, range(5)), b.render_all(32, range(5)))
    other = shapes.sample_scenes(shapes.ShapesConfig(num_train=300, seed=6), "train")
    assert other.captions != a.captions


def test_novel_pairs_never_in_train_or_test_and_always_in_novel():
    def pairs(scenes):
        out = []
        for objs in scenes.attributes:
            out.append({(shapes.COLORS[o[1]], shapes.SHAPES[o[2]]) for o in objs if o[0]})
        return out

    for split in ("train", "test"):
        assert all(not (p & shapes.NOVEL_PAIRS) for p in pairs(shapes.sample_scenes(CFG, split)))
    assert all(p & shapes.NOVEL_PAIRS for p in pairs(shapes.sample_scenes(CFG, "novel")))
    assert len(shapes.NOVEL_PAIRS) == len(shapes.SHAPES)


def test_ten_captions_each_naming_every_attribute():
    scenes = shapes.sample_scenes(CFG, "train")
    synonyms = {"color": shapes._COLOR_WORDS, "shape": shapes._SHAPE_WORDS, "size": shapes._SIZE_WORDS}
    for objs, caps in zip(scenes.attributes[:100], scenes.captions[:100]):
        assert len(caps) == 10 and len(set(caps)) > 1
        for cap in caps:
            for obj in objs:
                if not obj[0]:
                    continue
                for key, col, names in (("color", 1, shapes.COLORS), ("shape", 2, shapes.SHAPES),
                                        ("size", 3, shapes.SIZES)):
                    words = synonyms[key][names[obj[col]]]
                    assert any(w in cap for w in words), (cap, key, names[obj[col]])
                phrases = shapes._POSITION_PHRASES[shapes.POSITIONS[obj[4]]]
                assert any(p in cap for p in phrases), (cap, shapes.POSITIONS[obj[4]])


def test_two_object_scenes_use_the_right_relation():
    assert shapes.relation(0, 2) == "left" and shapes.relation(5, 3) == "right"
    assert shapes.relation(1, 7) == "above" and shapes.relation(7, 4) == "below"


def test_render_puts_the_colour_in_the_right_cell():
    objects = np.array([[1, shapes.COLORS.index("red"), 0, 2, 8], [0, 0, 0, 0, 0]], np.int32)
    geometry = np.array([[5 / 6, 5 / 6, 0.16, 0.0], [0, 0, 0, 0]], np.float32)
    img = shapes.render_scene(objects, geometry, 30, 64).astype(int)
    cell = img[43:, 43:].reshape(-1, 3)
    red = (cell[:, 0] > 150) & (cell[:, 1] < 100)
    assert red.mean() > 0.3  # a large red circle fills the bottom-right cell
    assert (img[:21, :21] == 30).all()  # the rest is background
    # anti-aliased: edge pixels between background and fill exist
    assert len(np.unique(img[..., 0])) > 3


def test_multi_scale_renders_agree():
    ds = shapes.ShapesImageSet("test", CFG, cache=False)
    out = ds.load_images([3, 1], (32, 64, 128))
    assert [out[s].shape for s in (32, 64, 128)] == [(2, 32, 32, 3), (2, 64, 64, 3), (2, 128, 128, 3)]
    down = out[128].reshape(2, 32, 4, 32, 4, 3).mean((2, 4))
    assert np.abs(down - out[32]).mean() < 4.0


def test_cached_renders_are_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("T2IZOO_CACHE", str(tmp_path))
    ds = shapes.ShapesImageSet("test", CFG)
    first = np.array(ds.images(32))
    files = list((tmp_path / "shapes").glob("*.npy"))
    assert len(files) == 1
    np.testing.assert_array_equal(np.load(files[0]), first)
    np.testing.assert_array_equal(shapes.ShapesImageSet("test", CFG).images(32), first)


def test_render_cache_is_keyed_by_the_renderer_s_version(tmp_path, monkeypatch):
    """Renders cached by another renderer version are not served (a stale cache of a user who
    updated t2izoo): the version is part of the file name."""
    monkeypatch.setenv("T2IZOO_CACHE", str(tmp_path))
    ds = shapes.ShapesImageSet("test", CFG)
    path = ds.cache_path(32)
    assert f"_r{shapes.renderer_version()}_" in os.path.basename(path)
    # What an older renderer left under the old key is not read.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path.replace(shapes.renderer_version(), "oldvers0"), np.zeros((len(ds), 32, 32, 3), np.uint8))
    assert np.asarray(ds.images(32)).max() > 0
    monkeypatch.setattr(shapes, "renderer_version", lambda: "newvers1")
    assert shapes.ShapesImageSet("test", CFG).cache_path(32) != path


def test_registry_errors_are_clear():
    with pytest.raises(DataError, match="unknown dataset"):
        load_split("imagenet", "train")
    with pytest.raises(DataError, match="splits"):
        load_split("shapes", "validation")
    with pytest.raises(DataError, match="--data_dir"):
        load_split("cub", "train")


@pytest.mark.parametrize("attribute", shapes.ATTRIBUTE_NAMES)
def test_attribute_swapped_scene_changes_exactly_that_attribute(attribute):
    scenes = shapes.sample_scenes(shapes.ShapesConfig(num_train=60, seed=3), "train")
    column = 1 + shapes.ATTRIBUTE_NAMES.index(attribute)
    rng = np.random.default_rng(0)
    for objects in scenes.attributes:
        swapped = shapes.attribute_swapped_scene(objects, attribute, rng)
        changed = np.argwhere(swapped != objects)
        assert len(changed) == 1 and changed[0][1] == column  # one object, that attribute only
        present = swapped[swapped[:, shapes.ATTR_PRESENT] == 1]
        assert len(set(present[:, shapes.ATTR_POSITION])) == len(present)  # no two objects in one cell
    one = scenes.attributes[scenes.attributes[:, 1, shapes.ATTR_PRESENT] == 0][0]
    captions = shapes.hard_negative_captions(one, 3, rng)
    assert [len(c) for c in captions] == [3] * len(shapes.ATTRIBUTE_NAMES)
    shape_words = shapes._SHAPE_WORDS[shapes.SHAPES[one[0, shapes.ATTR_SHAPE]]]
    swapped_shape = captions[shapes.ATTRIBUTE_NAMES.index("shape")]
    assert not any(f" {w} " in f" {c} " for c in swapped_shape for w in shape_words)


def test_color_binding_negative_exchanges_two_objects_colours_and_nothing_else():
    scenes = shapes.sample_scenes(shapes.ShapesConfig(num_train=80, seed=4), "train")
    rng = np.random.default_rng(0)
    two = scenes.attributes[(scenes.attributes[:, 1, shapes.ATTR_PRESENT] == 1)
                            & (scenes.attributes[:, 0, shapes.ATTR_COLOR] != scenes.attributes[:, 1, shapes.ATTR_COLOR])]
    assert len(two)
    for objects in two:
        swapped = shapes.hard_negative_scene(objects, "color_binding", rng)
        np.testing.assert_array_equal(swapped[:, shapes.ATTR_COLOR], objects[::-1, shapes.ATTR_COLOR])
        other = [c for c in range(5) if c != shapes.ATTR_COLOR]
        np.testing.assert_array_equal(swapped[:, other], objects[:, other])
    one = scenes.attributes[scenes.attributes[:, 1, shapes.ATTR_PRESENT] == 0][0]
    fallback = shapes.color_binding_swapped_scene(one, rng)  # no twin: the colour changes instead
    assert [tuple(i) for i in np.argwhere(fallback != one)] == [(0, shapes.ATTR_COLOR)]
    kinds = ("shape", "color_binding")
    assert [len(c) for c in shapes.hard_negative_captions(two[0], 2, rng, kinds)] == [2, 2]
    with pytest.raises(ValueError, match="hard-negative kind"):
        shapes.hard_negative_scene(one, "texture", rng)


def test_binding_swapped_caption_pair_exchanges_only_the_colour_words():
    scenes = shapes.sample_scenes(shapes.ShapesConfig(num_train=80, seed=5), "train")
    rng = np.random.default_rng(1)
    attrs = scenes.attributes
    two = attrs[(attrs[:, 1, shapes.ATTR_PRESENT] == 1) & (attrs[:, 0, shapes.ATTR_COLOR] != attrs[:, 1, shapes.ATTR_COLOR])]
    colour_words = {w for words in shapes._COLOR_WORDS.values() for w in words}
    for objects in two[:20]:
        true, swapped = shapes.binding_swapped_caption_pair(objects, rng)
        a, b = true.split(), swapped.split()
        assert len(a) == len(b) and sorted(a) == sorted(b) and a != b  # same words, other order
        assert all(x == y or {x, y} <= colour_words for x, y in zip(a, b))
    one = attrs[attrs[:, 1, shapes.ATTR_PRESENT] == 0][0]
    with pytest.raises(ValueError, match="two objects"):
        shapes.binding_swapped_caption_pair(one, rng)
