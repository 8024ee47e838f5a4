"""The AttnGAN tree generator, shared by the families built on it (AttnGAN, SD-GAN)."""

import keras

from t2izoo.layers.attention_stage import AttentionStage
from t2izoo.layers.initial_stage import InitialStage
from t2izoo.layers.tree_generator import TreeGenerator


class AttentionTreeGenerator(TreeGenerator):
    """AttnGAN G: CA(sentence) + z -> F_0 -> image 0; F_i(h, word attention) -> image i.

    Scales are base_size * 2^i for i < num_stages (64, 128, 256). The initial stage is
    StackGAN++'s (16 * ngf channels at 4x4 for 64 px, GLU up-blocks down to ngf); every attention stage
    keeps ngf channels (the initial stage starts at ngf * base_size / 4 so that it ends at ngf
    for any base_size). Each image head is a bias-free conv3x3 to RGB + tanh.

    Args:
        base_size: side of the first image (64).
        num_stages: number of scales (BRANCH_NUM 3).
        z_dim: noise size (100).
        condition_dim: CA code size (100).
        ngf: GF_DIM (CUB 32, COCO 48).
        num_residual: residual blocks per attention stage (R_NUM: CUB 2, COCO 3).
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (noise [B, z_dim], sentence [B, D], words [B, T, D], word_mask bool [B, T]) and
    optionally the CA noise [B, condition_dim] as a fifth element.
    Returns (list of images [B, s_i, s_i, 3] in [-1, 1], list of attention maps [B, s_i, s_i, T]
    for i < num_stages - 1 (the map each attention stage used, at its input scale), mu
    [B, condition_dim], log_sigma [B, condition_dim]).

    Extension: `refine_features(index, h, sentence, words, word_mask, training)` sees the
    features of scale `index` before its image head and the next stage (identity here; SD-GAN
    applies its semantic-conditioned batch norm there).

    Example:
        >>> g = AttentionTreeGenerator(base_size=16, num_stages=2, ngf=4, condition_dim=8, num_residual=1)
        >>> images, maps, mu, _ = g((keras.ops.zeros((2, 100)), keras.ops.zeros((2, 32)),
        ...                          keras.ops.zeros((2, 5, 32)), keras.ops.ones((2, 5), "bool")))
        >>> [x.shape for x in images], maps[0].shape
        ([(2, 16, 16, 3), (2, 32, 32, 3)], (2, 16, 16, 5))

    Reference: Xu et al., "AttnGAN: Fine-Grained Text to Image Generation with Attentional
    Generative Adversarial Networks", CVPR 2018, Sec. 3.1; taoxugit/AttnGAN code/model.py `G_NET`.
    """

    def __init__(self, base_size=64, num_stages=3, z_dim=100, condition_dim=100, ngf=32, num_residual=2,
                 sync_batch_norm=False, **kwargs):
        super().__init__(base_size, num_stages, z_dim, condition_dim, ngf, num_residual, sync_batch_norm, **kwargs)
        # 16 * ngf at 4x4 for 64 px (INIT_STAGE_G(ngf * 16)): every up-block halves it, down to ngf.
        self.initial = InitialStage(ngf * (base_size // 4), base_size, sync_batch_norm)
        self.stages = [AttentionStage(ngf, num_residual, sync_batch_norm) for _ in range(num_stages - 1)]
        self.add_image_heads()

    def call(self, inputs, training=False):
        noise, sentence, words, word_mask = inputs[:4]
        c, mu, log_sigma = self.ca(sentence, inputs[4] if len(inputs) > 4 else None)
        h = self.initial(keras.ops.concatenate([c, noise], axis=-1), training=training)
        h = self.refine_features(0, h, sentence, words, word_mask, training)
        images = [keras.ops.tanh(self.image_heads[0](h))]
        maps = []
        for i, (stage, head) in enumerate(zip(self.stages, self.image_heads[1:])):
            h, attention = stage((h, words, word_mask), training=training)
            h = self.refine_features(i + 1, h, sentence, words, word_mask, training)
            images.append(keras.ops.tanh(head(h)))
            maps.append(attention)
        return images, maps, mu, log_sigma

    def refine_features(self, index, h, sentence, words, word_mask, training=False):
        """The features [B, s, s, ngf] of scale `index`, before its image head (identity)."""
        return h
