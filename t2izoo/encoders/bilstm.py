"""Bidirectional-LSTM text encoder of DAMSM/AttnGAN (word features and a sentence vector)."""

import keras
from keras import layers


def word_mask(lengths, max_words):
    """Boolean [B, max_words]: True at the first `lengths[b]` positions (the real words)."""
    positions = keras.ops.arange(max_words, dtype="int32")[None, :]
    return positions < keras.ops.cast(lengths, "int32")[:, None]


def damsm_text_conditioning(text_encoder, tokens, lengths) -> dict:
    """A frozen DAMSM text encoder's conditioning of word ids: {"words" [B, T, D], "sentence"
    [B, D], "lengths" [B]} (inference mode, no gradient). The one encoding every DAMSM-conditioned
    model uses, in training batches and in `DamsmConditioner` alike."""
    words, sentence = text_encoder((tokens, lengths), training=False)
    return {"words": keras.ops.stop_gradient(words), "sentence": keras.ops.stop_gradient(sentence),
            "lengths": keras.ops.cast(lengths, "int32")}


class BiLstmTextEncoder(keras.Model):
    """Words -> embeddings (dropout) -> bi-LSTM -> word features and sentence vector.

    Padded positions (beyond each caption's length) are masked: the forward LSTM stops at the
    last real word, the backward LSTM starts there (as PyTorch's `pack_padded_sequence`), and
    the word features of padded positions are zero.

    Args:
        vocab_size: number of word ids (id 0 = padding).
        embedding_dim: word embedding size (300).
        hidden_dim: LSTM units per direction (128); features are `2 * hidden_dim` (256).
        dropout: dropout on the word embeddings (0.5).

    Inputs: (tokens int32 [B, T], lengths int32 [B]).
    Outputs: (words [B, T, 2 * hidden_dim], sentence [B, 2 * hidden_dim]); the sentence vector
    is the concatenation of the last hidden states of the two directions.

    Example:
        >>> enc = BiLstmTextEncoder(vocab_size=20, embedding_dim=8, hidden_dim=4)
        >>> words, sentence = enc((keras.ops.ones((2, 5), "int32"), keras.ops.array([5, 3])))
        >>> words.shape, sentence.shape
        ((2, 5, 8), (2, 8))

    Reference: Xu et al., "AttnGAN", CVPR 2018, Sec. 3.3 (text encoder); taoxugit/AttnGAN
    code/model.py RNN_ENCODER (nn.Embedding(300) + Dropout(0.5) + bidirectional LSTM(128)).
    """

    def __init__(self, vocab_size, embedding_dim=300, hidden_dim=128, dropout=0.5, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        # RNN_ENCODER.init_weights: embeddings ~ U(-0.1, 0.1).
        self.embedding = layers.Embedding(
            vocab_size, embedding_dim, embeddings_initializer=keras.initializers.RandomUniform(-0.1, 0.1))
        self.embedding_dropout = layers.Dropout(dropout)
        self.rnn = layers.Bidirectional(layers.LSTM(hidden_dim, return_sequences=True, return_state=True))

    @property
    def feature_dim(self):
        return 2 * self.hidden_dim

    def call(self, inputs, training=False):
        tokens, lengths = inputs
        tokens = keras.ops.cast(tokens, "int32")
        mask = word_mask(lengths, keras.ops.shape(tokens)[1])
        x = self.embedding_dropout(self.embedding(tokens), training=training)
        words, forward_h, _, backward_h, _ = self.rnn(x, mask=mask, training=training)
        words = words * keras.ops.cast(mask, words.dtype)[..., None]
        sentence = keras.ops.concatenate([forward_h, backward_h], axis=-1)
        return words, sentence

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim, "dropout": self.dropout}
