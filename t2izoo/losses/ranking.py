"""The pairwise ranking loss of visual-semantic embeddings (Kiros et al. 2014, Eq. 1)."""

import keras


def pairwise_ranking_loss(image_embeddings, text_embeddings, margin=0.2):
    """sum_i sum_{k != i} max(0, m - s(v_i, t_i) + s(v_i, t_k)) + max(0, m - s(v_i, t_i) + s(v_k, t_i)).

    s is the cosine similarity; every other example of the batch is a contrastive one, in both
    directions (image -> texts and text -> images). Kiros, Salakhutdinov and Zemel, "Unifying
    visual-semantic embeddings with multimodal neural language models", 2014, Eq. 1; SISGAN's text
    encoder (Dong et al., ICCV 2017, Sec. 3.3; margin 0.2 in train_text_embedding.py).

    Args:
        image_embeddings, text_embeddings: [B, D], row i of each a matching pair.
        margin: m.

    Returns: scalar (a sum over the batch, as the reference code).
    """
    image_embeddings = keras.ops.cast(image_embeddings, "float32")  # mixed precision: the loss in float32
    text_embeddings = keras.ops.cast(text_embeddings, "float32")
    v = image_embeddings / keras.ops.maximum(keras.ops.norm(image_embeddings, axis=-1, keepdims=True), 1e-8)
    t = text_embeddings / keras.ops.maximum(keras.ops.norm(text_embeddings, axis=-1, keepdims=True), 1e-8)
    scores = keras.ops.matmul(v, keras.ops.transpose(t))  # [i, k] = s(v_i, t_k)
    diagonal = keras.ops.diagonal(scores)
    off = 1.0 - keras.ops.eye(keras.ops.shape(scores)[0], dtype=scores.dtype)
    cost_text = keras.ops.relu(margin - diagonal[:, None] + scores) * off  # v_i against t_k
    cost_image = keras.ops.relu(margin - diagonal[None, :] + scores) * off  # t_k against v_i
    return keras.ops.sum(cost_text) + keras.ops.sum(cost_image)
