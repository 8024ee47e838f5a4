"""StackGAN++ tree generator: one trunk, an image head per scale (64 -> 128 -> 256).

AttnGAN's generator shares the trunk (`InitialStage`) and the base class (`TreeGenerator`) in
t2izoo/layers/; its refinement stages add word attention.
"""

import keras
from keras import layers

from t2izoo.layers.glu import GLU
from t2izoo.layers.init import batch_norm, conv_init
from t2izoo.layers.initial_stage import InitialStage
from t2izoo.layers.residual_block import ResidualBlock
from t2izoo.layers.tree_generator import TreeGenerator
from t2izoo.layers.upsample_block import UpsampleBlock


class RefinementStage(keras.layers.Layer):
    """F_i: [condition map, h] -> conv3x3 + BN + GLU (width) -> residual blocks -> GLU up-block (width/2).

    Args:
        width: channels of the hidden features it receives (and keeps through the residuals).
        num_residual: residual blocks (R_NUM = 2).
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (h [B, H, W, width], condition map [B, H, W, N]); output [B, 2H, 2W, width / 2].

    Reference: StackGAN-v2 code/model.py `NEXT_STAGE_G` (AttnGAN's `NEXT_STAGE_G` joins the
    word-context map instead of the tiled sentence code).
    """

    def __init__(self, width, num_residual=2, sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.num_residual = num_residual
        self.sync_batch_norm = sync_batch_norm
        self.joint = layers.Conv2D(2 * width, 3, padding="same", use_bias=False, kernel_initializer=conv_init())
        self.joint_norm = batch_norm(sync_batch_norm)
        self.glu = GLU()
        self.residuals = [ResidualBlock(gated=True, sync_batch_norm=sync_batch_norm) for _ in range(num_residual)]
        self.up = UpsampleBlock(max(width // 2, 1), sync_batch_norm=sync_batch_norm)

    def build(self, input_shape):
        h_shape, c_shape = input_shape
        joint_in = tuple(h_shape[:-1]) + (h_shape[-1] + c_shape[-1],)
        self.joint.build(joint_in)
        self.joint_norm.build(tuple(h_shape[:-1]) + (2 * self.width,))
        shape = tuple(h_shape[:-1]) + (self.width,)
        for block in self.residuals:
            block.build(shape)
        self.up.build(shape)

    def call(self, inputs, training=False):
        h, condition = inputs
        # torch.cat((c_code, h_code), 1) in the original: condition first.
        h = self.glu(self.joint_norm(self.joint(keras.ops.concatenate([condition, h], axis=-1)), training=training))
        for block in self.residuals:
            h = block(h, training=training)
        return self.up(h, training=training)

    def get_config(self):
        return {**super().get_config(), "width": self.width, "num_residual": self.num_residual,
                "sync_batch_norm": self.sync_batch_norm}


class MultiStageGenerator(TreeGenerator):
    """StackGAN++ G: CA, an initial stage and refinement stages, an image head at every scale.

    Scales are base_size * 2^i for i < num_stages (64, 128, 256). Widths follow the official
    code: 16 * ngf at 4x4, halved by every up-block, so the heads see ngf, ngf/2, ngf/4 channels
    at 64/128/256 for base_size 64. Each head is a bias-free conv3x3 to RGB + tanh.

    Args:
        base_size: side of the first image (BASE_SIZE 64).
        num_stages: number of scales (BRANCH_NUM 3).
        z_dim: noise size (100).
        condition_dim: CA code size (EMBEDDING_DIM 128; AttnGAN 100).
        ngf: GF_DIM (64; AttnGAN CUB 32).
        num_residual: residual blocks per refinement stage (R_NUM 2).
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (noise [B, z_dim], sentence embedding [B, D]) or (noise, embedding, CA noise [B, N_g]).
    Returns (list of images [B, s_i, s_i, 3] in [-1, 1], mu [B, N_g], log_sigma [B, N_g]).

    Example:
        >>> g = MultiStageGenerator(base_size=16, num_stages=2, ngf=4, condition_dim=8)
        >>> [x.shape for x in g((keras.ops.zeros((2, 100)), keras.ops.zeros((2, 32))))[0]]
        [(2, 16, 16, 3), (2, 32, 32, 3)]

    Reference: Zhang et al., "StackGAN++", TPAMI 2018, Sec. 4.1 and Fig. 2;
    hanzhanggit/StackGAN-v2 code/model.py `G_NET`.
    """

    def __init__(self, base_size=64, num_stages=3, z_dim=100, condition_dim=128, ngf=64, num_residual=2,
                 sync_batch_norm=False, **kwargs):
        super().__init__(base_size, num_stages, z_dim, condition_dim, ngf, num_residual, sync_batch_norm, **kwargs)
        self.initial = InitialStage(16 * ngf, base_size, sync_batch_norm)
        width = self.initial.out_channels
        self.refinements, widths = [], [width]
        for _ in range(num_stages - 1):
            self.refinements.append(RefinementStage(width, num_residual, sync_batch_norm))
            width = max(width // 2, 1)
            widths.append(width)
        self.widths = widths
        self.add_image_heads()

    def stage_condition(self, index, h, c, inputs):
        """What refinement stage `index` joins with h: here the sentence code tiled over h."""
        size = keras.ops.shape(h)[1]
        return keras.ops.tile(c[:, None, None, :], (1, size, size, 1))

    def call(self, inputs, training=False):
        noise, embedding = inputs[0], inputs[1]
        c, mu, log_sigma = self.ca(embedding, inputs[2] if len(inputs) > 2 else None)
        h = self.initial(keras.ops.concatenate([c, noise], axis=-1), training=training)
        images = [keras.ops.tanh(self.image_heads[0](h))]
        for i, stage in enumerate(self.refinements):
            h = stage((h, self.stage_condition(i, h, c, inputs)), training=training)
            images.append(keras.ops.tanh(self.image_heads[i + 1](h)))
        return images, mu, log_sigma
