"""SD-GAN generator: AttnGAN's tree generator with semantic-conditioned batch norm (SCBN)."""

from t2izoo.layers.attention_tree_generator import AttentionTreeGenerator
from t2izoo.layers.scbn import SemanticConditionedBatchNorm


class SdGanGenerator(AttentionTreeGenerator):
    """SD-GAN G: AttnGAN's G whose features at the end of every up-sampling stage (the initial
    stage's last up-block and each attention stage's up-block, before the image head and the
    next stage) go through an SCBN conditioned on the sentence and the words.

    Args:
        base_size, num_stages, z_dim, condition_dim, ngf, num_residual, sync_batch_norm: as
            `AttentionTreeGenerator`.
        scbn_sentence, scbn_words: SCBN's sentence MLP and word/visual branches (both False: no
            SCBN, i.e. AttnGAN's G).
        scbn_hidden: hidden width of the sentence MLP.

    Call and returns: as `AttentionTreeGenerator`.

    Example:
        >>> g = SdGanGenerator(base_size=16, num_stages=2, ngf=4, condition_dim=8, num_residual=1, scbn_hidden=8)
        >>> images, maps, mu, _ = g((keras.ops.zeros((2, 100)), keras.ops.zeros((2, 32)),
        ...                          keras.ops.zeros((2, 5, 32)), keras.ops.ones((2, 5), "bool")))
        >>> [x.shape for x in images]
        [(2, 16, 16, 3), (2, 32, 32, 3)]

    Reference: Yin et al., "Semantics Disentangling for Text-to-Image Generation", CVPR 2019,
    Sec. 3.3 and Fig. 2 (SCBN at the end of each up-sampling block).
    """

    def __init__(self, base_size=64, num_stages=3, z_dim=100, condition_dim=100, ngf=32, num_residual=2,
                 sync_batch_norm=False, scbn_sentence=True, scbn_words=True, scbn_hidden=256, **kwargs):
        super().__init__(base_size, num_stages, z_dim, condition_dim, ngf, num_residual, sync_batch_norm, **kwargs)
        self.scbn_sentence = scbn_sentence
        self.scbn_words = scbn_words
        self.scbn_hidden = scbn_hidden
        self.scbns = []
        if scbn_sentence or scbn_words:
            self.scbns = [SemanticConditionedBatchNorm(scbn_sentence, scbn_words, scbn_hidden,
                                                       sync_batch_norm=sync_batch_norm, name=f"scbn_{i}")
                          for i in range(num_stages)]

    def refine_features(self, index, h, sentence, words, word_mask, training=False):
        if not self.scbns:
            return h
        return self.scbns[index]((h, sentence, words, word_mask), training=training)

    def get_config(self):
        return {**super().get_config(), "scbn_sentence": self.scbn_sentence, "scbn_words": self.scbn_words,
                "scbn_hidden": self.scbn_hidden}
