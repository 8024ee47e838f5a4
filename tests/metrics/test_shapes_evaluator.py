"""Shapes attribute evaluator: scoring rule on hand-made predictions, a tiny training run, cache."""

import numpy as np
import pytest

from t2izoo.data.shapes import ShapesConfig, ShapesImageSet
from t2izoo.errors import DataError
from t2izoo.metrics import shapes_evaluator as se


def _onehot_scores(num_classes, cells_to_class):
    scores = np.zeros((9, num_classes))
    scores[:, 0] = 5.0  # misleading default at every cell not listed
    for cell, cls in cells_to_class.items():
        scores[cell] = 0.0
        scores[cell, cls] = 5.0
    return scores


def test_attribute_accuracy_from_hand_made_predictions():
    # (present, color, shape, size, position)
    attributes = np.array([
        [[1, 1, 2, 0, 4], [1, 3, 0, 2, 0]],
        [[1, 7, 4, 1, 8], [0, 5, 3, 2, 6]],  # second object absent: never judged
    ])
    occupancy = np.full((2, 9), -4.0)  # empty everywhere else
    occupancy[0, 4], occupancy[0, 0], occupancy[1, 8] = 2.0, -1.0, 3.0  # obj (0,1) missed
    predictions = {
        "occupancy": occupancy,
        "color": np.stack([_onehot_scores(8, {4: 1, 0: 3}), _onehot_scores(8, {8: 2})]),  # (1,0) wrong
        "shape": np.stack([_onehot_scores(5, {4: 2, 0: 0}), _onehot_scores(5, {8: 4})]),
        "size": np.stack([_onehot_scores(3, {4: 0, 0: 1}), _onehot_scores(3, {8: 1})]),  # (0,1) wrong
    }
    acc = se.attribute_accuracy_from_predictions(predictions, attributes)
    assert acc == pytest.approx({"color": 2 / 3, "shape": 1.0, "size": 2 / 3, "position": 2 / 3,
                                 "object": 1 / 3})
    # An object drawn in a cell the caption leaves empty costs the image its position credit.
    occupancy[1, 3] = 5.0
    acc = se.attribute_accuracy_from_predictions(predictions, attributes)
    assert acc["position"] == pytest.approx(1 / 3) and acc["color"] == pytest.approx(2 / 3)
    with pytest.raises(DataError, match="attribute rows"):
        se.attribute_accuracy_from_predictions(predictions, attributes[:1])
    # Per object count: scene 0 has two objects (the second missed and the wrong size), scene 1
    # one (wrong colour, and now an extra object).
    by_count = se.accuracy_by_object_count(predictions, attributes)
    assert sorted(by_count) == [1, 2]
    assert by_count[2] == pytest.approx({"color": 1.0, "shape": 1.0, "size": 1 / 2, "position": 1 / 2,
                                         "object": 1 / 2})
    assert by_count[1] == pytest.approx({"color": 0.0, "shape": 1.0, "size": 1.0, "position": 0.0,
                                         "object": 0.0})


def test_cell_targets_place_objects_in_their_cells():
    attributes = np.array([[[1, 2, 3, 1, 7], [1, 6, 1, 0, 2]], [[1, 0, 0, 2, 4], [0, 0, 0, 0, 0]]])
    targets = se.cell_targets(attributes)
    assert targets.shape == (2, 9, 4)
    np.testing.assert_array_equal(targets[0, 7], [1, 2, 3, 1])
    np.testing.assert_array_equal(targets[0, 2], [1, 6, 1, 0])
    np.testing.assert_array_equal(targets[1, 4], [1, 0, 0, 2])
    assert targets[..., 0].sum() == 3 and (targets[1, 0] == [0, -1, -1, -1]).all()


def test_tiny_evaluator_beats_chance_and_is_cached(tmp_path, monkeypatch):
    config = ShapesConfig(num_train=400, num_test=150)
    kwargs = dict(image_size=32, num_train=400, steps=120, batch_size=32, learning_rate=3e-3,
                  widths=(8, 16, 16), cell_dim=16, shapes_config=config)
    evaluator = se.load_or_train_shapes_evaluator(str(tmp_path), **kwargs)
    test = ShapesImageSet("test", config)
    # 64 px renders are resized to the evaluator's 32 px.
    acc = se.attribute_accuracy(evaluator, test.images(64), test.attributes, value_range=(0, 255))
    assert acc["color"] > 0.3  # chance: 1/8
    assert acc["position"] > 0.5
    feats = se.penultimate_features(evaluator, test.images(32)[:5] / 127.5 - 1.0)
    assert feats.shape == (5, 9 * 16)
    with pytest.raises(DataError, match=r"value_range=\(0, 255\)"):
        se.attribute_accuracy(evaluator, test.images(32), test.attributes, value_range=(-1, 1))

    # Second call: loaded from the cache, not retrained.
    def fail(**_):
        raise AssertionError("retrained despite a cached checkpoint")

    monkeypatch.setattr(se, "train_shapes_evaluator", fail)
    again = se.load_or_train_shapes_evaluator(str(tmp_path), **kwargs)
    for a, b in zip(evaluator.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
