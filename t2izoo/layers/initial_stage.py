"""The first stage of the StackGAN++ / AttnGAN tree generators: [c, z] -> low-resolution features."""

import math

import keras
from keras import layers

from t2izoo.layers.glu import GLU
from t2izoo.layers.init import batch_norm, conv_init
from t2izoo.layers.upsample_block import UpsampleBlock


class InitialStage(keras.layers.Layer):
    """F_0: [c, z] -> Dense (no bias) + BN + GLU -> 4x4 x width -> GLU up-blocks to `size`.

    Args:
        width: channels at 4x4 (16 * GF_DIM = 1024); halved by each of the log2(size/4) up-blocks.
        size: output side (BASE_SIZE 64).
        sync_batch_norm: synchronise BN statistics across replicas.

    Inputs: [B, z_dim + N_g]; output [B, size, size, width / 2^log2(size/4)].

    Reference: StackGAN-v2 code/model.py `INIT_STAGE_G`.
    """

    def __init__(self, width, size=64, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.size = size
        self.sync_batch_norm = sync_batch_norm
        self.fc = layers.Dense(4 * 4 * width * 2, use_bias=False, kernel_initializer=conv_init())
        self.fc_norm = batch_norm(sync_batch_norm)
        self.glu = GLU()
        num_up = int(math.log2(size // 4))
        self.ups = [UpsampleBlock(max(width // 2 ** (i + 1), 1), sync_batch_norm=sync_batch_norm)
                    for i in range(num_up)]

    @property
    def out_channels(self):
        return max(self.width // 2 ** len(self.ups), 1)

    def build(self, input_shape):
        self.fc.build(input_shape)
        self.fc_norm.build((input_shape[0], self.fc.units))
        shape = (input_shape[0], 4, 4, self.width)
        for up in self.ups:
            up.build(shape)
            shape = (shape[0], 2 * shape[1], 2 * shape[2], up.filters)

    def call(self, code, training=False):
        h = self.glu(self.fc_norm(self.fc(code), training=training))
        h = keras.ops.reshape(h, (-1, 4, 4, self.width))
        for up in self.ups:
            h = up(h, training=training)
        return h

    def get_config(self):
        return {**super().get_config(), "width": self.width, "size": self.size,
                "sync_batch_norm": self.sync_batch_norm}
