"""`GlobalBatchNormalization`: batch norm over the global batch, accurate under a strategy."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="t2izoo")
class GlobalBatchNormalization(keras.layers.BatchNormalization):
    """Keras `BatchNormalization(synchronized=True)` whose variance is computed about the mean.

    Under a distribution strategy a synchronized batch norm normalises with the statistics of
    the global batch (every replica's rows), as one device does. Keras computes them in one pass,
    var = E[x^2] - E[x]^2 over the all-reduced sums, which loses float32 digits when the mean is
    large against the spread (ReLU features of a from-scratch CNN): a 2-replica step then drifts
    from the one-device step by ~1e-3 relative, and training amplifies it. Here the variance is a
    second synchronized pass over x - mean (E[x - mean] ~ 0, so nothing cancels). On one replica the
    result equals plain batch norm up to round-off. Same variables as `BatchNormalization`.

    Args: those of `keras.layers.BatchNormalization` (`synchronized` is always True).

    Example:
        >>> norm = GlobalBatchNormalization()
        >>> y = norm(keras.random.normal((8, 4, 4, 16)), training=True)
    """

    def __init__(self, **kwargs):
        kwargs["synchronized"] = True
        super().__init__(**kwargs)

    def _moments(self, inputs, mask):
        mean, variance = super()._moments(inputs, mask)
        if mask is not None:
            return mean, variance
        shift = ops.stop_gradient(mean)
        centered_mean, variance = ops.moments(inputs - shift, axes=self._reduction_axes, synchronized=True)
        return centered_mean + shift, variance

    def get_config(self):
        config = super().get_config()
        config.pop("synchronized", None)
        return config
