"""Inception Score (Salimans et al., 2016), from classifier outputs (pure numpy).

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)      (Salimans et al., Sec. 4)

computed separately on `num_splits` contiguous splits and reported as mean +- std over splits,
as openai/improved-gan and StackGAN-inception-model (10 splits of the 30,000 samples) do. The
classifier is a separate feature extractor (`t2izoo.metrics.features`): ImageNet Inception-v3
for COCO, a CUB/Flowers fine-tuned one in the papers' CUB/Oxford numbers.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from t2izoo.errors import DataError
from t2izoo.metrics.validation import check_splits


def inception_score(logits=None, num_splits: int = 10, probs=None) -> tuple:
    """Inception Score mean and standard deviation over splits.

    Args:
        logits: float `[N, K]` classifier logits (softmax is applied here, in float64).
        num_splits: number of contiguous splits (10 in the papers).
        probs: alternatively, `[N, K]` class probabilities (rows summing to 1); exactly one of
            `logits` and `probs` is given.

    Returns:
        `(mean, std)` of `exp(mean_x KL(p(y|x) || p(y)))` over the splits (`np.std`, ddof 0,
        as improved-gan). Samples beyond `num_splits * (N // num_splits)` are dropped, as
        there.

    Raises:
        DataError: fewer samples than splits, wrong shapes, invalid probabilities.

    Example:
        >>> inception_score(probs=np.eye(4)[np.arange(40) % 4], num_splits=2)
        (4.0, 0.0)
    """
    if (logits is None) == (probs is None):
        raise DataError("pass exactly one of logits and probs")
    values = np.asarray(logits if probs is None else probs, np.float64)
    if values.ndim != 2 or values.shape[1] < 2:
        raise DataError(f"classifier outputs must be [N, K] with K >= 2, got {values.shape}")
    if not np.isfinite(values).all():
        raise DataError("classifier outputs contain NaN or infinite values")
    check_splits(values.shape[0], num_splits)
    if probs is None:
        log_p = log_softmax(values, axis=1)
    else:
        if values.min() < 0 or not np.allclose(values.sum(axis=1), 1.0, atol=1e-3):
            raise DataError("probs must be non-negative and each row must sum to 1 "
                            "(pass logits= for unnormalised scores)")
        values = values / values.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore"):
            log_p = np.log(values)
    p = np.exp(log_p)
    part = values.shape[0] // num_splits
    scores = []
    for k in range(num_splits):
        p_k, log_p_k = p[k * part:(k + 1) * part], log_p[k * part:(k + 1) * part]
        marginal = p_k.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_marginal = np.log(marginal)
            # 0 * log 0 = 0: a class with p(y|x) = 0 contributes nothing to KL.
            kl = np.where(p_k > 0, p_k * (log_p_k - log_marginal), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
