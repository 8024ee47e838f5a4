"""KL divergence of the conditioning-augmentation Gaussian to the standard normal."""

import keras


def conditioning_kl(mu, log_sigma):
    """D_KL(N(mu, diag(sigma^2)) || N(0, I)), averaged over the batch AND the dimensions.

    Per dimension: -log sigma + (sigma^2 + mu^2 - 1) / 2. StackGAN (Eq. 3/4, the lambda *
    D_KL term) and StackGAN++ take the mean over dimensions too (`KL_loss` in both codes:
    tf.reduce_mean / torch.mean), so the coefficient (2.0 in the code, lambda = 1 in the paper)
    applies to this mean, not to the sum over the 128 dimensions.

    Args:
        mu, log_sigma: [B, N] (log_sigma = log variance / 2).

    Returns: scalar.
    """
    mu, log_sigma = keras.ops.cast(mu, "float32"), keras.ops.cast(log_sigma, "float32")  # mixed precision
    return keras.ops.mean(-log_sigma + 0.5 * (keras.ops.exp(2.0 * log_sigma) + keras.ops.square(mu) - 1.0))
