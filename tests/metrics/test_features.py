"""Inception feature extractor (offline, random weights in the Keras legacy .h5 layout) and the
reference-statistics cache."""

import h5py
import numpy as np
import pytest

from t2izoo.errors import DataError
from t2izoo.metrics.features import (
    INCEPTION_WEIGHTS_ENV, INCEPTION_WEIGHTS_FILE, InceptionFeatureExtractor, cached_stats,
    resolve_inception_weights, stats_key,
)
from t2izoo.metrics.fid import FeatureStatistics


def test_missing_weights_raise_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    with pytest.raises(DataError) as err:
        InceptionFeatureExtractor()
    assert INCEPTION_WEIGHTS_FILE in str(err.value) and INCEPTION_WEIGHTS_ENV in str(err.value)
    missing = str(tmp_path / "nope.h5")
    with pytest.raises(DataError, match="not found: .*nope.h5"):
        InceptionFeatureExtractor(missing)
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, missing)
    with pytest.raises(DataError, match="nope.h5"):
        resolve_inception_weights()


def test_inception_extractor_loads_local_legacy_h5(tmp_path, monkeypatch):
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    source = keras.applications.InceptionV3(weights=None, include_top=True, classifier_activation=None)
    path = tmp_path / INCEPTION_WEIGHTS_FILE
    with h5py.File(path, "w") as f:  # the layout of the keras-applications release file
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(path))

    extractor = InceptionFeatureExtractor(batch_size=2)
    images = np.random.default_rng(0).uniform(-1, 1, size=(2, 32, 32, 3)).astype(np.float32)
    pool, logits = extractor(images)
    assert pool.shape == (2, 2048) and logits.shape == (2, 1000)
    assert np.isfinite(pool).all() and (pool >= 0).all()  # post-ReLU average pool
    # Same weights as the file: logits equal the source model's on the bilinear 299 resize.
    resized = keras.ops.image.resize(images, (299, 299), interpolation="bilinear")
    expected = keras.ops.convert_to_numpy(source(resized, training=False))
    np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-4)
    # uint8 [0, 255] input declared as such is preprocessed like its [-1, 1] version.
    as_uint8 = np.round((images[:1] + 1) * 127.5).astype(np.uint8)
    pre_u8 = keras.ops.convert_to_numpy(extractor.preprocess(as_uint8, value_range=(0, 255)))
    pre_f = keras.ops.convert_to_numpy(extractor.preprocess(as_uint8 / 127.5 - 1.0))
    assert pre_u8.shape == (1, 299, 299, 3)
    np.testing.assert_allclose(pre_u8, pre_f, atol=1e-6)
    with pytest.raises(DataError, match="value_range"):
        extractor(as_uint8)  # [0, 255] images under the default [-1, 1]
    assert len(extractor.weights_hash) == 12


def test_cached_stats_computes_once(tmp_path, rng):
    calls = []
    feats = rng.normal(size=(20, 4))

    def compute():
        calls.append(1)
        return feats

    key = stats_key("shapes", "test", "inception_v3", "abc123", 64, num_images=20)
    first = cached_stats(key, compute, cache_dir=str(tmp_path))
    second = cached_stats(key, compute, cache_dir=str(tmp_path))
    assert len(calls) == 1
    np.testing.assert_array_equal(first.mu, second.mu)
    np.testing.assert_allclose(second.sigma, np.cov(feats.T))
    assert second.count == 20
    # Any key part changing (here the weights hash) means new statistics.
    other = cached_stats(dict(key, weights="def456"),
                         lambda: FeatureStatistics.from_features(feats + 1), cache_dir=str(tmp_path))
    np.testing.assert_allclose(other.mu, first.mu + 1)
    assert len(calls) == 1
