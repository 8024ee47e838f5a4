"""Matching-aware discriminator of GAN-INT-CLS."""

import math

import keras
from keras import layers

from t2izoo.layers.init import batch_norm, conv_init
from t2izoo.layers.residual_bottleneck import ResidualBottleneck

TEXT_CONDITIONING = ("concat", "projection")


class MatchingAwareDiscriminator(keras.Model):
    """D(x, phi(t)) -> logit that the image is real AND matches the text.

    Stride-2 4x4 convolutions down to 4x4x(8*ndf) (+ a residual bottleneck), the projected
    text (Dense + BN + LeakyReLU) tiled 4x4 and concatenated, a 1x1 conv and a 4x4 conv to one
    logit.

    Args:
        image_size: input side (power of two >= 16).
        text_proj_dim: projected text size (128).
        ndf: base width (64 for CUB/Flowers).
        residual: the residual bottleneck at 4x4 (icml2016).
        sync_batch_norm: synchronise BN statistics across replicas.
        text_conditioning: "concat" (the paper: text code tiled and concatenated before the
            joint convolutions) or "projection", NOT IN THE PAPER: the joint convolutions see the
            image alone and the logit gains the inner product of their 4x4 feature map with a
            per-position linear map of the text code (Miyato & Koyama 2018's projection
            discriminator, with a spatial embedding so the text can say where).
        icml2016_activations: as icml2016's netD, with `residual`: batch norm but no LeakyReLU
            after the 4ndf and 8ndf convolutions (the residual block's LeakyReLU after its sum
            follows them). False: a LeakyReLU after every down-sampling (t2izoo runs before
            this switch).
        conv_bias: a bias on the final 4x4 logit convolution. icml2016 zeroes every convolution
            bias before each step, so False is the official behaviour.

    Inputs: (images [B, S, S, 3] in [-1, 1], text embedding [B, D]); output logits [B].

    Example:
        >>> d = MatchingAwareDiscriminator(image_size=32, ndf=8)
        >>> d((keras.ops.zeros((2, 32, 32, 3)), keras.ops.zeros((2, 64)))).shape
        (2,)

    Reference: Reed et al. 2016, Sec. 4.1 (matching-aware discriminator); icml2016 netD.
    """

    def __init__(self, image_size=64, text_proj_dim=128, ndf=64, residual=True, sync_batch_norm=False,
                 text_conditioning="concat", icml2016_activations=True, conv_bias=False, **kwargs):
        super().__init__(**kwargs)
        if image_size < 16 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 16, got {image_size}")
        if text_conditioning not in TEXT_CONDITIONING:
            raise ValueError(f"text_conditioning must be one of {TEXT_CONDITIONING}, got {text_conditioning!r}")
        self.text_conditioning = text_conditioning
        self.image_size = image_size
        self.text_proj_dim = text_proj_dim
        self.ndf = ndf
        self.residual = residual
        self.sync_batch_norm = sync_batch_norm
        self.icml2016_activations = icml2016_activations
        self.conv_bias = conv_bias
        num_down = int(math.log2(image_size // 4))
        self.downs = []
        for i in range(num_down):
            channels = ndf * 2 ** max(0, i + 4 - num_down)  # the last one has 8 * ndf
            conv = layers.Conv2D(channels, 4, strides=2, padding="same", use_bias=False, kernel_initializer=conv_init())
            norm = batch_norm(sync_batch_norm) if i > 0 else None
            # icml2016: the 4ndf and 8ndf convolutions feed the residual block through BN alone.
            linear = icml2016_activations and residual and norm is not None and i >= num_down - 2
            self.downs.append((conv, norm, not linear))
            setattr(self, f"down_{i}", conv)
            if norm is not None:
                setattr(self, f"down_norm_{i}", norm)
        self.res = ResidualBottleneck(2 * ndf, leaky=True, sync_batch_norm=sync_batch_norm) if residual else None
        self.text_projection = layers.Dense(text_proj_dim, kernel_initializer=conv_init())
        self.text_norm = batch_norm(sync_batch_norm)
        self.joint = layers.Conv2D(8 * ndf, 1, use_bias=False, kernel_initializer=conv_init())
        self.joint_norm = batch_norm(sync_batch_norm)
        self.logit = layers.Conv2D(1, 4, padding="valid", use_bias=conv_bias, kernel_initializer=conv_init())
        if text_conditioning == "projection":  # text code -> one 8ndf vector per 4x4 position
            # Zero init: N(0, 0.02) would add a logit term of std ~7 (a sum over 16 * 8ndf
            # unit-scale products) before D has learnt anything; from zero it grows with h * t.
            self.text_embedding = layers.Dense(4 * 4 * 8 * ndf, use_bias=False, kernel_initializer="zeros")

    def call(self, inputs, training=False):
        images, text = inputs
        h = images
        for conv, norm, activation in self.downs:
            h = conv(h)
            if norm is not None:
                h = norm(h, training=training)
            if activation:
                h = keras.ops.leaky_relu(h, 0.2)
        if self.res is not None:
            h = self.res(h, training=training)
        t = keras.ops.leaky_relu(self.text_norm(self.text_projection(text), training=training), 0.2)
        if self.text_conditioning == "concat":
            h = keras.ops.concatenate([h, keras.ops.tile(t[:, None, None, :], (1, 4, 4, 1))], axis=-1)
        h = keras.ops.leaky_relu(self.joint_norm(self.joint(h), training=training), 0.2)
        logits = keras.ops.reshape(self.logit(h), (-1,))
        if self.text_conditioning == "projection":
            embedded = keras.ops.reshape(self.text_embedding(t), (-1, 4, 4, 8 * self.ndf))
            logits = logits + keras.ops.sum(h * embedded, axis=(1, 2, 3))
        return logits

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "text_proj_dim": self.text_proj_dim,
                "ndf": self.ndf, "residual": self.residual, "sync_batch_norm": self.sync_batch_norm,
                "text_conditioning": self.text_conditioning, "icml2016_activations": self.icml2016_activations,
                "conv_bias": self.conv_bias}
