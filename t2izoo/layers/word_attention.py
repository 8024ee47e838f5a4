"""Word attention of the AttnGAN generator: a word-context vector for every image region."""

from keras import layers, ops

_MASKED = -1e9


class WordAttention(layers.Layer):
    """c_j = sum_i beta_ji e'_i, beta_ji = softmax_i(h_j . e'_i) over each caption's real words.

    Word features e_i (D) are projected to the hidden width C by a bias-free 1x1 convolution,
    e'_i = U e_i; each region j of the hidden map h scores every word, and the softmax runs over
    the words of *its own* caption (the per-sample padding mask the paper describes; the
    official GlobalAttentionGeneral repeats the mask so that rows can get another sample's mask
    when lengths differ in a batch, taoxugit/AttnGAN issue #93: not reproduced here).

    Args:
        (none besides Layer kwargs; C is taken from the hidden features at build time).

    Inputs: (hidden [B, H, W, C], words [B, T, D], word_mask bool [B, T], True at real words).
    Outputs: (context [B, H, W, C], attention [B, H, W, T]; zero at padded words).

    Example:
        >>> att = WordAttention()
        >>> mask = keras.ops.array([[True, True, False]])
        >>> c, a = att((keras.ops.zeros((1, 4, 4, 8)), keras.ops.ones((1, 3, 16)), mask))
        >>> c.shape, a.shape
        ((1, 4, 4, 8), (1, 4, 4, 3))

    Reference: Xu et al., AttnGAN, CVPR 2018, Eq. 2 (attention F^attn); code/GlobalAttention.py
    GlobalAttentionGeneral.
    """

    def build(self, input_shape):
        hidden_shape, words_shape, _ = input_shape
        self.projection = layers.Dense(hidden_shape[-1], use_bias=False, name="word_projection")
        self.projection.build(tuple(words_shape))

    def call(self, inputs):
        hidden, words, word_mask = inputs
        projected = self.projection(words)  # [B, T, C]
        # The softmax in float32 under mixed precision (a 16-bit one loses the small weights).
        scores = ops.cast(ops.einsum("bhwc,btc->bhwt", hidden, projected), "float32")
        mask = ops.cast(word_mask, "bool")[:, None, None, :]
        attention = ops.softmax(ops.where(mask, scores, _MASKED), axis=-1)
        attention = ops.cast(ops.where(mask, attention, 0.0), projected.dtype)
        context = ops.einsum("bhwt,btc->bhwc", attention, projected)
        return context, attention

    def compute_output_shape(self, input_shape):
        hidden_shape, words_shape, _ = input_shape
        return tuple(hidden_shape), tuple(hidden_shape[:-1]) + (words_shape[1],)

