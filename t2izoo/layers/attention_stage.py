"""The attention refinement stage of AttnGAN-style tree generators (AttnGAN, SD-GAN)."""

import keras
from keras import layers

from t2izoo.layers.residual_block import ResidualBlock
from t2izoo.layers.upsample_block import UpsampleBlock
from t2izoo.layers.word_attention import WordAttention


class AttentionStage(layers.Layer):
    """F_i of AttnGAN: [h, F^attn(e, h)] -> residual blocks (2 width) -> GLU up-block (width).

    Unlike StackGAN++'s refinement stage there is no joint 3x3 convolution and the width stays
    `ngf` at every scale: the word-context map (projected to the hidden width) is concatenated
    with h and goes straight into the residual blocks.

    Args:
        width: channels of h (GF_DIM).
        num_residual: R_NUM gated residual blocks at 2 * width.
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (h [B, H, W, width], words [B, T, D], word_mask bool [B, T]).
    Returns (h' [B, 2H, 2W, width], attention [B, H, W, T]).

    Reference: Xu et al., AttnGAN, CVPR 2018, Eq. 1-2; code/model.py `NEXT_STAGE_G`.
    """

    def __init__(self, width, num_residual=2, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.num_residual = num_residual
        self.sync_batch_norm = sync_batch_norm
        self.attention = WordAttention(name="attention")
        self.residuals = [ResidualBlock(gated=True, sync_batch_norm=sync_batch_norm) for _ in range(num_residual)]
        self.up = UpsampleBlock(width, sync_batch_norm=sync_batch_norm)

    def build(self, input_shape):
        h_shape, words_shape, mask_shape = input_shape
        self.attention.build((h_shape, words_shape, mask_shape))
        joint = tuple(h_shape[:-1]) + (2 * self.width,)
        for block in self.residuals:
            block.build(joint)
        self.up.build(joint)

    def call(self, inputs, training=False):
        h, words, word_mask = inputs
        context, attention = self.attention((h, words, word_mask))
        x = keras.ops.concatenate([h, context], axis=-1)  # torch.cat((h_code, c_code), 1)
        for block in self.residuals:
            x = block(x, training=training)
        return self.up(x, training=training), attention

    def get_config(self):
        return {**super().get_config(), "width": self.width, "num_residual": self.num_residual,
                "sync_batch_norm": self.sync_batch_norm}
