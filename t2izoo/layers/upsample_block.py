"""Nearest-neighbour x2 up-sampling + 3x3 convolution + BN + activation (StackGAN family)."""

import keras

from t2izoo.layers.glu import GLU
from t2izoo.layers.init import batch_norm, conv_init

ACTIVATIONS = ("glu", "relu", "linear")


class UpsampleBlock(keras.layers.Layer):
    """Up x2 (nearest) -> conv3x3 -> BN -> GLU | ReLU | nothing.

    Args:
        filters: output channels. With `activation="glu"` the convolution has 2 * filters
            channels and the GLU halves them (StackGAN++ `upBlock`).
        activation: `glu` (StackGAN++/AttnGAN), `relu` (StackGAN Stage-I/II decoders) or
            `linear` (StackGAN Stage-I's 8x8 block, activated after its residual branch).
        scale: up-sampling factor (2).
        sync_batch_norm: synchronise BN statistics across replicas.

    Inputs: [B, H, W, C]; output [B, scale*H, scale*W, filters].

    Example:
        >>> UpsampleBlock(8)(keras.ops.zeros((2, 4, 4, 16))).shape
        (2, 8, 8, 8)

    Reference: StackGAN-v2 code/model.py `upBlock`; StackGAN stageI/model.py (resize_nearest_neighbor
    + custom_conv2d 3x3 + conv_batch_norm).
    """

    def __init__(self, filters, activation="glu", scale=2, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.filters = filters
        self.activation = activation
        self.scale = scale
        self.sync_batch_norm = sync_batch_norm
        self.upsample = keras.layers.UpSampling2D(scale, interpolation="nearest")
        self.conv = keras.layers.Conv2D((2 if activation == "glu" else 1) * filters, 3, padding="same",
                                        use_bias=False, kernel_initializer=conv_init())
        self.norm = batch_norm(sync_batch_norm)
        self.glu = GLU() if activation == "glu" else None

    def build(self, input_shape):
        b, h, w, c = input_shape
        up = (b, None if h is None else h * self.scale, None if w is None else w * self.scale, c)
        self.conv.build(up)
        self.norm.build(up[:-1] + (self.conv.filters,))

    def call(self, x, training=False):
        h = self.norm(self.conv(self.upsample(x)), training=training)
        if self.activation == "glu":
            return self.glu(h)
        return keras.ops.relu(h) if self.activation == "relu" else h

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "activation": self.activation,
                "scale": self.scale, "sync_batch_norm": self.sync_batch_norm}
