"""Manipulation metrics on closed cases (t2izoo.metrics.manipulation, t2izoo.data.shapes.edit_scene)."""

import numpy as np
import pytest

from t2izoo.data import shapes
from t2izoo.metrics import manipulation as mm

HEAD_COLUMNS = (("color", shapes.ATTR_COLOR, len(shapes.COLORS)), ("shape", shapes.ATTR_SHAPE, len(shapes.SHAPES)),
                ("size", shapes.ATTR_SIZE, len(shapes.SIZES)))


@pytest.fixture(scope="module")
def scenes():
    return shapes.sample_scenes(shapes.ShapesConfig(num_test=150), "test")


def predictions_of(scenes_attributes):
    """Evaluator outputs that read exactly `scenes_attributes` ([N, 2, 5]): a perfect evaluator
    looking at renders of those scenes."""
    attrs = np.asarray(scenes_attributes)
    n = len(attrs)
    out = {"occupancy": np.full((n, 9), -5.0)}
    for name, _, k in HEAD_COLUMNS:
        out[name] = np.zeros((n, 9, k))
    for i in range(n):
        for obj in attrs[i]:
            if obj[shapes.ATTR_PRESENT]:
                cell = obj[shapes.ATTR_POSITION]
                out["occupancy"][i, cell] = 5.0
                for name, column, _ in HEAD_COLUMNS:
                    out[name][i, cell, obj[column]] = 3.0
    return out


@pytest.mark.parametrize("allow_noop", [False, True])
def test_an_edit_changes_exactly_one_attribute_and_names_it(scenes, allow_noop):
    rng = np.random.default_rng(0)
    words = {"color": shapes._COLOR_WORDS, "shape": shapes._SHAPE_WORDS, "size": shapes._SIZE_WORDS}
    names = {"color": shapes.COLORS, "shape": shapes.SHAPES, "size": shapes.SIZES}
    noops = 0
    for i in range(len(scenes)):
        source = scenes.attributes[i]
        for attribute in shapes.EDIT_ATTRIBUTES:
            e = shapes.edit_scene(source, attribute, rng, allow_noop=allow_noop)
            changed = np.argwhere(e.objects != source)
            assert e.attribute == attribute and e.column == 1 + shapes.ATTRIBUTE_NAMES.index(attribute)
            assert e.old == source[e.obj, e.column] and e.objects[e.obj, e.column] == e.new
            assert source[e.obj, shapes.ATTR_PRESENT] == 1
            if e.is_noop:
                noops += 1
                assert len(changed) == 0
            else:
                assert changed.tolist() == [[e.obj, e.column]]
            # The caption describes the edited scene: it names the new value ...
            caption = f" {e.caption} "
            assert any(f" {w} " in caption for w in words[attribute][names[attribute][e.new]]), e.caption
            # ... and, in a one-object scene, no longer names the old one.
            if not e.is_noop and source[:, shapes.ATTR_PRESENT].sum() == 1:
                assert not any(f" {w} " in caption for w in words[attribute][names[attribute][e.old]]
                               if " " not in w), e.caption
    assert (noops > 0) == allow_noop


def test_identity_manipulation_preserves_everything_and_edits_only_the_no_ops(scenes):
    indices, edits = mm.edit_plan(scenes.attributes, 3 * len(scenes), seed=1, allow_noop=True)
    scores = mm.edit_scores(predictions_of(scenes.attributes[indices]), edits)  # output == source
    noops = np.mean([e.is_noop for e in edits])
    assert 0.1 < noops < 0.5  # 1/8, 1/5 and 1/3 of the colour, shape and size edits
    assert scores["preservation"] == 1.0
    assert {scores[f"kept_{p}"] for p in ("layout", "color", "shape", "size")} == {1.0}
    assert scores["edit_acc"] == pytest.approx(noops) and scores["noop_share"] == pytest.approx(noops)
    for a in shapes.EDIT_ATTRIBUTES:
        assert scores[f"edit_acc_{a}"] == pytest.approx(np.mean([e.is_noop for e in edits if e.attribute == a]))
    # The evaluation protocol asks for real changes only: identity then edits nothing.
    _, real_edits = mm.edit_plan(scenes.attributes, 3 * len(scenes), seed=1)
    scores = mm.edit_scores(predictions_of(scenes.attributes[indices]), real_edits)
    assert scores["edit_acc"] == 0.0 and scores["noop_share"] == 0.0 and scores["preservation"] == 1.0


