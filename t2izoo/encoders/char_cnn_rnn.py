"""char-CNN-RNN text encoder (Reed et al. CVPR 2016), the text side of GAN-INT-CLS."""

import keras
from keras import layers

from t2izoo.data.text import NUM_CHARS

class CharCnnRnnEncoder(keras.Model):
    """Characters -> temporal CNN -> GRU -> mean of hidden states -> linear embedding.

    Args:
        conv_channels: widths of the three temporal convolutions (384, 512, cnn_dim=512 in the
            icml2016 checkpoints; cvpr2016 default cnn_dim 256).
        rnn_dim: GRU width (= cnn_dim in cvpr2016).
        embedding_dim: output size (1024, matching GoogLeNet features).
        num_chars: alphabet size including the padding code 0.

    Inputs: int character codes [B, 201]; output [B, embedding_dim].

    Example:
        >>> enc = CharCnnRnnEncoder(conv_channels=(16, 16, 16), rnn_dim=16, embedding_dim=32)
        >>> enc(keras.ops.zeros((2, 201), "int32")).shape
        (2, 32)

    Reference: reedscot/cvpr2016 modules/HybridCNN.lua: TemporalConvolution(k=4) + ReLU +
    max-pool 3 (x2), TemporalConvolution(k=4) + ReLU + max-pool(3, 2), 8 time steps to the
    RNN, hidden states averaged, linear projection.
    """

    def __init__(self, conv_channels=(384, 512, 512), rnn_dim=512, embedding_dim=1024, num_chars=NUM_CHARS,
                 **kwargs):
        super().__init__(**kwargs)
        self.conv_channels = tuple(conv_channels)
        self.rnn_dim = rnn_dim
        self.embedding_dim = embedding_dim
        self.num_chars = num_chars
        self.convs = [layers.Conv1D(c, 4, activation="relu") for c in self.conv_channels]
        self.pools = [layers.MaxPooling1D(3, 3), layers.MaxPooling1D(3, 3), layers.MaxPooling1D(3, 2)]
        self.rnn = layers.GRU(rnn_dim, return_sequences=True)
        self.projection = layers.Dense(embedding_dim)

    def call(self, chars, training=False):
        # Code 0 (padding / unknown character) is the all-zero vector, as in cvpr2016's one-hot.
        h = keras.ops.one_hot(keras.ops.cast(chars, "int32"), self.num_chars)[..., 1:]
        for conv, pool in zip(self.convs, self.pools):
            h = pool(conv(h))
        h = keras.ops.mean(self.rnn(h, training=training), axis=1)
        return self.projection(h)

    def get_config(self):
        return {**super().get_config(), "conv_channels": self.conv_channels, "rnn_dim": self.rnn_dim,
                "embedding_dim": self.embedding_dim, "num_chars": self.num_chars}
