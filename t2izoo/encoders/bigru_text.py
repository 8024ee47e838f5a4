"""A bidirectional GRU word encoder whose two directions are averaged (TAGAN's text side)."""

from __future__ import annotations

import keras

from t2izoo.encoders.bilstm import word_mask


class BiGruWordEncoder(keras.Model):
    """Word ids -> word vectors -> bidirectional GRU -> per-word features u_w (the forward and
    backward states averaged), their mean over the caption's words and the word mask.

    Padded positions are masked as in woozzu/tagan `_encode_txt`: the backward GRU starts at the
    last real word, and the features of padded positions are zero, so they change nothing.

    Args:
        vocab_size: rows of the word-vector table (id 0 = padding).
        word_dim: word-vector size (300: fastText).
        hidden_dim: GRU size of each direction = feature size (512).
        trainable_words: train the word vectors (False when they come from a `.vec` file, which
            TAGAN keeps fixed).

    Inputs: (tokens int32 [B, T], lengths int32 [B]).
    Outputs: (words [B, T, hidden_dim], sentence [B, hidden_dim] = mean of the real words'
    features, mask float [B, T]).

    Example:
        >>> enc = BiGruWordEncoder(vocab_size=10, word_dim=4, hidden_dim=6)
        >>> words, sentence, mask = enc((keras.ops.ones((2, 5), "int32"), keras.ops.array([5, 2])))
        >>> words.shape, sentence.shape
        ((2, 5, 6), (2, 6))

    Reference: Nam et al., "Text-Adaptive Generative Adversarial Networks", NeurIPS 2018, Sec. 3.1
    (bi-directional GRU, averaged directions); woozzu/tagan model.py (GRUCell(300, 512) x 2).
    """

    def __init__(self, vocab_size, word_dim=300, hidden_dim=512, trainable_words=True, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.word_dim = word_dim
        self.hidden_dim = hidden_dim
        self.trainable_words = trainable_words
        self.words = keras.layers.Embedding(vocab_size, word_dim, trainable=trainable_words, name="word_vectors")
        self.rnn = keras.layers.Bidirectional(keras.layers.GRU(hidden_dim, return_sequences=True),
                                              merge_mode="ave", name="bigru")

    @property
    def feature_dim(self) -> int:
        return self.hidden_dim

    def call(self, inputs, training=False):
        tokens, lengths = inputs
        tokens = keras.ops.cast(tokens, "int32")
        mask = word_mask(lengths, keras.ops.shape(tokens)[1])
        words = self.rnn(self.words(tokens), mask=mask, training=training)
        maskf = keras.ops.cast(mask, words.dtype)
        words = words * maskf[..., None]
        count = keras.ops.maximum(keras.ops.sum(maskf, axis=1, keepdims=True), 1.0)
        return words, keras.ops.sum(words, axis=1) / count, maskf

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "word_dim": self.word_dim,
                "hidden_dim": self.hidden_dim, "trainable_words": self.trainable_words}
