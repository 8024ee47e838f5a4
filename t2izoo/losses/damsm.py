"""DAMSM losses of AttnGAN: word-level (attention-driven) and sentence-level matching, both ways.

For a batch of B matching (image, caption) pairs the losses score every image against every
caption, and train with cross-entropy so that each image picks its own caption among the B
(L1: image -> captions, "loss0") and each caption its own image (L2: caption -> images,
"loss1"). Pairs of the same class are not negatives: their scores are masked out, as in
taoxugit/AttnGAN when `class_ids` are given (CUB); pass `class_ids=None` (or distinct ids, as
AttnGAN does for COCO) to use every other pair.

All functions are pure `keras.ops`; a padded word (position >= its caption's length) never
enters a softmax or a sum.
"""

from keras import ops

_MASKED = -1e9  # instead of -inf: same softmax, finite gradients
_EPS = 1e-8


def _word_mask(lengths, max_words):
    return ops.arange(max_words, dtype="int32")[None, :] < ops.cast(lengths, "int32")[:, None]


def _cosine(a, b, axis=-1):
    dot = ops.sum(a * b, axis=axis)
    norms = ops.sqrt(ops.sum(a * a, axis=axis)) * ops.sqrt(ops.sum(b * b, axis=axis))
    return dot / ops.maximum(norms, _EPS)


def _flat_regions(regions):
    return ops.reshape(regions, (ops.shape(regions)[0], -1, ops.shape(regions)[-1]))


def _attention(words, regions, word_mask, gamma1):
    """scores e_i . v_j and attention alpha, both [Bi, Bc, T, R] (regions [Bi, R, D])."""
    num_images, num_regions = ops.shape(regions)[0], ops.shape(regions)[1]
    num_captions, num_words, dim = ops.shape(words)
    # One matmul for all pairs: [1, Bc*T, D] x [Bi, D, R] -> [Bi, Bc*T, R].
    scores = ops.matmul(ops.reshape(words, (1, -1, dim)), ops.transpose(regions, (0, 2, 1)))
    scores = ops.reshape(scores, (num_images, num_captions, num_words, num_regions))
    mask = word_mask[None, :, :, None]
    # Softmax over the caption's real words (axis 2), written out: faster than a softmax on a
    # non-last axis, and the padded words get exactly 0.
    masked = ops.where(mask, scores, _MASKED)
    e = ops.exp(masked - ops.max(masked, axis=2, keepdims=True))
    over_words = ops.where(mask, e / ops.sum(e, axis=2, keepdims=True), 0.0)
    alpha = ops.softmax(gamma1 * over_words, axis=-1)
    return scores, alpha


def damsm_word_attention(words, regions, lengths, gamma1=4.0):
    """Region-context vector of every word, for every (image, caption) pair (Eq. 7-9).

    s_ij = e_i . v_j (word i, region j); first normalised over the caption's real words,
    s'_ij = exp(s_ij) / sum_k exp(s_kj); then alpha_ij = exp(gamma1 s'_ij) / sum_k exp(gamma1 s'_ik)
    over regions; c_i = sum_j alpha_ij v_j.

    Args:
        words: [Bc, T, D] word features; lengths: int [Bc] real words per caption.
        regions: [Bi, h, w, D] (or [Bi, R, D]) region features.
        gamma1: attention sharpness (4.0 in the code, 5 in the paper text).

    Returns:
        (context [Bi, Bc, T, D], alpha [Bi, Bc, T, R]); rows of padded words are meaningless
        and are ignored by `damsm_word_similarities`.

    Reference: Xu et al., AttnGAN, CVPR 2018, Eq. 7-9; code/GlobalAttention.py func_attention.
    """
    regions = _flat_regions(regions)
    _, alpha = _attention(words, regions, _word_mask(lengths, ops.shape(words)[1]), gamma1)
    num_images, num_captions, num_words, num_regions = ops.shape(alpha)
    context = ops.matmul(ops.reshape(alpha, (num_images, -1, num_regions)), regions)
    return ops.reshape(context, (num_images, num_captions, num_words, -1)), alpha


