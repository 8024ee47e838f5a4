"""`CharEmbeddingTable`: a frozen text encoder given as the table of its outputs.

StackGAN and StackGAN-v2 condition on Reed et al.'s Torch7 char-CNN-RNN, which they never run:
they ship its outputs (`char-CNN-RNN-embeddings.pickle`, one 1024-d vector per caption). This
layer stands in for the encoder with that table. Its input is the same as `CharCnnRnnEncoder`'s
(char codes int32 [B, 201]), so tokenization, export and on-device text are unchanged; each row
is looked up by its exact char codes.

The lookup is one matrix product and an arg-min, builtin ops in TFLite too: for integer codes c
and key k (each below 128, 201 of them), ||c - k||^2 = ||c||^2 + ||k||^2 - 2 c.k is exact in
float32 (every term is an integer below 2^24), so it is 0 only for the caption itself.
"""

from __future__ import annotations

import keras
import numpy as np

from t2izoo.data import text as text_lib


@keras.saving.register_keras_serializable(package="t2izoo")
class CharEmbeddingTable(keras.layers.Layer):
    """char codes int32 [B, L] -> the table's embedding of the caption with those codes [B, D].

    A caption that is not in the table gets the zero vector; `lookup` also says which rows were
    found (`Conditioner`s refuse the others before encoding).

    Args:
        num_captions: rows of the table.
        embedding_dim: D.
        char_length: L (201, as `CharCnnRnnEncoder`).

    Example:
        >>> table = CharEmbeddingTable(num_captions=2, embedding_dim=4)
        >>> table.set_table(["a red circle", "a blue square"], np.eye(2, 4, dtype="float32"))
        >>> table(np.stack([text_lib.encode_chars("a blue square")]))   # [[0, 1, 0, 0]]
    """

    def __init__(self, num_captions: int, embedding_dim: int, char_length: int = text_lib.CHAR_LENGTH, **kwargs):
        kwargs.setdefault("dtype", "float32")  # exact integer arithmetic: never in 16 bits
        super().__init__(**kwargs)
        self.num_captions = int(num_captions)
        self.embedding_dim = int(embedding_dim)
        self.char_length = int(char_length)
        self.keys = self.add_weight(shape=(self.num_captions, self.char_length), initializer="zeros",
                                    trainable=False, name="keys")
        self.key_norms = self.add_weight(shape=(self.num_captions,), initializer="zeros", trainable=False,
                                         name="key_norms")
        self.values = self.add_weight(shape=(self.num_captions, self.embedding_dim), initializer="zeros",
                                      trainable=False, name="values")

    def set_table(self, captions, embeddings):
        """Fills the table: `captions` (strings) and their embeddings [len(captions), D]."""
        embeddings = np.asarray(embeddings, np.float32)
        if embeddings.shape != (self.num_captions, self.embedding_dim) or len(captions) != self.num_captions:
            raise ValueError(f"a table of {self.num_captions} x {self.embedding_dim} got {len(captions)} captions "
                             f"and embeddings {embeddings.shape}")
        keys = np.stack([text_lib.encode_chars(c, self.char_length) for c in captions]).astype(np.float32)
        self.keys.assign(keys)
        self.key_norms.assign(np.sum(keys * keys, axis=1))
        self.values.assign(embeddings)

    def lookup(self, chars):
        """(embeddings [B, D], found bool [B])."""
        from keras import ops

        codes = ops.cast(chars, "float32")
        distance = (ops.sum(codes * codes, axis=1, keepdims=True) + self.key_norms[None, :]
                    - 2.0 * ops.matmul(codes, ops.transpose(self.keys)))
        # The distances are whole numbers: an integer arg-min (keras' float one adds a
        # negative-zero fix whose BitwiseAnd TFLite lacks).
        row = ops.argmin(ops.cast(distance, "int32"), axis=1)
        found = ops.equal(ops.min(distance, axis=1), 0.0)
        embeddings = ops.take(self.values, row, axis=0) * ops.cast(found, "float32")[:, None]
        return embeddings, found

    def call(self, chars, training=None):
        return self.lookup(chars)[0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.embedding_dim)

    def get_config(self):
        return {**super().get_config(), "num_captions": self.num_captions, "embedding_dim": self.embedding_dim,
                "char_length": self.char_length}
