"""Linear-probe accuracy: separable, noise-only and partially informative features."""

import numpy as np
import pytest

from t2izoo.metrics.linear_probe import linear_probe_accuracy


def _data(rng, n, informative):
    labels = rng.integers(0, 4, n)
    features = rng.normal(size=(n, 16))
    features[:, :4] += informative * 4.0 * np.eye(4)[labels]
    return features, labels


def test_separable_features_are_decoded():
    rng = np.random.default_rng(0)
    x, y = _data(rng, 800, informative=1.0)
    xt, yt = _data(rng, 400, informative=1.0)
    assert linear_probe_accuracy(x, y, xt, yt) > 0.97


def test_noise_features_score_at_chance():
    rng = np.random.default_rng(1)
    x, y = _data(rng, 800, informative=0.0)
    xt, yt = _data(rng, 2000, informative=0.0)
    assert abs(linear_probe_accuracy(x, y, xt, yt) - 0.25) < 0.05


def test_weakly_informative_features_land_in_between():
    rng = np.random.default_rng(2)
    x, y = _data(rng, 800, informative=0.2)
    xt, yt = _data(rng, 2000, informative=0.2)
    assert 0.3 < linear_probe_accuracy(x, y, xt, yt) < 0.9


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="features"):
        linear_probe_accuracy(np.zeros((4, 3)), [0, 1, 0, 1], np.zeros((2, 5)), [0, 1])
