"""SD-GAN's contrastive loss on the discriminator's visual features of a Siamese pair."""

import keras


def contrastive_loss(features_a, features_b, same, margin=1.0, alpha=0.1):
    """L_c = 1/(2N) sum_n [ y_n max(d_n, alpha)^2 + (1 - y_n) max(margin - d_n, 0)^2 ],
    d_n = ||v1_n - v2_n||_2.

    Same-image pairs (y = 1) are pulled together, but only down to the distance alpha (so two
    descriptions of one image need not give identical images); different-image pairs (y = 0) are
    pushed at least `margin` (epsilon) apart.

    Args:
        features_a, features_b: [N, D] features of the two branches.
        same: [N] 1 for a pair of captions of the same image, 0 otherwise.
        margin: epsilon (1.0).
        alpha: the floor of same-image distances (0.1).

    Returns: scalar; N is the number of pairs (this batch's).

    Reference: Yin et al., SD-GAN, CVPR 2019, Sec. 3.2, Eq. 3 (constants as given in secondary
    summaries of the paper: epsilon 1.0, alpha 0.1).
    """
    features_a, features_b = keras.ops.cast(features_a, "float32"), keras.ops.cast(features_b, "float32")
    squared = keras.ops.sum(keras.ops.square(features_a - features_b), axis=-1)
    # The floor keeps the gradient of sqrt finite at d = 0 (identical features).
    d = keras.ops.sqrt(keras.ops.maximum(squared, 1e-12))
    y = keras.ops.cast(same, d.dtype)
    per_pair = y * keras.ops.square(keras.ops.maximum(d, alpha)) + (1.0 - y) * keras.ops.square(
        keras.ops.maximum(margin - d, 0.0))
    return keras.ops.mean(per_pair) / 2.0
