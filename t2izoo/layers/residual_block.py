"""Two-convolution residual block of StackGAN Stage-II (ReLU), StackGAN++/AttnGAN (GLU) and TAGAN/SISGAN."""

import keras

from t2izoo.layers.glu import GLU
from t2izoo.layers.init import batch_norm, conv_init


class ResidualBlock(keras.layers.Layer):
    """x + BN(conv3x3(act(BN(conv3x3(x))))), channel count kept.

    Args:
        gated: StackGAN++/AttnGAN `ResBlock`: the first conv has 2C channels and a GLU, and the
            sum is returned as is. Otherwise StackGAN Stage-II's `residual_block`: ReLU inside
            and ReLU after the sum.
        relu_after_sum: ReLU after the sum of the ungated block (StackGAN); False: the sum is
            returned as is (TAGAN's `ResidualBlock`, woozzu/tagan model.py).
        sync_batch_norm: synchronise BN statistics across replicas.

    Inputs: [B, H, W, C]; output [B, H, W, C].

    Example:
        >>> ResidualBlock()(keras.ops.zeros((2, 8, 8, 16))).shape
        (2, 8, 8, 16)

    Reference: StackGAN stageII/model.py `residual_block`; StackGAN-v2 code/model.py `ResBlock`.
    """

    def __init__(self, gated=True, sync_batch_norm=False, relu_after_sum=True, **kwargs):
        super().__init__(**kwargs)
        self.gated = gated
        self.relu_after_sum = relu_after_sum
        self.sync_batch_norm = sync_batch_norm

    def build(self, input_shape):
        channels = input_shape[-1]
        conv = lambda c: keras.layers.Conv2D(c, 3, padding="same", use_bias=False,  # noqa: E731
                                             kernel_initializer=conv_init())
        self.conv1 = conv((2 if self.gated else 1) * channels)
        self.norm1 = batch_norm(self.sync_batch_norm)
        self.conv2 = conv(channels)
        self.norm2 = batch_norm(self.sync_batch_norm)
        self.glu = GLU() if self.gated else None
        shape = tuple(input_shape)
        self.conv1.build(shape)
        self.norm1.build(shape[:-1] + (self.conv1.filters,))
        self.conv2.build(shape)
        self.norm2.build(shape)

    def call(self, x, training=False):
        h = self.norm1(self.conv1(x), training=training)
        h = self.glu(h) if self.gated else keras.ops.relu(h)
        h = x + self.norm2(self.conv2(h), training=training)
        return keras.ops.relu(h) if self.relu_after_sum and not self.gated else h

    def get_config(self):
        return {**super().get_config(), "gated": self.gated, "sync_batch_norm": self.sync_batch_norm,
                "relu_after_sum": self.relu_after_sum}
