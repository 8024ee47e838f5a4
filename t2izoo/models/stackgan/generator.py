"""StackGAN (Zhang et al., ICCV 2017): Stage-I (text -> 64 px) and Stage-II (64 px + text -> 256 px)."""

import math

import keras
from keras import layers

from t2izoo.layers.conditioning_augmentation import ConditioningAugmentation
from t2izoo.layers.init import batch_norm, conv_init
from t2izoo.layers.residual_block import ResidualBlock
from t2izoo.layers.residual_bottleneck import ResidualBottleneck
from t2izoo.layers.upsample_block import UpsampleBlock


def _check_size(name, size, minimum):
    if size < minimum or size & (size - 1):
        raise ValueError(f"{name} must be a power of two >= {minimum}, got {size}")


def _tile(code, size):
    return keras.ops.tile(code[:, None, None, :], (1, size, size, 1))


class StageIGenerator(keras.Model):
    """Stage-I: CA(phi_t) and z -> FC -> 4x4x8ngf -> up-sampling blocks -> image, tanh.

    FC(c, z) + BN to 4x4x(8 ngf) with a residual bottleneck, nearest-up + 3x3 conv to 8x8x(4 ngf)
    with a second bottleneck, then nearest-up + conv + BN + ReLU blocks halving the width, and a
    final nearest-up + 3x3 conv to RGB. Convolutions have no bias (as `custom_conv2d`).

    Args:
        image_size: output side (power of two >= 16; 64 in the paper).
        z_dim: noise size (100).
        condition_dim: CA code size N_g (128).
        ngf: base width (GF_DIM = 128; COCO 192).
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (noise [B, z_dim], text embedding [B, D]) or (noise, embedding, CA noise [B, N_g]).
    Returns (images [B, S, S, 3] in [-1, 1], mu [B, N_g], log_sigma [B, N_g]).

    Example:
        >>> g = StageIGenerator(image_size=16, ngf=8, condition_dim=8)
        >>> g((keras.ops.zeros((2, 100)), keras.ops.zeros((2, 32))))[0].shape
        (2, 16, 16, 3)

    Reference: Zhang et al. 2017, Sec. 3.3 and Fig. 2; hanzhanggit/StackGAN stageI/model.py
    (`generator`, NETWORK_TYPE "default").
    """

    def __init__(self, image_size=64, z_dim=100, condition_dim=128, ngf=128, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        _check_size("image_size", image_size, 16)
        self.image_size = image_size
        self.z_dim = z_dim
        self.condition_dim = condition_dim
        self.ngf = ngf
        self.sync_batch_norm = sync_batch_norm
        self.ca = ConditioningAugmentation(condition_dim, gated=False)
        self.fc = layers.Dense(4 * 4 * 8 * ngf, kernel_initializer=conv_init())
        self.fc_norm = batch_norm(sync_batch_norm)
        self.res_4 = ResidualBottleneck(2 * ngf, sync_batch_norm=sync_batch_norm)
        self.up_8 = UpsampleBlock(4 * ngf, activation="linear", sync_batch_norm=sync_batch_norm)
        self.res_8 = ResidualBottleneck(ngf, sync_batch_norm=sync_batch_norm)
        num_up = int(math.log2(image_size // 4))
        self.ups = [UpsampleBlock(max(4 * ngf // 2 ** (i + 1), 1), activation="relu", sync_batch_norm=sync_batch_norm)
                    for i in range(num_up - 2)]
        self.to_rgb_up = layers.UpSampling2D(2, interpolation="nearest")
        self.to_rgb = layers.Conv2D(3, 3, padding="same", use_bias=False, kernel_initializer=conv_init())

    def call(self, inputs, training=False):
        noise, embedding = inputs[0], inputs[1]
        c, mu, log_sigma = self.ca(embedding, inputs[2] if len(inputs) > 2 else None)
        h = self.fc_norm(self.fc(keras.ops.concatenate([c, noise], axis=-1)), training=training)
        h = self.res_4(keras.ops.reshape(h, (-1, 4, 4, 8 * self.ngf)), training=training)
        h = self.res_8(self.up_8(h, training=training), training=training)
        for up in self.ups:
            h = up(h, training=training)
        return keras.ops.tanh(self.to_rgb(self.to_rgb_up(h))), mu, log_sigma

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "z_dim": self.z_dim,
                "condition_dim": self.condition_dim, "ngf": self.ngf, "sync_batch_norm": self.sync_batch_norm}


class StageIIGenerator(keras.Model):
    """Stage-II: encode the Stage-I image, join the text again, residual blocks, decode larger.

    Encoder: conv3x3 (ngf) + ReLU, two stride-2 4x4 convs + BN + ReLU to (S_lo/4)^2 x 4ngf; its own
    CA code tiled and concatenated, conv3x3 + BN + ReLU (4 ngf); `num_residual` residual blocks;
    nearest-up + conv + BN + ReLU blocks (2ngf, ngf, ngf/2, ngf/4 for 64 -> 256) and a 3x3 conv to
    RGB, tanh.

    Args:
        image_size: output side (256 in the paper).
        low_size: side of the Stage-I image it refines (64).
        condition_dim: CA code size (128).
        ngf: base width (GF_DIM = 128).
        num_residual: residual blocks (4 in StackGAN's TF code; R_NUM = 2 in the COCO PyTorch cfg).
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (Stage-I images [B, S_lo, S_lo, 3], text embedding [B, D]) or (..., CA noise [B, N_g]).
    Returns (images [B, S, S, 3] in [-1, 1], mu, log_sigma).

    Example:
        >>> g = StageIIGenerator(image_size=32, low_size=16, ngf=8, condition_dim=8)
        >>> g((keras.ops.zeros((2, 16, 16, 3)), keras.ops.zeros((2, 32))))[0].shape
        (2, 32, 32, 3)

    Reference: Zhang et al. 2017, Sec. 3.4 and Fig. 2; StackGAN stageII/model.py `hr_get_generator`.
    """

    def __init__(self, image_size=256, low_size=64, condition_dim=128, ngf=128, num_residual=4,
                 sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        _check_size("low_size", low_size, 16)
        _check_size("image_size", image_size, 2 * low_size)
        self.image_size = image_size
        self.low_size = low_size
        self.condition_dim = condition_dim
        self.ca = ConditioningAugmentation(condition_dim, gated=False)
        self.ngf = ngf
        self.num_residual = num_residual
        self.sync_batch_norm = sync_batch_norm
        conv = lambda c, k, s=1: layers.Conv2D(c, k, strides=s, padding="same", use_bias=False,  # noqa: E731
                                               kernel_initializer=conv_init())
        self.encode_0 = conv(ngf, 3)
        self.encode_1 = conv(2 * ngf, 4, 2)
        self.encode_norm_1 = batch_norm(sync_batch_norm)
        self.encode_2 = conv(4 * ngf, 4, 2)
        self.encode_norm_2 = batch_norm(sync_batch_norm)
        self.joint = conv(4 * ngf, 3)
        self.joint_norm = batch_norm(sync_batch_norm)
        self.residuals = [ResidualBlock(gated=False, sync_batch_norm=sync_batch_norm) for _ in range(num_residual)]
        num_up = int(math.log2(image_size // (low_size // 4)))
        self.ups = [UpsampleBlock(max(2 * ngf // 2 ** i, 1), activation="relu", sync_batch_norm=sync_batch_norm)
                    for i in range(num_up)]
        self.to_rgb = conv(3, 3)

    def call(self, inputs, training=False):
        low, embedding = inputs[0], inputs[1]
        c, mu, log_sigma = self.ca(embedding, inputs[2] if len(inputs) > 2 else None)
        h = keras.ops.relu(self.encode_0(low))
        h = keras.ops.relu(self.encode_norm_1(self.encode_1(h), training=training))
        h = keras.ops.relu(self.encode_norm_2(self.encode_2(h), training=training))
        h = keras.ops.concatenate([h, _tile(c, self.low_size // 4)], axis=-1)
        h = keras.ops.relu(self.joint_norm(self.joint(h), training=training))
        for block in self.residuals:
            h = block(h, training=training)
        for up in self.ups:
            h = up(h, training=training)
        return keras.ops.tanh(self.to_rgb(h)), mu, log_sigma

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "low_size": self.low_size,
                "condition_dim": self.condition_dim, "ngf": self.ngf, "num_residual": self.num_residual,
                "sync_batch_norm": self.sync_batch_norm}
