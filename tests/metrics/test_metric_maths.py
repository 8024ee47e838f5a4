"""Metric maths against closed forms and against independent computations written here."""

import numpy as np
import pytest
from scipy.stats import entropy

from t2izoo.errors import DataError
from t2izoo.metrics import (
    FeatureStatistics, check_images, fid_from_features, frechet_distance, inception_score,
    kernel_inception_distance, r_precision, sample_mismatched_indices, to_signed_unit_range,
)


# ---------------------------------------------------------------- Inception Score

def _is_reference(probs, splits):
    """IS by the definition, one sample at a time with scipy's KL."""
    part = len(probs) // splits
    scores = []
    for k in range(splits):
        p = probs[k * part:(k + 1) * part]
        py = p.mean(axis=0)
        scores.append(np.exp(np.mean([entropy(row, py) for row in p])))
    return np.mean(scores), np.std(scores)


@pytest.mark.parametrize("k", [1, 5, 10])
def test_inception_score_of_one_hot_spread_over_k_classes_is_k(k):
    labels = np.arange(100) % k
    probs = np.eye(20)[labels]
    mean, std = inception_score(probs=probs, num_splits=10)
    assert mean == pytest.approx(k, abs=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)
    # Confident logits give (almost) the same.
    mean, _ = inception_score(logits=60.0 * probs, num_splits=10)
    assert mean == pytest.approx(k, rel=1e-6)


def test_inception_score_of_uniform_predictions_is_one():
    mean, std = inception_score(logits=np.zeros((50, 7)), num_splits=5)
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0)


def test_inception_score_matches_definition(rng):
    logits = rng.normal(size=(103, 12)) * 2.0
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = _is_reference(probs, 4)
    got = inception_score(logits=logits, num_splits=4)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert 1.0 < got[0] < 12.0 and got[1] > 0


def test_inception_score_validates_inputs():
    with pytest.raises(DataError, match="splits"):
        inception_score(logits=np.zeros((9, 5)), num_splits=10)
    with pytest.raises(DataError, match="sum to 1"):
        inception_score(probs=np.full((10, 5), 0.5), num_splits=2)
    with pytest.raises(DataError):
        inception_score(logits=np.zeros((10, 5)), probs=np.eye(5)[np.zeros(10, int)])


# ---------------------------------------------------------------- FID

def test_fid_of_identical_statistics_is_zero(rng):
    feats = rng.normal(size=(200, 16))
    stats = FeatureStatistics.from_features(feats)
    assert frechet_distance(stats.mu, stats.sigma, stats.mu, stats.sigma) == pytest.approx(0.0, abs=1e-8)
    assert fid_from_features(feats, feats) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_diagonal_gaussians_matches_closed_form(rng):
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    var1, var2 = rng.uniform(0.2, 3.0, size=6), rng.uniform(0.2, 3.0, size=6)
    # For commuting (diagonal) covariances: |mu1-mu2|^2 + sum (sqrt(v1) - sqrt(v2))^2.
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-9)
    # 1-D: N(0, 1) vs N(3, 4) -> 9 + (1 - 2)^2 = 10.
    assert frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(10.0)


def test_fid_of_full_covariances_matches_eigen_computation(rng):
    a, b = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    s1, s2 = a @ a.T + 0.1 * np.eye(8), b @ b.T + 0.1 * np.eye(8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)

    def psd_sqrt(m):
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    # Tr (S1 S2)^1/2 = Tr (S1^1/2 S2 S1^1/2)^1/2, a symmetric PSD square root.
    r1 = psd_sqrt(s1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(psd_sqrt(r1 @ s2 @ r1))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_fid_with_singular_covariances_uses_offset_and_stays_finite(rng):
    # 5 samples in 20 dimensions: rank-deficient covariances.
    a, b = rng.normal(size=(5, 20)), rng.normal(size=(5, 20)) + 1.0
    value = fid_from_features(a, b)
    assert np.isfinite(value) and value > 10.0


def test_fid_rejects_mismatched_dimensions(rng):
    with pytest.raises(DataError, match="dimensions differ"):
        fid_from_features(rng.normal(size=(10, 4)), rng.normal(size=(10, 5)))
    with pytest.raises(DataError, match="at least 2"):
        fid_from_features(rng.normal(size=(1, 4)), rng.normal(size=(10, 4)))


def test_feature_statistics_round_trip(tmp_path, rng):
    feats = rng.normal(size=(30, 5))
    stats = FeatureStatistics.from_features(feats, keep_features=True)
    np.testing.assert_allclose(stats.sigma, np.cov(feats.T))
    path = str(tmp_path / "stats.npz")
    stats.save(path)
    loaded = FeatureStatistics.load(path)
    np.testing.assert_array_equal(loaded.mu, stats.mu)
    np.testing.assert_array_equal(loaded.sigma, stats.sigma)
    assert loaded.count == 30 and loaded.features.shape == (30, 5)
    with pytest.raises(DataError, match="not found"):
        FeatureStatistics.load(str(tmp_path / "missing.npz"))


# ---------------------------------------------------------------- KID

def _mmd2_unbiased(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = ~np.eye(m, dtype=bool)
    return kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean()


def test_kid_matches_unbiased_mmd_formula(rng):
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 6)) + 0.5
    # One subset holding every sample: a permutation, which leaves MMD^2 unchanged.
    mean, std = kernel_inception_distance(y, x, num_subsets=1, max_subset_size=40)
    assert mean == pytest.approx(_mmd2_unbiased(x, y), rel=1e-10)
    assert std == 0.0


