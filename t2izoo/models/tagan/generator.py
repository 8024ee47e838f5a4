"""TAGAN's generator: conv image encoder, bi-GRU text encoder + CA, concatenation + residual
transformation, decoder over the sum of the encoder features and the transformation."""

import keras
from keras import layers

from t2izoo.encoders.bigru_text import BiGruWordEncoder
from t2izoo.layers.conditioning_augmentation import ConditioningAugmentation
from t2izoo.layers.init import batch_norm, conv_init
from t2izoo.layers.residual_block import ResidualBlock


class TaganGenerator(keras.Model):
    """G(x, t): encode x to S/8, join the CA condition of the text's mean word feature tiled,
    conv + residual blocks, decode e + merge back to S.

    Args:
        vocab_size: rows of the word-vector table.
        image_size: input and output side (128; a multiple of 8).
        ngf: widths ngf, 2ngf, 4ngf, 8ngf of the encoder (64: 512 channels at 16x16).
        condition_dim: CA size (128).
        num_residual: residual blocks (4).
        word_dim, text_dim: word vectors (300) and bi-GRU size (512).
        trainable_words: learn the word vectors (False: fixed, loaded from a `.vec` file).
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (images [B, S, S, 3] in [-1, 1], tokens int32 [B, T], lengths int32 [B], CA noise
    [B, condition_dim] or None) -> (images [B, S, S, 3] in [-1, 1], mu, log_sigma [B, condition_dim]).

    Example:
        >>> g = TaganGenerator(vocab_size=10, image_size=32, ngf=2, condition_dim=4, num_residual=1,
        ...                    word_dim=4, text_dim=4)
        >>> g((keras.ops.zeros((2, 32, 32, 3)), keras.ops.ones((2, 5), "int32"), keras.ops.array([5, 2]),
        ...    None))[0].shape
        (2, 32, 32, 3)

    Reference: Nam et al., NeurIPS 2018, Sec. 3.2 and Fig. 2; woozzu/tagan model.py `Generator`.
    """

    def __init__(self, vocab_size, image_size=128, ngf=64, condition_dim=128, num_residual=4, word_dim=300,
                 text_dim=512, trainable_words=True, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.image_size = image_size
        self.ngf = ngf
        self.condition_dim = condition_dim
        self.num_residual = num_residual
        self.word_dim = word_dim
        self.text_dim = text_dim
        self.trainable_words = trainable_words
        self.sync_batch_norm = sync_batch_norm
        if image_size % 8:
            raise ValueError(f"image_size must be a multiple of 8, got {image_size}")
        conv = lambda c, k=3, s=1, bias=False: layers.Conv2D(c, k, strides=s, padding="same",  # noqa: E731
                                                             use_bias=bias, kernel_initializer=conv_init())
        self.text_encoder = BiGruWordEncoder(vocab_size, word_dim, text_dim, trainable_words, name="text_encoder")
        # The first conv has a bias and no BN (model.py), the stride-2 ones BN and no bias.
        self.encoder_convs = [conv(ngf, bias=True), conv(2 * ngf, 4, 2), conv(4 * ngf, 4, 2), conv(8 * ngf, 4, 2)]
        self.encoder_norms = [None] + [batch_norm(sync_batch_norm) for _ in range(3)]
        self.ca = ConditioningAugmentation(condition_dim)
        self.joint_conv = conv(8 * ngf)
        self.joint_norm = batch_norm(sync_batch_norm)
        self.residual = [ResidualBlock(gated=False, relu_after_sum=False, sync_batch_norm=sync_batch_norm)
                         for _ in range(num_residual)]
        self.decoder_convs = [conv(4 * ngf), conv(2 * ngf), conv(ngf)]
        self.decoder_norms = [batch_norm(sync_batch_norm) for _ in self.decoder_convs]
        self.to_rgb = conv(3, bias=True)

    def encode_image(self, images, training=False):
        h = images
        for conv, norm in zip(self.encoder_convs, self.encoder_norms):
            h = conv(h)
            h = keras.ops.relu(h if norm is None else norm(h, training=training))
        return h

    def call(self, inputs, training=False):
        images, tokens, lengths, noise = inputs
        e = self.encode_image(images, training)
        _, sentence, _ = self.text_encoder((tokens, lengths), training=training)
        c, mu, log_sigma = self.ca(sentence, eps=noise)
        side = keras.ops.shape(e)[1]
        h = keras.ops.concatenate([e, keras.ops.tile(c[:, None, None, :], (1, side, side, 1))], axis=-1)
        h = keras.ops.relu(self.joint_norm(self.joint_conv(h), training=training))
        for block in self.residual:
            h = block(h, training=training)
        h = e + h  # the decoder reads the encoder features plus the text-conditioned residual
        for conv, norm in zip(self.decoder_convs, self.decoder_norms):
            h = keras.ops.repeat(keras.ops.repeat(h, 2, axis=1), 2, axis=2)  # nearest up-sampling
            h = keras.ops.relu(norm(conv(h), training=training))
        return keras.ops.tanh(self.to_rgb(h)), mu, log_sigma

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "image_size": self.image_size,
                "ngf": self.ngf, "condition_dim": self.condition_dim, "num_residual": self.num_residual,
                "word_dim": self.word_dim, "text_dim": self.text_dim, "trainable_words": self.trainable_words,
                "sync_batch_norm": self.sync_batch_norm}
