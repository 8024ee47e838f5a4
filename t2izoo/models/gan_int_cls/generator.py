"""Text-conditional DCGAN generator of GAN-INT-CLS."""

import math

import keras
from keras import layers

from t2izoo.layers.embedding_standardization import EmbeddingStandardization
from t2izoo.layers.init import batch_norm, conv_init
from t2izoo.layers.residual_bottleneck import ResidualBottleneck


class DCGANGenerator(keras.Model):
    """G(z, phi(t)): text projection + noise -> 4x4 -> ... -> image, tanh.

    Args:
        image_size: output side (a power of two >= 16; 64 in the paper).
        z_dim: noise size (100).
        text_proj_dim: size of the projected text code (128); the text embedding is projected
            by Dense + LeakyReLU(0.2) and concatenated with the noise.
        ngf: base width; the 4x4 stage has 8*ngf channels, halved at each up-sampling.
        residual: add the two residual bottlenecks of icml2016 (at 4x4 and 8x8).
        sync_batch_norm: synchronise BN statistics across replicas.
        standardize_text: NOT IN THE PAPER. Standardise the text embedding per dimension with
            fixed training-set statistics (`EmbeddingStandardization`; the recipe sets them)
            before the projection. A reparameterisation of the projection, not a new layer of
            capacity.
        icml2016_activations: as icml2016's netG, no ReLU between a batch norm and the residual
            bottleneck that follows it (the block's own ReLU after the sum is the only one).
            False: a ReLU there too (t2izoo runs before this switch).
        conv_bias: a bias on the last (to-RGB) transposed convolution. icml2016 zeroes every
            convolution bias before each step, so False is the official behaviour.

    Inputs: (noise [B, z_dim], text embedding [B, D]); output [B, image_size, image_size, 3]
    in [-1, 1].

    Example:
        >>> g = DCGANGenerator(image_size=32, ngf=8)
        >>> g((keras.ops.zeros((2, 100)), keras.ops.zeros((2, 64)))).shape
        (2, 32, 32, 3)

    Reference: Reed et al., "Generative Adversarial Text to Image Synthesis", ICML 2016, Sec. 3.1
    and reedscot/icml2016 main_cls_int.lua (netG).
    """

    def __init__(self, image_size=64, z_dim=100, text_proj_dim=128, ngf=128, residual=True,
                 sync_batch_norm=False, standardize_text=False, icml2016_activations=True, conv_bias=False,
                 **kwargs):
        super().__init__(**kwargs)
        if image_size < 16 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 16, got {image_size}")
        self.image_size = image_size
        self.z_dim = z_dim
        self.text_proj_dim = text_proj_dim
        self.ngf = ngf
        self.residual = residual
        self.sync_batch_norm = sync_batch_norm
        self.standardize_text = standardize_text
        self.icml2016_activations = icml2016_activations
        self.conv_bias = conv_bias
        self.text_standardization = EmbeddingStandardization() if standardize_text else None
        num_up = int(math.log2(image_size // 4))
        self.text_projection = layers.Dense(text_proj_dim, kernel_initializer=conv_init())
        self.initial = layers.Conv2DTranspose(8 * ngf, 4, padding="valid", use_bias=False,
                                              kernel_initializer=conv_init())
        self.initial_norm = batch_norm(sync_batch_norm)
        self.blocks = []
        channels = 8 * ngf
        for i in range(num_up - 1):
            res = ResidualBottleneck(channels // 4, sync_batch_norm=sync_batch_norm) if residual and i < 2 else None
            channels //= 2
            up = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=False,
                                        kernel_initializer=conv_init())
            self.blocks.append((res, up, batch_norm(sync_batch_norm)))
        self.to_rgb = layers.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=conv_bias,
                                             kernel_initializer=conv_init())
        for i, (res, up, norm) in enumerate(self.blocks):  # track sub-layers
            if res is not None:
                setattr(self, f"res_{i}", res)
            setattr(self, f"up_{i}", up)
            setattr(self, f"up_norm_{i}", norm)

    def call(self, inputs, training=False):
        noise, text = inputs
        if self.text_standardization is not None:
            text = self.text_standardization(text)
        t = keras.ops.leaky_relu(self.text_projection(text), 0.2)
        h = keras.ops.concatenate([noise, t], axis=-1)[:, None, None, :]
        h = self._activation(self.initial_norm(self.initial(h), training=training), 0)
        for i, (res, up, norm) in enumerate(self.blocks):
            if res is not None:
                h = res(h, training=training)
            h = self._activation(norm(up(h), training=training), i + 1)
        return keras.ops.tanh(self.to_rgb(h))

    def _activation(self, h, next_block):
        """ReLU, except before a residual bottleneck in the icml2016 layout (the block ends in one)."""
        followed_by_residual = next_block < len(self.blocks) and self.blocks[next_block][0] is not None
        return h if self.icml2016_activations and followed_by_residual else keras.ops.relu(h)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "z_dim": self.z_dim,
                "text_proj_dim": self.text_proj_dim, "ngf": self.ngf, "residual": self.residual,
                "sync_batch_norm": self.sync_batch_norm, "standardize_text": self.standardize_text,
                "icml2016_activations": self.icml2016_activations, "conv_bias": self.conv_bias}