def test_kid_of_identical_sets_is_near_zero(rng):
    x = rng.normal(size=(200, 8))
    same, _ = kernel_inception_distance(x, x, num_subsets=20, max_subset_size=100)
    shifted, _ = kernel_inception_distance(x, x + 1.0, num_subsets=20, max_subset_size=100)
    assert abs(same) < 0.02 * shifted
    assert shifted > 0.5


# ---------------------------------------------------------------- R-precision

def _class_text_vectors(rng, num_classes, dim):
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q[:num_classes]  # orthonormal class directions


def test_perfect_retriever_scores_100_percent(rng):
    classes = np.arange(300) % 30
    text = _class_text_vectors(rng, 30, 32)[classes]
    idx = sample_mismatched_indices(classes, 99, rng)
    mean, std = r_precision(text * 3.0, text, mismatched_indices=idx, num_splits=10)
    assert mean == pytest.approx(100.0) and std == pytest.approx(0.0)
    mean, _ = r_precision(text, text, text_vecs_mismatched=text[idx], num_splits=10)
    assert mean == pytest.approx(100.0)


def test_constant_retriever_scores_one_percent_not_100(rng):
    n = 200
    const = np.ones((n, 8))
    mismatched = np.ones((n, 99, 8))
    mean, std = r_precision(const, const, mismatched, num_splits=10)
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0)
    # Zero image vectors (no direction) also tie everywhere.
    mean, _ = r_precision(np.zeros((n, 8)), const, mismatched, num_splits=10)
    assert mean == pytest.approx(1.0)


def test_uninformative_retriever_scores_about_one_percent(rng):
    n = 2000
    classes = rng.integers(0, 50, size=n)
    text = rng.normal(size=(n, 16))
    mean, _ = r_precision(np.ones((n, 16)), text, mismatched_indices=sample_mismatched_indices(classes, 99, rng))
    assert 0.2 < mean < 2.5


def test_r_precision_matches_explicit_ranking(rng):
    n, dim = 120, 10
    images = rng.normal(size=(n, dim))
    true = images + rng.normal(size=(n, dim)) * 1.5
    wrong = rng.normal(size=(n, 99, dim))
    hits = []
    for i in range(n):
        cands = np.concatenate([true[i:i + 1], wrong[i]])
        sims = cands @ images[i] / (np.linalg.norm(cands, axis=1) * np.linalg.norm(images[i]))
        hits.append(np.argmax(sims) == 0)
    per_split = [100 * np.mean(h) for h in np.array_split(np.array(hits), 4)]
    mean, std = r_precision(images, true, wrong, num_splits=4)
    assert mean == pytest.approx(np.mean(per_split)) and std == pytest.approx(np.std(per_split))
    assert 0 < mean < 100


def test_sample_mismatched_indices_draws_other_classes(rng):
    classes = np.repeat(np.arange(5), [10, 50, 100, 140, 200])
    idx = sample_mismatched_indices(classes, 99, rng)
    assert idx.shape == (500, 99)
    assert (classes[idx] != classes[:, None]).all()
    assert all(len(set(row)) == 99 for row in idx)  # distinct when enough candidates
    assert idx.min() >= 0 and idx.max() < 500
    # Fewer other-class samples than 99: drawn with replacement, still other classes.
    small = np.array([0, 0, 1, 1, 2])
    idx = sample_mismatched_indices(small, 99, rng)
    assert (small[idx] != small[:, None]).all()
    with pytest.raises(DataError, match="one class"):
        sample_mismatched_indices(np.zeros(10, int), 99, rng)


def test_r_precision_validates_inputs(rng):
    v = rng.normal(size=(20, 4))
    with pytest.raises(DataError, match="splits"):
        r_precision(v[:5], v[:5], np.ones((5, 99, 4)), num_splits=10)
    with pytest.raises(DataError, match="dimensions differ"):
        r_precision(v, rng.normal(size=(20, 5)), np.ones((20, 99, 5)))
    with pytest.raises(DataError):
        r_precision(v, v, mismatched_indices=np.full((20, 99), 20))


# ---------------------------------------------------------------- image range checks

def test_image_range_validation():
    uint8 = np.full((2, 8, 8, 3), 200, np.uint8)
    with pytest.raises(DataError, match=r"value_range=\(0, 255\)"):
        check_images(uint8, (-1, 1))
    with pytest.raises(DataError, match=r"\[0, 255\]"):
        check_images(np.full((2, 8, 8, 3), -0.5, np.float32), (0, 255))
    with pytest.raises(DataError, match="value_range"):
        check_images(uint8, (0, 1))
    out = to_signed_unit_range(uint8, (0, 255))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 200 / 127.5 - 1)
    np.testing.assert_array_equal(to_signed_unit_range(np.zeros((1, 4, 4, 3)), (-1, 1)), 0.0)