def damsm_word_similarities(regions, words, lengths, gamma1=4.0, gamma2=5.0, aggregation="code"):
    """R(Q, D) of every image (rows) with every caption (columns), [Bi, Bc] (Eq. 10).

    R = log sum_{i real} exp(gamma2 cos(c_i, e_i)); `aggregation="paper"` takes the paper's
    1/gamma2 power of the sum (log(...)^(1/gamma2) = log(...) / gamma2), which the official code
    (`words_loss`) omits.
    """
    if aggregation not in ("code", "paper"):
        raise ValueError(f"aggregation must be 'code' or 'paper', got {aggregation!r}")
    regions = _flat_regions(regions)
    mask = _word_mask(lengths, ops.shape(words)[1])
    scores, alpha = _attention(words, regions, mask, gamma1)
    num_images, num_captions, num_words, num_regions = ops.shape(alpha)
    # cos(c_i, e_i) without materialising c_i ([Bi, Bc, T, D]): c_i . e_i = sum_j alpha_ij s_ij
    # and |c_i|^2 = alpha_i^T (V V^T) alpha_i.
    dot = ops.sum(alpha * scores, axis=-1)
    gram = ops.matmul(regions, ops.transpose(regions, (0, 2, 1)))  # [Bi, R, R]
    alpha_gram = ops.matmul(ops.reshape(alpha, (num_images, -1, num_regions)), gram)
    alpha_gram = ops.reshape(alpha_gram, ops.shape(alpha))
    context_norm = ops.sqrt(ops.maximum(ops.sum(alpha * alpha_gram, axis=-1), 1e-16))
    word_norm = ops.sqrt(ops.sum(words * words, axis=-1))[None]
    cos = dot / ops.maximum(context_norm * word_norm, _EPS)  # [Bi, Bc, T]
    real = ops.cast(mask, cos.dtype)[None]
    similarity = ops.log(ops.sum(real * ops.exp(gamma2 * cos), axis=-1))
    if aggregation == "paper":
        similarity = similarity / gamma2
    return similarity


def _matching_cross_entropy(scores, class_ids, reduce):
    """-log softmax of the diagonal, along rows (image -> captions) and along columns."""
    n = ops.shape(scores)[0]
    if class_ids is not None:
        class_ids = ops.convert_to_tensor(class_ids)
        same = ops.equal(class_ids[:, None], class_ids[None, :])
        negative_of_same_class = ops.logical_and(same, ops.logical_not(ops.eye(n, dtype="bool")))
        scores = ops.where(negative_of_same_class, _MASKED, scores)
    diagonal = ops.diagonal(scores)
    image_to_text = ops.logsumexp(scores, axis=1) - diagonal
    text_to_image = ops.logsumexp(scores, axis=0) - diagonal
    if reduce:
        return ops.mean(image_to_text), ops.mean(text_to_image)
    return image_to_text, text_to_image


def damsm_word_loss(regions, words, lengths, class_ids=None, gamma1=4.0, gamma2=5.0, gamma3=10.0,
                    aggregation="code", reduce=True):
    """Word-level DAMSM loss L1^w, L2^w (Eq. 11-13).

    P(D_i | Q_i) = exp(gamma3 R(Q_i, D_i)) / sum_j exp(gamma3 R(Q_i, D_j)) over the batch
    (image -> captions), and P(Q_i | D_i) the other way; the losses are their mean negative
    log-probabilities.

    Args:
        regions: [B, h, w, D] image region features; words: [B, T, D]; lengths: int [B].
        class_ids: int [B] or None; same-class pairs (other than i == j) are not negatives.
        gamma1, gamma2, gamma3: 4.0, 5.0, 10.0 (code/cfg GAMMA1/2/3).
        aggregation: see `damsm_word_similarities`.
        reduce: False returns the per-example terms ([B] each) instead of their means.

    Returns:
        (image_to_text, text_to_image): upstream `w_loss0`, `w_loss1`.

    Reference: Xu et al., AttnGAN, CVPR 2018, Eq. 10-13; code/miscc/losses.py words_loss.
    """
    similarities = damsm_word_similarities(regions, words, lengths, gamma1, gamma2, aggregation)
    return _matching_cross_entropy(gamma3 * similarities, class_ids, reduce)


def damsm_sentence_loss(image_vectors, sentence_vectors, class_ids=None, gamma3=10.0, reduce=True):
    """Sentence-level DAMSM loss L1^s, L2^s (Eq. 13 with R = cosine of the global vectors).

    Args:
        image_vectors: [B, D] global image features; sentence_vectors: [B, D].
        class_ids, gamma3, reduce: as in `damsm_word_loss`.

    Returns:
        (image_to_text, text_to_image): upstream `s_loss0`, `s_loss1`.

    Reference: Xu et al., AttnGAN, CVPR 2018, Sec. 3.3 (sentence-level); code/miscc/losses.py
    sent_loss.
    """
    scores = _cosine(image_vectors[:, None, :], sentence_vectors[None, :, :])
    return _matching_cross_entropy(gamma3 * scores, class_ids, reduce)


def damsm_loss(regions, image_vectors, words, sentence_vectors, lengths, class_ids=None, gamma1=4.0,
               gamma2=5.0, gamma3=10.0, aggregation="code", reduce=True):
    """All four terms as a dict: word_i2t, word_t2i, sentence_i2t, sentence_t2i (in float32:
    the features of mixed-precision encoders are cast)."""
    regions, image_vectors, words, sentence_vectors = (ops.cast(x, "float32") for x in
                                                       (regions, image_vectors, words, sentence_vectors))
    w0, w1 = damsm_word_loss(regions, words, lengths, class_ids, gamma1, gamma2, gamma3, aggregation, reduce)
    s0, s1 = damsm_sentence_loss(image_vectors, sentence_vectors, class_ids, gamma3, reduce)
    return {"word_i2t": w0, "word_t2i": w1, "sentence_i2t": s0, "sentence_t2i": s1}

