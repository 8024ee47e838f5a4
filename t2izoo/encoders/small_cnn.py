"""A small image encoder trained from scratch (the image side on `shapes`)."""

import keras
from keras import layers

from t2izoo.layers.global_batch_norm import GlobalBatchNormalization


class SmallImageEncoder(keras.Model):
    """Stride-2 conv stack + global average pool + linear: images -> embedding.

    Args:
        embedding_dim: output size.
        widths: channels of the stride-2 3x3 convolutions.

    Inputs: images [B, S, S, 3] in [-1, 1]; output [B, embedding_dim].

    Example:
        >>> enc = SmallImageEncoder(embedding_dim=32, widths=(8, 16))
        >>> enc(keras.ops.zeros((2, 32, 32, 3))).shape
        (2, 32)
    """

    def __init__(self, embedding_dim=256, widths=(32, 64, 128, 256), **kwargs):
        super().__init__(**kwargs)
        self.embedding_dim = embedding_dim
        self.widths = tuple(widths)
        self.convs = [layers.Conv2D(w, 3, strides=2, padding="same") for w in self.widths]
        # Global-batch statistics under a distribution strategy, as on one device (the variables of
        # `BatchNormalization`, so checkpoints are unchanged).
        self.norms = [GlobalBatchNormalization() for _ in self.widths]
        self.projection = layers.Dense(embedding_dim)

    def call(self, images, training=False):
        h = images
        for conv, norm in zip(self.convs, self.norms):
            h = keras.ops.relu(norm(conv(h), training=training))
        return self.projection(keras.ops.mean(h, axis=(1, 2)))

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim, "widths": self.widths}
