"""Evaluation metrics: pure metric maths on arrays, with feature extractors kept separate.

* `inception_score` (IS), `frechet_distance` / `fid_from_features` (FID),
  `kernel_inception_distance` (KID), `r_precision` (+ `sample_mismatched_indices`):
  numpy/scipy functions on classifier outputs or feature vectors.
* `t2izoo.metrics.features`: `InceptionFeatureExtractor` (local weights only) and
  `cached_stats` for reference-set statistics.
* `t2izoo.metrics.shapes_evaluator`: attribute accuracy and a shapes-specific FID for the
  built-in `shapes` dataset (imports Keras; import it explicitly).
"""

from t2izoo.metrics.fid import (
    FeatureStatistics, fid_from_features, fid_from_stats, frechet_distance, kernel_inception_distance,
)
from t2izoo.metrics.inception_score import inception_score
from t2izoo.metrics.r_precision import r_precision, sample_mismatched_indices
from t2izoo.metrics.validation import check_images, to_signed_unit_range

__all__ = [
    "FeatureStatistics", "check_images", "fid_from_features", "fid_from_stats", "frechet_distance",
    "inception_score", "kernel_inception_distance", "r_precision", "sample_mismatched_indices",
    "to_signed_unit_range",
]
