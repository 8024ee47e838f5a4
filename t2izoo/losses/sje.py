"""Symmetric structured joint embedding loss (DS-SJE, Reed et al. CVPR 2016)."""

import keras


def symmetric_sje_loss(image_embeddings, text_embeddings, class_ids, margin=1.0, negative_mask=None):
    """Hinge loss of the DS-SJE objective, both directions (reedscot/cvpr2016, `-symmetric 1`).

    With compatibility s_ij = <theta(v_i), phi(t_j)> for a batch of matching (v_i, t_i):

        L = 1/B sum_i sum_{j: c_j != c_i} [ max(0, margin + s_ij - s_ii)      (image -> texts)
                                            + max(0, margin + s_ji - s_ii) ]  (text -> images)

    Pairs of the same class are not negatives (the structured loss is class-level).

    Args:
        image_embeddings: [B, D]; text_embeddings: [B, D]; class_ids: int [B].
        negative_mask: optional float [B, B], 1 where (i, j) is a negative; replaces the
            class rule (e.g. `scene_negative_mask`).

    Returns: scalar loss.

    Reference: Reed et al., "Learning Deep Representations of Fine-Grained Visual
    Descriptions", CVPR 2016, Eq. 1-3 (Delta = 0/1 class loss, margin 1).
    """
    return keras.ops.mean(symmetric_sje_per_example(image_embeddings, text_embeddings, class_ids, margin,
                                                    negative_mask))


def symmetric_sje_per_example(image_embeddings, text_embeddings, class_ids, margin=1.0, negative_mask=None):
    """The terms of `symmetric_sje_loss` of each matching pair i, [B]: image i against every text
    plus text i against every image; their mean is the loss. Under a distribution strategy, compute
    it on the all-gathered global batch and average this replica's entries
    (`t2izoo.trainers.replicas`)."""
    image_embeddings = keras.ops.cast(image_embeddings, "float32")  # mixed precision: the loss in float32
    text_embeddings = keras.ops.cast(text_embeddings, "float32")
    scores = keras.ops.matmul(image_embeddings, keras.ops.transpose(text_embeddings))
    diag = keras.ops.diagonal(scores)
    if negative_mask is None:
        negative = keras.ops.cast(class_ids[:, None] != class_ids[None, :], scores.dtype)
    else:
        negative = keras.ops.cast(negative_mask, scores.dtype)
    image_to_text = keras.ops.relu(margin + scores - diag[:, None]) * negative
    text_to_image = keras.ops.relu(margin + keras.ops.transpose(scores) - diag[:, None]) * negative
    return keras.ops.sum(image_to_text, axis=1) + keras.ops.sum(text_to_image, axis=1)


def hard_image_text_loss(true_scores, hard_scores, margin=1.0):
    """Image -> text hinge against one hard negative caption per image (not in the paper).

        L = 1/B sum_i max(0, margin + <theta(v_i), phi(h_i)> - s_ii)

    with h_i a caption of image i's own scene changed one way. It is one more negative in the
    image -> text sum of `symmetric_sje_loss`, with that loss's margin and normalisation.

    Args:
        true_scores: [B] s_ii; hard_scores: [B] <theta(v_i), phi(h_i)>.
    """
    return keras.ops.mean(keras.ops.relu(margin + hard_scores - true_scores))


def scene_negative_mask(attributes):
    """[B, B] float mask, 1 where scenes i and j differ in any attribute of any object.

    `attributes`: int [B, objects, 5] (`shapes` scenes). Not in the paper: with it, every caption
    of another scene is a negative, so the embedding has to encode every object, not only the
    ones the class label names.
    """
    flat = keras.ops.reshape(attributes, (keras.ops.shape(attributes)[0], -1))
    same = keras.ops.all(keras.ops.equal(flat[:, None, :], flat[None, :, :]), axis=-1)
    return 1.0 - keras.ops.cast(same, "float32")
