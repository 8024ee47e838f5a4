"""R-precision: can a text-image retriever find a generated image's own caption? (pure numpy)

AttnGAN (Xu et al., 2018, Sec. 5) / DM-GAN protocol: for each generated image, rank 100
candidate captions -- its ground-truth caption and 99 mismatched ones drawn from *other
classes* -- by cosine similarity of global image and sentence vectors (DAMSM encoders), and
count top-1 hits; report mean +- std over 10 splits (30,000 images, splits of 3,000), in percent.

Ties: DM-GAN's `torch.sort` + `indices[0] == 0` counts a tie as a hit when the true caption
is listed first, so a degenerate retriever (constant vectors) scores 100%. Here a tie is
resolved as uniformly random tie-breaking would resolve it *in expectation*: an image whose true
caption ties with t mismatched ones (and is beaten by none) scores 1 / (t + 1). A constant
retriever therefore scores exactly 1%, and the result stays deterministic.
"""

from __future__ import annotations

import numpy as np

from t2izoo.errors import DataError
from t2izoo.metrics.validation import check_splits

NUM_MISMATCHED = 99


def _unit(vectors: np.ndarray, name: str) -> np.ndarray:
    vectors = np.asarray(vectors, np.float64)
    if not np.isfinite(vectors).all():
        raise DataError(f"{name} contains NaN or infinite values")
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    # A zero vector has no direction: cosine 0 with everything (a tie, never a win).
    return np.divide(vectors, norm, out=np.zeros_like(vectors), where=norm > 0)


def sample_mismatched_indices(class_ids, num: int = NUM_MISMATCHED, rng=None) -> np.ndarray:
    """For each sample, `num` indices of samples from *other* classes (DM-GAN `get_mis_caption`).

    Draws are uniform over the samples of other classes, distinct within a row when there are
    at least `num` such samples (with replacement otherwise).

    Args:
        class_ids: int `[N]`; datasets without classes pass `arange(N)` (COCO, as AttnGAN).
        num: candidates per sample (99).
        rng: `np.random.Generator` or seed (default 0).

    Returns:
        int64 `[N, num]`, with `class_ids[out[i]] != class_ids[i]` everywhere.

    Raises:
        DataError: a sample whose class covers the whole set (no mismatched caption exists).
    """
    class_ids = np.asarray(class_ids).reshape(-1)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)
    n = class_ids.shape[0]
    classes, inverse, counts = np.unique(class_ids, return_inverse=True, return_counts=True)
    if n == 0:
        raise DataError("class_ids is empty")
    if len(classes) < 2:
        raise DataError("all samples share one class: there are no mismatched captions to draw")
    out = np.empty((n, num), np.int64)
    order = np.argsort(inverse, kind="stable")  # samples grouped by class
    starts = np.concatenate([[0], np.cumsum(counts)])
    for c in range(len(classes)):
        members = order[starts[c]:starts[c + 1]]
        others = n - counts[c]
        # Index into "all samples except this class" = order with the class's block cut out.
        positions = np.empty((len(members), num), np.int64)
        if others >= num:
            for row in range(len(members)):
                positions[row] = rng.choice(others, num, replace=False)
        else:
            positions[:] = rng.integers(others, size=(len(members), num))
        positions = np.where(positions >= starts[c], positions + counts[c], positions)
        out[members] = order[positions]
    return out


def r_precision(image_vecs, text_vecs_true, text_vecs_mismatched=None, mismatched_indices=None,
                text_bank=None, num_splits: int = 10, tie_tolerance: float = 1e-9) -> tuple:
    """Top-1 retrieval accuracy of the true caption among 1 + 99 candidates, in percent.

    Candidate score: cosine similarity s = <v_img, v_txt> / (|v_img| |v_txt|). Image i scores
        hit_i = [no mismatched s > s_true] / (1 + #{mismatched s == s_true})
    (expected top-1 under random tie-breaking; `tie_tolerance` is the equality slack).

    Args:
        image_vecs: `[N, D]` global image vectors of the generated images.
        text_vecs_true: `[N, D]` sentence vectors of each image's own caption.
        text_vecs_mismatched: `[N, M, D]` vectors of the M (99) mismatched captions, or None
            when `mismatched_indices` is given.
        mismatched_indices: int `[N, M]` rows of `text_bank` (e.g. from
            `sample_mismatched_indices`).
        text_bank: `[B, D]` caption vectors the indices point into (default `text_vecs_true`).
        num_splits: contiguous splits (10); N >= num_splits.

    Returns:
        `(mean, std)` of the per-split accuracy in percent (np.std, ddof 0).
    """
    images = np.asarray(image_vecs)
    true = np.asarray(text_vecs_true)
    if images.ndim != 2 or true.ndim != 2:
        raise DataError(f"image_vecs and text_vecs_true must be [N, D], got {images.shape} and {true.shape}")
    if images.shape[0] != true.shape[0]:
        raise DataError(f"{images.shape[0]} image vectors but {true.shape[0]} true caption vectors")
    if images.shape[1] != true.shape[1]:
        raise DataError(f"feature dimensions differ: image vectors have {images.shape[1]}, text "
                        f"vectors {true.shape[1]} (same joint embedding space required)")
    if (text_vecs_mismatched is None) == (mismatched_indices is None):
        raise DataError("pass exactly one of text_vecs_mismatched and mismatched_indices")
    if text_vecs_mismatched is not None:
        wrong = np.asarray(text_vecs_mismatched)
        if wrong.ndim != 3 or wrong.shape[0] != images.shape[0] or wrong.shape[2] != images.shape[1]:
            raise DataError(f"text_vecs_mismatched must be [N={images.shape[0]}, M, "
                            f"D={images.shape[1]}], got {wrong.shape}")
    else:
        bank = true if text_bank is None else np.asarray(text_bank)
        idx = np.asarray(mismatched_indices)
        if bank.ndim != 2 or bank.shape[1] != images.shape[1]:
            raise DataError(f"text_bank must be [B, D={images.shape[1]}], got {bank.shape}")
        if idx.ndim != 2 or idx.shape[0] != images.shape[0]:
            raise DataError(f"mismatched_indices must be [N={images.shape[0]}, M], got {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= bank.shape[0]):
            raise DataError(f"mismatched_indices must index text_bank rows 0..{bank.shape[0] - 1}")
        wrong = bank[idx]
    check_splits(images.shape[0], num_splits, "images")

    img = _unit(images, "image_vecs")
    s_true = np.einsum("nd,nd->n", img, _unit(true, "text_vecs_true"))
    s_wrong = np.einsum("nd,nmd->nm", img, _unit(wrong, "mismatched text vectors"))
    beaten = (s_wrong > s_true[:, None] + tie_tolerance).any(axis=1)
    ties = (np.abs(s_wrong - s_true[:, None]) <= tie_tolerance).sum(axis=1)
    hits = np.where(beaten, 0.0, 1.0 / (1.0 + ties))
    per_split = [100.0 * part.mean() for part in np.array_split(hits, num_splits)]
    return float(np.mean(per_split)), float(np.std(per_split))
