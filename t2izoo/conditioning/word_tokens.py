"""`WordTokenConditioner`: captions -> word ids, for models whose text encoder is part of the
generator and trained with it (TAGAN), so there is no frozen encoder to own."""

from __future__ import annotations

import tensorflow as tf

from t2izoo.conditioning.base import Conditioner
from t2izoo.data import text as text_lib


class WordIdTokens:
    """Captions -> word ids over the run's vocabulary (`vocab`, `max_words`): the tokenization of
    every conditioner whose models read word ids (TAGAN's in-model encoders, SISGAN's VSE)."""

    def token_specs(self):
        return {"tokens": tf.TensorSpec([None, self.max_words], tf.int32, name="tokens"),
                "lengths": tf.TensorSpec([None], tf.int32, name="lengths")}

    def python_tokens(self, captions):
        tokens, lengths = self.vocab.encode_batch(list(captions), self.max_words)
        return {"tokens": tokens, "lengths": lengths}

    @property
    def table(self):
        """The vocabulary as a TF lookup table (made once: an export tracks it)."""
        if getattr(self, "_table", None) is None:
            self._table = self.vocab.tf_table()
        return self._table

    def tf_tokens(self, captions):
        tokens, lengths = text_lib.Vocabulary.tf_tokenize(captions, self.table, self.max_words)
        return {"tokens": tokens, "lengths": lengths}

    def example_batch(self, config):
        t = self.max_words
        return {"tokens": tf.ones((2, t), tf.int32), "lengths": tf.constant([t, 1]),
                "wrong_tokens": tf.ones((2, t), tf.int32), "wrong_lengths": tf.constant([1, t])}


class WordTokenConditioner(WordIdTokens, Conditioner):
    """Captions -> `{"tokens": int32 [B, T], "lengths": int32 [B]}` over the run's vocabulary.

    The generator's conditioning is the word ids themselves: its own (trained) word encoder reads
    them, so `encode` only checks their types and the conditioner holds no model (`encoder` is
    None; the export tracks the vocabulary table only).

    Args:
        vocab: the run's `Vocabulary`.
        max_words: caption length in words (T).
    """

    kind = "word_tokens"
    stored_config = ""

    def __init__(self, vocab, max_words: int):
        self.encoder = None
        self.vocab = vocab
        self.max_words = max_words

    def resources(self):
        return [self.table]

    def encode(self, tokens):
        return {"tokens": tf.cast(tokens["tokens"], tf.int32), "lengths": tf.cast(tokens["lengths"], tf.int32)}

    def conditioning_specs(self, batch):
        return [tf.TensorSpec([batch, self.max_words], tf.int32, name="tokens"),
                tf.TensorSpec([batch], tf.int32, name="lengths")]

    def encoder_description(self, batch):
        return (f"word ids int32 [{batch}, {self.max_words}] + lengths int32 [{batch}] (the run's vocab.json; the "
                "word encoder is inside the model)")
