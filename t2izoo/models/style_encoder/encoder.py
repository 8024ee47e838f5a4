"""The style encoder network S: image -> the generator's noise."""

import math

import keras
from keras import layers

from t2izoo.layers.init import batch_norm, conv_init


class StyleEncoder(keras.Model):
    """Stride-2 4x4 convolutions down to 4x4, flattened, a linear map to the noise.

    Args:
        image_size: input side (a power of two >= 8; 64 for GAN-INT-CLS).
        noise_width: output size (the generator's noise width, z_dim = 100).
        ndf: channels of the first convolution, doubled at each down-sampling (DCGAN's D layout,
            which icml2016's discriminator also follows).

    Inputs: images [B, S, S, 3] in [-1, 1]; output [B, noise_width] (unbounded, like z).

    Example:
        >>> s = StyleEncoder(image_size=32, noise_width=100, ndf=8)
        >>> s(keras.ops.zeros((2, 32, 32, 3))).shape
        (2, 100)

    Reference: Reed et al., "Generative Adversarial Text to Image Synthesis", ICML 2016, Sec. 4.4
    ("a convolutional network to invert G to regress from samples back onto z").
    """

    def __init__(self, image_size=64, noise_width=100, ndf=64, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.noise_width = noise_width
        self.ndf = ndf
        self.sync_batch_norm = sync_batch_norm
        steps = int(math.log2(image_size)) - 2
        if 2 ** (steps + 2) != image_size or steps < 1:
            raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
        self.convs = [layers.Conv2D(ndf * 2 ** min(i, 3), 4, strides=2, padding="same", use_bias=False,
                                    kernel_initializer=conv_init()) for i in range(steps)]
        self.norms = [None] + [batch_norm(sync_batch_norm) for _ in range(steps - 1)]  # no BN on the input layer (DCGAN)
        self.flatten = layers.Flatten()
        self.head = layers.Dense(noise_width, kernel_initializer=conv_init())

    def call(self, images, training=False):
        h = images
        for conv, norm in zip(self.convs, self.norms):
            h = conv(h)
            if norm is not None:
                h = norm(h, training=training)
            h = keras.ops.leaky_relu(h, 0.2)
        return self.head(self.flatten(h))

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "noise_width": self.noise_width,
                "ndf": self.ndf, "sync_batch_norm": self.sync_batch_norm}
