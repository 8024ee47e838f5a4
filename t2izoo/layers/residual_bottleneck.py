"""Residual bottleneck block of reedscot/icml2016 (1x1 -> 3x3 -> 3x3, added to the input)."""

import keras
from keras import layers

from t2izoo.layers.init import batch_norm, conv_init


class ResidualBottleneck(layers.Layer):
    """x + BN(conv3x3(act(BN(conv3x3(act(BN(conv1x1(x)))))))), then the activation.

    Args:
        bottleneck_channels: width of the inner 1x1/3x3 convolutions.
        leaky: LeakyReLU(0.2) (discriminator) instead of ReLU (generator).
        sync_batch_norm: synchronise BN statistics across replicas.

    Inputs: [B, H, W, C]; output [B, H, W, C].

    Example:
        >>> block = ResidualBottleneck(16)
        >>> block(keras.ops.zeros((2, 4, 4, 64))).shape
        (2, 4, 4, 64)

    Reference: Reed et al. 2016, icml2016 main_cls_int.lua (netG/netD residual branches).
    """

    def __init__(self, bottleneck_channels, leaky=False, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.bottleneck_channels = bottleneck_channels
        self.leaky = leaky
        self.sync_batch_norm = sync_batch_norm

    def build(self, input_shape):
        channels = input_shape[-1]
        conv = lambda c, k: layers.Conv2D(c, k, padding="same", use_bias=False,  # noqa: E731
                                          kernel_initializer=conv_init())
        self.convs = [conv(self.bottleneck_channels, 1), conv(self.bottleneck_channels, 3), conv(channels, 3)]
        self.norms = [batch_norm(self.sync_batch_norm) for _ in range(3)]
        shape = tuple(input_shape)
        for c, n in zip(self.convs, self.norms):
            c.build(shape)
            shape = shape[:-1] + (c.filters,)
            n.build(shape)

    def _act(self, x):
        return keras.ops.leaky_relu(x, 0.2) if self.leaky else keras.ops.relu(x)

    def call(self, x, training=False):
        h = x
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = norm(conv(h), training=training)
            if i < 2:
                h = self._act(h)
        return self._act(x + h)

    def get_config(self):
        return {**super().get_config(), "bottleneck_channels": self.bottleneck_channels,
                "leaky": self.leaky, "sync_batch_norm": self.sync_batch_norm}
