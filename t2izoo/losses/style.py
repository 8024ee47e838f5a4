"""The style encoder's inversion loss (Reed et al., ICML 2016, Eq. 6)."""

import keras


def style_inversion_loss(noise, predicted):
    """L_style = E_{t, z ~ N(0, 1)} ||z - S(G(z, phi(t)))||_2^2 (Reed et al. 2016, Eq. 6).

    Args:
        noise: z [B, Z], the noise the generator was given.
        predicted: S(G(z, phi(t))) [B, Z].

    Returns: the batch mean of the squared L2 distance (summed over the Z dimensions).
    """
    predicted = keras.ops.cast(predicted, "float32")  # mixed precision: the loss in float32
    return keras.ops.mean(keras.ops.sum(keras.ops.square(keras.ops.cast(noise, "float32") - predicted), axis=-1))
