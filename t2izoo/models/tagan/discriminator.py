"""TAGAN's text-adaptive discriminator: an unconditional real/fake head and, for every word, a
local discriminator whose weights are generated from the word, at three image scales."""

import keras
from keras import layers

from t2izoo.encoders.bigru_text import BiGruWordEncoder
from t2izoo.layers.init import batch_norm, conv_init


def masked_word_attention(words, sentence, mask):
    """alpha_w = softmax over the caption's real words of <u_w, u_bar> (padded words get 0).

    Args: words [B, T, H], sentence [B, H] (the mean word feature), mask float [B, T].
    Returns [B, T].
    """
    logits = keras.ops.sum(words * sentence[:, None, :], axis=-1)
    # Subtracting the row maximum leaves the softmax unchanged and keeps exp finite.
    logits = keras.ops.where(mask > 0, logits, keras.ops.full_like(logits, -1e9))
    logits = logits - keras.ops.max(logits, axis=1, keepdims=True)
    e = keras.ops.exp(logits) * mask
    return e / keras.ops.maximum(keras.ops.sum(e, axis=1, keepdims=True), 1e-12)


class TextAdaptiveDiscriminator(keras.Model):
    """D(x) real/fake logit and the text-adaptive conditional score D(x, t) in (0, 1].

    Image features at three scales (S/8, S/16, S/32; 4ndf, 8ndf, 8ndf channels), each through a
    conv3x3 + BN + LeakyReLU and global average pooling: f_1, f_2, f_3. For word w with feature
    u_w (bi-GRU, directions averaged):

        W_w^i, b_w^i = Linear_i(u_w)                    (one per scale, C_i + 1 outputs)
        beta_w = softmax(Linear(u_w))                   (weights of the three scales)
        alpha_w = softmax_w <u_w, u_bar>                (word attention; u_bar the mean word)
        s_w = sum_i beta_w,i sigmoid(W_w^i . f_i + b_w^i)
        D(x, t) = prod_w min(s_w + eps, 1) ^ alpha_w

    padded words have alpha_w = 0, so they do not count. The unconditional head is a conv with
    the final feature map's side as kernel (4x4 at 128 px) on the S/32 features.

    Args:
        vocab_size: rows of the word-vector table.
        image_size: input side (128; a multiple of 32).
        ndf: first width (64).
        word_dim, text_dim: word vectors (300) and bi-GRU size (512).
        trainable_words: learn the word vectors (False: fixed, from a `.vec` file).
        eps: added to s_w before the power (1e-7).
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (images [B, S, S, 3], tokens int32 [B, T], lengths int32 [B]) -> (logits [B], scores [B]).
    The trainer uses the parts (`image_features`, `word_features`, `conditional_score`) to score
    one image batch against two texts with one image pass.

    Example:
        >>> d = TextAdaptiveDiscriminator(vocab_size=10, image_size=32, ndf=2, word_dim=4, text_dim=4)
        >>> logits, scores = d((keras.ops.zeros((2, 32, 32, 3)), keras.ops.ones((2, 5), "int32"),
        ...                     keras.ops.array([5, 2])))
        >>> logits.shape, scores.shape
        ((2,), (2,))

    Reference: Nam et al., NeurIPS 2018, Sec. 3.3 (Eq. 1-3: word-level local discriminators,
    attention, multi-scale weights); woozzu/tagan model.py `Discriminator`.
    """

    SCALES = 3

    def __init__(self, vocab_size, image_size=128, ndf=64, word_dim=300, text_dim=512, trainable_words=True,
                 eps=1e-7, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.image_size = image_size
        self.ndf = ndf
        self.word_dim = word_dim
        self.text_dim = text_dim
        self.trainable_words = trainable_words
        self.eps = eps
        self.sync_batch_norm = sync_batch_norm
        if image_size % 32 or image_size < 32:
            raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
        conv = lambda c, k=4, s=2, bias=False, padding="same": layers.Conv2D(  # noqa: E731
            c, k, strides=s, padding=padding, use_bias=bias, kernel_initializer=conv_init())
        dense = lambda n, name: layers.Dense(n, kernel_initializer=conv_init(), name=name)  # noqa: E731
        self.text_encoder = BiGruWordEncoder(vocab_size, word_dim, text_dim, trainable_words, name="text_encoder")
        widths = (ndf, 2 * ndf, 4 * ndf, 8 * ndf, 8 * ndf)
        self.convs = [conv(widths[0], bias=True)] + [conv(w) for w in widths[1:]]
        self.norms = [None] + [batch_norm(sync_batch_norm) for _ in widths[1:]]
        self.scale_channels = widths[2:]
        self.gap_convs = [conv(c, 3, 1) for c in self.scale_channels]
        self.gap_norms = [batch_norm(sync_batch_norm) for _ in self.scale_channels]
        self.word_filters = [dense(c + 1, f"word_filter_{i}") for i, c in enumerate(self.scale_channels)]
        self.scale_weights = dense(self.SCALES, "scale_weights")
        self.classifier = conv(1, image_size // 32, 1, bias=True, padding="valid")

    def image_features(self, images, training=False):
        """(unconditional logits [B], [f_1 [B, 4ndf], f_2 [B, 8ndf], f_3 [B, 8ndf]])."""
        h, maps = images, []
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = conv(h)
            h = keras.ops.leaky_relu(h if norm is None else norm(h, training=training), 0.2)
            if i >= 2:
                maps.append(h)
        features = [keras.ops.mean(keras.ops.leaky_relu(norm(conv(m), training=training), 0.2), axis=(1, 2))
                    for m, conv, norm in zip(maps, self.gap_convs, self.gap_norms)]
        return keras.ops.reshape(self.classifier(h), (-1,)), features

    def word_features(self, tokens, lengths, training=False):
        """(u [B, T, H], u_bar [B, H], mask [B, T]) of the discriminator's own text encoder."""
        return self.text_encoder((tokens, lengths), training=training)

    def conditional_score(self, features, words, sentence, mask):
        """D(x, t) [B] in (0, 1] from the image features and the text's word features (float32: the
        softmaxes, sigmoids and the product over words lose too much in 16 bits)."""
        f32 = lambda x: keras.ops.cast(x, "float32")  # noqa: E731
        alpha = masked_word_attention(f32(words), f32(sentence), f32(mask))
        beta = keras.ops.softmax(f32(self.scale_weights(words)), axis=-1)  # [B, T, 3]
        s = 0.0
        for i, (f, gen) in enumerate(zip(features, self.word_filters)):
            filters = f32(gen(words))  # [B, T, C_i + 1]: the word's weights, then its bias
            logit = keras.ops.sum(filters[..., :-1] * f32(f)[:, None, :], axis=-1) + filters[..., -1]
            s = s + beta[..., i] * keras.ops.sigmoid(logit)
        log_s = keras.ops.log(keras.ops.minimum(s + self.eps, 1.0))
        return keras.ops.exp(keras.ops.sum(alpha * log_s, axis=1))

    def call(self, inputs, training=False):
        images, tokens, lengths = inputs
        logits, features = self.image_features(images, training)
        words, sentence, mask = self.word_features(tokens, lengths, training)
        return logits, self.conditional_score(features, words, sentence, mask)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "image_size": self.image_size,
                "ndf": self.ndf, "word_dim": self.word_dim, "text_dim": self.text_dim,
                "trainable_words": self.trainable_words, "eps": self.eps, "sync_batch_norm": self.sync_batch_norm}
