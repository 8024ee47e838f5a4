"""Semantic-conditioned batch normalization (SD-GAN's SCBN)."""

import keras
from keras import layers

from t2izoo.layers.init import gamma_init
from t2izoo.layers.word_attention import WordAttention


class SemanticConditionedBatchNorm(layers.Layer):
    """BN(x | c) = (gamma + gamma_c) * (x - mu) / sigma + (beta + beta_c).

    gamma_c and beta_c are the sum of two switchable branches:
      * sentence: the sentence embedding through a one-hidden-layer MLP (ReLU) -> 2C, one
        (gamma_c, beta_c) per channel, broadcast over the image;
      * words: a visual-semantic embedding: every region of x attends over the caption's words
        (`WordAttention`: words projected to C, softmax over the real words), and a 1x1 conv
        turns the fused word context into spatial gamma_c, beta_c [B, H, W, C].
    Each branch's output layer starts at zero, so an untrained SCBN is plain BN and the text
    conditioning grows from there.

    Args:
        sentence_branch: use the sentence MLP branch.
        word_branch: use the word/visual fused spatial branch.
        hidden_dim: hidden width of the sentence MLP.
        momentum, epsilon: of the batch statistics (as `t2izoo.layers.init.batch_norm`).
        sync_batch_norm: synchronise the statistics across replicas.

    Call: (x [B, H, W, C], sentence [B, D], words [B, T, D_w], word_mask bool [B, T]).
    Returns [B, H, W, C].

    Example:
        >>> scbn = SemanticConditionedBatchNorm(hidden_dim=8)
        >>> scbn((keras.ops.ones((2, 4, 4, 6)), keras.ops.zeros((2, 10)), keras.ops.zeros((2, 3, 10)),
        ...       keras.ops.ones((2, 3), "bool"))).shape
        (2, 4, 4, 6)

    Reference: Yin et al., "Semantics Disentangling for Text-to-Image Generation", CVPR 2019,
    Sec. 3.3 (SCBN, Eq. 4-6; sentence-level and word-level cues).
    """

    def __init__(self, sentence_branch=True, word_branch=True, hidden_dim=256, momentum=0.9, epsilon=1e-5,
                 sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.sentence_branch = sentence_branch
        self.word_branch = word_branch
        self.hidden_dim = hidden_dim
        self.momentum = momentum
        self.epsilon = epsilon
        self.sync_batch_norm = sync_batch_norm
        # x_hat only: the affine part is ours, (gamma + gamma_c, beta + beta_c).
        self.norm = layers.BatchNormalization(momentum=momentum, epsilon=epsilon, center=False, scale=False,
                                              synchronized=sync_batch_norm)

    def build(self, input_shape):
        x_shape, sentence_shape, words_shape, mask_shape = input_shape
        channels = x_shape[-1]
        self.norm.build(x_shape)
        self.gamma = self.add_weight(shape=(channels,), initializer=gamma_init(), name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")
        if self.sentence_branch:
            self.sentence_hidden = layers.Dense(self.hidden_dim, activation="relu", name="sentence_hidden")
            self.sentence_out = layers.Dense(2 * channels, kernel_initializer="zeros", name="sentence_out")
            self.sentence_hidden.build(sentence_shape)
            self.sentence_out.build(tuple(sentence_shape[:-1]) + (self.hidden_dim,))
        if self.word_branch:
            self.attention = WordAttention(name="word_attention")
            self.attention.build((x_shape, words_shape, mask_shape))
            self.word_out = layers.Conv2D(2 * channels, 1, kernel_initializer="zeros", name="word_out")
            self.word_out.build(x_shape)

    def condition(self, x, sentence, words, word_mask):
        """(gamma_c, beta_c), each broadcastable to x; None when both branches are off."""
        parts = []
        if self.sentence_branch:
            parts.append(self.sentence_out(self.sentence_hidden(sentence))[:, None, None, :])
        if self.word_branch:
            context, _ = self.attention((x, words, word_mask))
            parts.append(self.word_out(context))
        if not parts:
            return None
        both = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        gamma_c, beta_c = keras.ops.split(both, 2, axis=-1)
        return gamma_c, beta_c

    def call(self, inputs, training=False):
        x, sentence, words, word_mask = inputs
        x_hat = self.norm(x, training=training)
        condition = self.condition(x, sentence, words, word_mask)
        if condition is None:
            return self.gamma * x_hat + self.beta
        gamma_c, beta_c = condition
        return (self.gamma + gamma_c) * x_hat + (self.beta + beta_c)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "sentence_branch": self.sentence_branch, "word_branch": self.word_branch,
                "hidden_dim": self.hidden_dim, "momentum": self.momentum, "epsilon": self.epsilon,
                "sync_batch_norm": self.sync_batch_norm}
