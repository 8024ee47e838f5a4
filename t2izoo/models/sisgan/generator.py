"""SISGAN's generator: image encoder, text conditioning by CA, concatenation + residual
transformation, decoder."""

import keras
from keras import layers

from t2izoo.layers.conditioning_augmentation import ConditioningAugmentation
from t2izoo.layers.init import batch_norm, conv_init
from t2izoo.layers.residual_block import ResidualBlock

# VGG16's Caffe preprocessing (keras.applications.vgg16.preprocess_input): BGR, mean-subtracted.
VGG_BGR_MEAN = (103.939, 116.779, 123.68)


def vgg16_features(weights_path, image_size):
    """Frozen VGG16 conv layers up to block3_conv3 (stride 4: 64 px -> 16x16x256) from a local
    Keras weights file (`include_top=False`); None builds it with random weights (tests)."""
    base = keras.applications.VGG16(include_top=False, weights=weights_path or None,
                                    input_shape=(image_size, image_size, 3))
    model = keras.Model(base.input, base.get_layer("block3_conv3").output, name="vgg16_block3")
    model.trainable = False
    return model


class SisganGenerator(keras.Model):
    """G(x, phi(t)): encode x to 16x16, join the CA condition tiled, 4 residual blocks, decode.

    Args:
        image_size: input and output side (64).
        ngf: 8ngf channels at 16x16 (ngf = 64: the paper's 512).
        condition_dim: CA size (128).
        num_residual: residual blocks (4).
        image_encoder: "cnn" (conv3x3 ngf, then stride-2 4x4 convs to 4ngf and 8ngf, BN + ReLU,
            trained with G) or "vgg" (frozen VGG16 to block3_conv3 + conv3x3 to 8ngf, BN, ReLU).
        vgg_weights: the local VGG16 weights file for "vgg" ("" = random, for tests only).
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (images [B, S, S, 3] in [-1, 1], sentence embedding [B, D], CA noise [B, condition_dim]
    or None) -> (images [B, S, S, 3] in [-1, 1], mu, log_sigma [B, condition_dim]).

    Example:
        >>> g = SisganGenerator(image_size=16, ngf=2, condition_dim=4, num_residual=1, image_encoder="cnn")
        >>> g((keras.ops.zeros((2, 16, 16, 3)), keras.ops.zeros((2, 8)), None))[0].shape
        (2, 16, 16, 3)

    Reference: Dong et al., ICCV 2017, Sec. 3.2 and Fig. 2; woozzu/dong_iccv_2017 model.py `Generator`.
    """

    def __init__(self, image_size=64, ngf=64, condition_dim=128, num_residual=4, image_encoder="cnn",
                 vgg_weights="", sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.ngf = ngf
        self.condition_dim = condition_dim
        self.num_residual = num_residual
        self.image_encoder = image_encoder
        self.vgg_weights = vgg_weights
        self.sync_batch_norm = sync_batch_norm
        if image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
        conv = lambda c, k=3, s=1: layers.Conv2D(c, k, strides=s, padding="same", use_bias=False,  # noqa: E731
                                                 kernel_initializer=conv_init())
        if image_encoder == "vgg":
            self.vgg = vgg16_features(vgg_weights, image_size)
            self.encoder_convs = [conv(8 * ngf)]
        elif image_encoder == "cnn":
            self.vgg = None
            self.encoder_convs = [conv(ngf), conv(4 * ngf, 4, 2), conv(8 * ngf, 4, 2)]
        else:
            raise ValueError(f"image_encoder must be 'cnn' or 'vgg', got {image_encoder!r}")
        self.encoder_norms = [batch_norm(sync_batch_norm) for _ in self.encoder_convs]
        self.ca = ConditioningAugmentation(condition_dim)
        self.joint_conv = conv(8 * ngf)
        self.joint_norm = batch_norm(sync_batch_norm)
        self.residual = [ResidualBlock(gated=False, sync_batch_norm=sync_batch_norm) for _ in range(num_residual)]
        self.decoder_convs = [conv(4 * ngf), conv(2 * ngf)]
        self.decoder_norms = [batch_norm(sync_batch_norm) for _ in self.decoder_convs]
        self.to_rgb = layers.Conv2D(3, 3, padding="same", kernel_initializer=conv_init())

    def encode_image(self, images, training=False):
        h = images
        if self.vgg is not None:
            pixels = (images + 1.0) * 127.5
            h = self.vgg(keras.ops.flip(pixels, axis=-1) - keras.ops.array(VGG_BGR_MEAN, "float32"), training=False)
        for conv, norm in zip(self.encoder_convs, self.encoder_norms):
            h = keras.ops.relu(norm(conv(h), training=training))
        return h

    def call(self, inputs, training=False):
        images, sentence, noise = inputs
        features = self.encode_image(images, training)
        c, mu, log_sigma = self.ca(sentence, eps=noise)
        side = keras.ops.shape(features)[1]
        tiled = keras.ops.tile(c[:, None, None, :], (1, side, side, 1))
        h = keras.ops.concatenate([features, tiled], axis=-1)
        h = keras.ops.relu(self.joint_norm(self.joint_conv(h), training=training))
        for block in self.residual:
            h = block(h, training=training)
        for conv, norm in zip(self.decoder_convs, self.decoder_norms):
            h = keras.ops.repeat(keras.ops.repeat(h, 2, axis=1), 2, axis=2)  # nearest up-sampling
            h = keras.ops.relu(norm(conv(h), training=training))
        return keras.ops.tanh(self.to_rgb(h)), mu, log_sigma

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "ngf": self.ngf,
                "condition_dim": self.condition_dim, "num_residual": self.num_residual,
                "image_encoder": self.image_encoder, "vgg_weights": self.vgg_weights,
                "sync_batch_norm": self.sync_batch_norm}
