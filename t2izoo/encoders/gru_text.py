"""A GRU sentence encoder over word vectors (SISGAN's visual-semantic text encoder)."""

from __future__ import annotations

import keras
import numpy as np

from t2izoo.errors import DataError


class GruSentenceEncoder(keras.Model):
    """Word ids -> word vectors -> GRU -> the last hidden state: one vector per caption.

    Args:
        vocab_size: rows of the word-vector table (id 0 = padding).
        word_dim: word-vector size (300: fastText wiki.en).
        hidden_dim: GRU size = output size (300).
        trainable_words: train the word vectors (False when they come from a `.vec` file, as
            SISGAN keeps fastText fixed).

    Inputs: (tokens int32 [B, T], lengths int32 [B]); output [B, hidden_dim].

    Example:
        >>> enc = GruSentenceEncoder(vocab_size=10, word_dim=4, hidden_dim=6)
        >>> enc((keras.ops.ones((2, 5), "int32"), keras.ops.array([5, 2]))).shape
        (2, 6)

    Reference: Dong et al., "Semantic Image Synthesis via Adversarial Learning", ICCV 2017,
    Sec. 3.3; woozzu/dong_iccv_2017 model.py `VisualSemanticEmbedding` (GRU(300, 300)).
    """

    def __init__(self, vocab_size, word_dim=300, hidden_dim=300, trainable_words=True, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.word_dim = word_dim
        self.hidden_dim = hidden_dim
        self.trainable_words = trainable_words
        self.words = keras.layers.Embedding(vocab_size, word_dim, trainable=trainable_words, name="word_vectors")
        self.gru = keras.layers.GRU(hidden_dim, name="gru")

    @property
    def feature_dim(self) -> int:
        return self.hidden_dim

    def call(self, inputs, training=False):
        tokens, lengths = inputs
        t = keras.ops.shape(tokens)[1]
        mask = keras.ops.arange(t)[None, :] < keras.ops.cast(lengths, "int32")[:, None]
        return self.gru(self.words(tokens), mask=mask, training=training)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "word_dim": self.word_dim,
                "hidden_dim": self.hidden_dim, "trainable_words": self.trainable_words}


def load_word_vectors(path: str, words, dim: int, seed: int = 0) -> tuple:
    """(table float32 [len(words), dim], number found) from a fastText/GloVe text `.vec` file: a
    word's row is its vector when the file has it, else N(0, 0.1) noise; row 0 (padding) is zero.

    A fastText header line ("count dim") is skipped; DataError (one line) for a missing file or
    vectors of another size.
    """
    import os

    if not os.path.isfile(path):
        raise DataError(f"word vectors {path}: no such file")
    index = {w: i for i, w in enumerate(words)}
    table = np.random.default_rng(seed).normal(0, 0.1, (len(words), dim)).astype(np.float32)
    table[0] = 0.0
    found = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f):
            parts = line.rstrip().split(" ")
            if number == 0 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue
            if len(parts) != dim + 1:
                raise DataError(f"{path}:{number + 1}: a vector of {len(parts) - 1} values, expected {dim}")
            i = index.get(parts[0])
            if i is not None and i > 1:
                table[i] = np.asarray(parts[1:], np.float32)
                found += 1
    return table, found
