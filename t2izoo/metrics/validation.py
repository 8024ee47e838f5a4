"""Input checks shared by the metrics: one clear `DataError` instead of a silently wrong number.

Metric maths takes features (`[N, D]` float arrays); the image-consuming helpers (feature
extractors, the shapes evaluator) take images in a declared value range:

* `(-1, 1)`: float images as the generators emit them (tanh output),
* `(0, 255)`: uint8 or float renders as the datasets store them.
"""

from __future__ import annotations

import numpy as np

from t2izoo.errors import DataError

VALUE_RANGES = ((-1.0, 1.0), (0.0, 255.0))
# Slack for resampling/rounding overshoot (e.g. bicubic resizes slightly past the range).
_RANGE_TOLERANCE = 1e-3


def _normalise_range(value_range) -> tuple:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise DataError(f"value_range must be one of {VALUE_RANGES}, got {value_range!r}") from None
    if (lo, hi) not in VALUE_RANGES:
        raise DataError(f"value_range must be one of {VALUE_RANGES}, got {value_range!r}")
    return lo, hi


def check_images(images, value_range=(-1, 1), name: str = "images") -> np.ndarray:
    """Checks an image batch `[N, H, W, 3]` against its declared value range.

    Args:
        images: array-like `[N, H, W, 3]`.
        value_range: `(-1, 1)` or `(0, 255)`.
        name: what to call the batch in the error message.

    Returns:
        The images as a numpy array (unchanged dtype).

    Raises:
        DataError: wrong rank/channels, empty batch, non-finite values or values outside the
            range (a [0, 255] batch declared as [-1, 1] is the usual mistake, and the message
            says so).
    """
    lo, hi = _normalise_range(value_range)
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DataError(f"{name} must be [N, H, W, 3], got shape {images.shape}")
    if images.shape[0] == 0:
        raise DataError(f"{name} is empty")
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise DataError(f"{name} contains NaN or infinite values")
    vmin, vmax = float(images.min()), float(images.max())
    slack = _RANGE_TOLERANCE * (hi - lo)
    if vmin < lo - slack or vmax > hi + slack:
        hint = ""
        if (lo, hi) == (-1.0, 1.0) and vmax > 1.5:
            hint = " (looks like [0, 255] images: pass value_range=(0, 255))"
        elif (lo, hi) == (0.0, 255.0) and vmin < -slack:
            hint = " (looks like [-1, 1] images: pass value_range=(-1, 1))"
        raise DataError(f"{name} must lie in [{lo:g}, {hi:g}], got values in "
                        f"[{vmin:.4g}, {vmax:.4g}]{hint}")
    return images


def to_signed_unit_range(images, value_range=(-1, 1), name: str = "images") -> np.ndarray:
    """Checks `images` and maps them to float32 in [-1, 1] (`x / 127.5 - 1` for [0, 255]).

    Values within the tolerance outside the range are clipped.
    """
    lo, hi = _normalise_range(value_range)
    images = check_images(images, (lo, hi), name)
    out = images.astype(np.float32)
    if (lo, hi) == (0.0, 255.0):
        out = out / 127.5 - 1.0
    return np.clip(out, -1.0, 1.0)


def check_features(features, name: str = "features", min_count: int = 2) -> np.ndarray:
    """Checks a feature matrix `[N, D]` (finite, at least `min_count` rows); returns float64."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise DataError(f"{name} must be [N, D], got shape {features.shape}")
    if features.shape[0] < min_count:
        raise DataError(f"{name} has {features.shape[0]} samples; at least {min_count} are needed")
    features = features.astype(np.float64)
    if not np.isfinite(features).all():
        raise DataError(f"{name} contains NaN or infinite values")
    return features


def check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str):
    """Raises DataError when two feature sets have different feature sizes."""
    if a.shape[-1] != b.shape[-1]:
        raise DataError(f"feature dimensions differ: {name_a} has {a.shape[-1]}, {name_b} has "
                        f"{b.shape[-1]} (were they computed by the same extractor?)")


def check_splits(num_samples: int, num_splits: int, what: str = "samples"):
    """Raises DataError unless 1 <= num_splits <= num_samples."""
    if int(num_splits) < 1:
        raise DataError(f"num_splits must be >= 1, got {num_splits}")
    if num_samples < num_splits:
        raise DataError(f"{num_samples} {what} cannot be divided into {num_splits} splits; "
                        f"provide at least {num_splits} (papers use 30,000 in 10 splits)")