def test_an_oracle_returning_the_edited_scene_scores_100_100(scenes):
    _, edits = mm.edit_plan(scenes.attributes, 3 * len(scenes), seed=2)
    scores = mm.edit_scores(predictions_of([e.objects for e in edits]), edits)
    assert scores["edit_acc"] == 1.0 and scores["preservation"] == 1.0 and scores["edit_and_preserved"] == 1.0
    assert {scores[f"edit_acc_{a}"] for a in shapes.EDIT_ATTRIBUTES} == {1.0}


def test_preservation_fails_on_a_changed_bystander_and_a_new_object():
    source = np.array([[1, 0, 0, 0, 4], [1, 5, 1, 2, 0]])  # red small circle center, blue large square top left
    edit = shapes.SceneEdit("color", 0, 0, 2, np.array([[1, 2, 0, 0, 4], [1, 5, 1, 2, 0]]), "...")
    good = predictions_of([edit.objects])
    bystander = predictions_of([[[1, 2, 0, 0, 4], [1, 5, 2, 2, 0]]])  # the square became a triangle
    extra = predictions_of([edit.objects])
    extra["occupancy"][0, 8] = 1.0  # something appeared bottom right
    wrong_edit = predictions_of([[[1, 3, 0, 0, 4], [1, 5, 1, 2, 0]]])  # green instead of yellow
    scores = [mm.edit_scores(p, [edit]) for p in (good, bystander, extra, wrong_edit)]
    assert [(s["edit_acc"], s["preservation"]) for s in scores] == [(1, 1), (1, 0), (1, 0), (0, 1)]
    # The parts of preservation name what failed: the bystander's shape, then the layout.
    parts = [[s[f"kept_{p}"] for p in ("layout", "color", "shape", "size")] for s in scores]
    assert parts == [[1, 1, 1, 1], [1, 1, 0, 1], [0, 1, 1, 1], [1, 1, 1, 1]]
    assert source[0, shapes.ATTR_COLOR] == edit.old


def test_reconstruction_errors_and_manipulative_precision_follow_their_formulas(rng):
    a = rng.integers(0, 256, (4, 8, 8, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + 51, 0, 255).astype(np.uint8)
    x, y = a / 255.0, b / 255.0
    errors = mm.reconstruction_errors(a, b)
    assert errors["recon_l1"] == pytest.approx(np.abs(x - y).mean())
    assert errors["recon_l2"] == pytest.approx(((x - y) ** 2).mean())
    assert mm.reconstruction_errors(a, a) == {"recon_l1": 0.0, "recon_l2": 0.0}
    # Floats in [-1, 1] are the same pixels.
    assert mm.reconstruction_errors(a / 127.5 - 1, b)["recon_l1"] == pytest.approx(errors["recon_l1"])
    sim = np.array([0.2, 0.4, 0.6, 0.8])
    mp = mm.manipulative_precision(a, b, sim)
    assert mp["mp"] == pytest.approx((1 - np.abs(x - y).mean()) * 0.5)
    assert mm.manipulative_precision(a, a, sim)["mp"] == pytest.approx(0.5)  # no change: MP = sim
    u, v = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    np.testing.assert_allclose(mm.cosine_similarity(u, v),
                               [np.dot(p, q) / np.linalg.norm(p) / np.linalg.norm(q) for p, q in zip(u, v)])


def test_edited_geometry_rescales_only_the_resized_object(scenes):
    i = int(np.flatnonzero(scenes.attributes[:, 1, shapes.ATTR_PRESENT])[0])
    source = scenes.attributes[i]
    edited = source.copy()
    edited[0, shapes.ATTR_SIZE] = (source[0, shapes.ATTR_SIZE] + 1) % 3
    geometry = shapes.edited_geometry(scenes.geometry[i], source, edited)
    ratio = shapes.SIZE_RADIUS[edited[0, shapes.ATTR_SIZE]] / shapes.SIZE_RADIUS[source[0, shapes.ATTR_SIZE]]
    assert geometry[0, 2] == pytest.approx(scenes.geometry[i][0, 2] * ratio)
    np.testing.assert_array_equal(geometry[1], scenes.geometry[i][1])
    np.testing.assert_array_equal(geometry[0, [0, 1, 3]], scenes.geometry[i][0, [0, 1, 3]])
