"""Frechet Inception Distance and Kernel Inception Distance on feature sets (pure numpy/scipy).

FID (Heusel et al., 2017, Eq. 6) between Gaussians fitted to two feature sets:

    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})

KID (Binkowski et al., 2018, Sec. 4 / Eq. 4): unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over random subsets; unbiased, so it is usable with a few
hundred samples where FID is strongly biased.

The features come from a separate extractor (`t2izoo.metrics.features`); reference-set
statistics are cached as `FeatureStatistics` .npz files (stylegan2-ada style).
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np
from scipy import linalg

from t2izoo.errors import DataError
from t2izoo.metrics.validation import check_features, check_same_dim
from t2izoo.utils.files import atomic_path


@dataclasses.dataclass
class FeatureStatistics:
    """Mean, covariance and count of a feature set (optionally the features, for KID).

    Attributes:
        mu: float64 `[D]`.
        sigma: float64 `[D, D]` (unbiased sample covariance, as `np.cov`).
        count: number of samples the statistics were computed from.
        features: optional `[N, D]` raw features (kept for KID; saved only if present).
    """

    mu: np.ndarray
    sigma: np.ndarray
    count: int
    features: np.ndarray | None = None

    @classmethod
    def from_features(cls, features, keep_features: bool = False) -> "FeatureStatistics":
        """Statistics of `[N, D]` features (N >= 2), computed in float64."""
        feats = check_features(features, "features", min_count=2)
        return cls(mu=feats.mean(axis=0), sigma=np.cov(feats, rowvar=False).reshape(
            feats.shape[1], feats.shape[1]), count=int(feats.shape[0]),
            features=np.asarray(features, np.float32) if keep_features else None)

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    def save(self, path: str):
        """Writes an .npz with `mu`, `sigma`, `count` (+ `features`), atomically."""
        arrays = {"mu": self.mu, "sigma": self.sigma, "count": np.int64(self.count)}
        if self.features is not None:
            arrays["features"] = self.features
        with atomic_path(path, ".npz") as tmp:
            np.savez(tmp, **arrays)

    @classmethod
    def load(cls, path: str) -> "FeatureStatistics":
        """Reads `save`'s .npz, or a pytorch-fid style .npz with `mu` and `sigma` only."""
        if not os.path.exists(path):
            raise DataError(f"feature statistics file not found: {path}")
        try:
            with np.load(path) as data:
                mu, sigma = np.asarray(data["mu"], np.float64), np.asarray(data["sigma"], np.float64)
                count = int(data["count"]) if "count" in data else 0
                features = np.asarray(data["features"]) if "features" in data else None
        except (KeyError, ValueError, OSError) as err:
            raise DataError(f"{path} is not a feature statistics .npz with 'mu' and 'sigma': {err}") from None
        if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise DataError(f"{path}: mu {mu.shape} and sigma {sigma.shape} do not match")
        return cls(mu=mu, sigma=sigma, count=count, features=features)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    # No `disp=False` (deprecated in scipy 1.16+, where it also changes the return type);
    # a singular product shows up as non-finite entries, handled by the caller.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(linalg.sqrtm(matrix))


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6, imag_tol: float = 1e-3) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al., Eq. 6).

    As pytorch-fid / TTUR: `sqrtm(sigma1 @ sigma2)` in float64; if it is not finite (singular
    product, e.g. fewer samples than dimensions) `eps * I` is added to both covariances; a
    complex result whose diagonal imaginary part exceeds `imag_tol` raises, smaller imaginary
    parts (round-off) are discarded.

    Args:
        mu1, mu2: `[D]` means.
        sigma1, sigma2: `[D, D]` covariances.

    Returns:
        The squared distance (float, clamped at 0 against round-off).

    Raises:
        DataError: shape mismatch or non-finite inputs.
        ValueError: the matrix square root has a large imaginary component.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape:
        raise DataError(f"feature dimensions differ: mu1 {mu1.shape} vs mu2 {mu2.shape}")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise DataError(f"covariances must be [{d}, {d}], got {sigma1.shape} and {sigma2.shape}")
    for name, arr in (("mu1", mu1), ("mu2", mu2), ("sigma1", sigma1), ("sigma2", sigma2)):
        if not np.isfinite(arr).all():
            raise DataError(f"{name} contains NaN or infinite values")
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(d) * eps
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        max_imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if max_imag > imag_tol:
            raise ValueError(f"matrix square root has an imaginary component of {max_imag:.3g} "
                             "(covariances far from positive semi-definite?)")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def fid_from_stats(stats_a: FeatureStatistics, stats_b: FeatureStatistics, **kwargs) -> float:
    """FID between two `FeatureStatistics` (dimensions must match)."""
    check_same_dim(stats_a.mu, stats_b.mu, "first statistics", "second statistics")
    return frechet_distance(stats_a.mu, stats_a.sigma, stats_b.mu, stats_b.sigma, **kwargs)


def fid_from_features(feats_a, feats_b, **kwargs) -> float:
    """FID between two feature sets `[N_a, D]` and `[N_b, D]` (N >= 2 each).

    Papers use 30,000 generated samples against test-set statistics; with few samples FID is
    biased upwards (use `kernel_inception_distance`).
    """
    a = check_features(feats_a, "first feature set")
    b = check_features(feats_b, "second feature set")
    check_same_dim(a, b, "first feature set", "second feature set")
    return fid_from_stats(FeatureStatistics.from_features(a), FeatureStatistics.from_features(b), **kwargs)


def kernel_inception_distance(feats_real, feats_fake, num_subsets: int = 100,
                              max_subset_size: int = 1000, rng=None) -> tuple:
    """Kernel Inception Distance: unbiased MMD^2, cubic polynomial kernel, over random subsets.

    For each subset, m samples x (fake) and y (real) are drawn without replacement and
        MMD^2_u = 1/(m(m-1)) sum_{i!=j} [k(x_i,x_j) + k(y_i,y_j)] - 2/m^2 sum_{i,j} k(x_i,y_j),
    with k(a, b) = (a.b / d + 1)^3 (Binkowski et al. 2018, Eq. 4; stylegan2-ada `kernel_inception_distance.py`).

    Args:
        feats_real, feats_fake: `[N, D]` features (N >= 2).
        num_subsets: number of random subsets (100 in stylegan2-ada).
        max_subset_size: m = min(N_real, N_fake, max_subset_size).
        rng: `np.random.Generator` or seed (default 0, so the number is reproducible).

    Returns:
        `(mean, std)` of MMD^2_u over the subsets (can be slightly negative for matching sets).
    """
    real = check_features(feats_real, "real features")
    fake = check_features(feats_fake, "generated features")
    check_same_dim(real, fake, "real features", "generated features")
    if num_subsets < 1:
        raise DataError(f"num_subsets must be >= 1, got {num_subsets}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)
    d = real.shape[1]
    m = int(min(real.shape[0], fake.shape[0], max_subset_size))
    if m < 2:
        raise DataError("KID needs subsets of at least 2 samples")
    values = np.empty(num_subsets)
    for s in range(num_subsets):
        x = fake[rng.choice(fake.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        kxx = (x @ x.T / d + 1.0) ** 3
        kyy = (y @ y.T / d + 1.0) ** 3
        kxy = (x @ y.T / d + 1.0) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values[s] = within - 2.0 * kxy.sum() / (m * m)
    return float(values.mean()), float(values.std())
