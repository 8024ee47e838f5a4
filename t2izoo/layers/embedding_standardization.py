"""Fixed per-dimension standardisation of a frozen text embedding."""

import keras
import numpy as np


class EmbeddingStandardization(keras.layers.Layer):
    """(e - mean) / std with statistics fixed from the training set (not trained).

    A frozen pretrained text encoder (char-CNN-RNN, DAMSM) emits embeddings at whatever scale its
    own loss settled on. A generator that feeds them through a Dense layer initialised N(0, 0.02)
    next to N(0, 1) noise sees the text as a small perturbation and must first grow that layer at
    Adam's bounded step size. Standardising the input is a reparameterisation of that Dense layer
    (W' = W / std, b' = b - W mean / std): the same function class, a text code of unit scale from
    the first step. The statistics are non-trainable weights, so checkpoints, the EMA copy (which
    takes non-trainable weights from the live generator) and exports carry them. Not
    `keras.layers.Normalization`: its `call` reads tensors that `finalize_state` copies from the
    adapted weights, which a `tf.train.Checkpoint` restore does not call, so a resumed run would
    normalise with the statistics it was built with.

    Args:
        epsilon: added to the standard deviation.

    Inputs: [B, D]; output [B, D]. Until `set_statistics` is called it is the identity.

    Example:
        >>> layer = EmbeddingStandardization()
        >>> layer.set_statistics(np.array([[0.0, 2.0], [2.0, 6.0]], "float32"))
        >>> np.round(np.asarray(layer(np.array([[1.0, 4.0]], "float32"))), 3)
        array([[0., 0.]], dtype=float32)
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        dim = input_shape[-1]
        self.mean = self.add_weight(shape=(dim,), initializer="zeros", trainable=False, name="mean")
        self.inverse_std = self.add_weight(shape=(dim,), initializer="ones", trainable=False, name="inverse_std")

    def set_statistics(self, embeddings):
        """Sets mean and 1 / std from embeddings [N, D] (or [N, K, D]; zero rows are padding)."""
        values = np.asarray(embeddings, np.float64).reshape(-1, np.shape(embeddings)[-1])
        values = values[np.any(values != 0, axis=1)]
        if len(values) < 2:
            raise ValueError(f"need at least 2 non-zero embeddings to standardise, got {len(values)}")
        if not self.built:
            self.build((None, values.shape[1]))
        if values.shape[1] != self.mean.shape[0]:
            raise ValueError(f"embeddings have {values.shape[1]} dims; the layer was built for {self.mean.shape[0]}")
        self.mean.assign(values.mean(0).astype("float32"))
        self.inverse_std.assign((1.0 / (values.std(0) + self.epsilon)).astype("float32"))

    def call(self, embeddings):
        return (embeddings - self.mean) * self.inverse_std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
