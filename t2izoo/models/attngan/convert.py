"""Official AttnGAN weights (taoxugit/AttnGAN `netG_epoch_*.pth`, `bird_AttnGAN2.pth`,
`coco_AttnGAN2.pth`, and `netD*.pth`) into this family.

`G_NET` -> `AttnGanGenerator`: `ca_net`, `h_net1` and `img_net{i}` as every tree generator
(t2izoo/convert/layers.py); `h_net{i}` (NEXT_STAGE_G) -> `AttentionStage`: `att.conv_context`
(the bias-free 1x1 conv projecting words to the hidden width: our `WordAttention` projection),
`residual.{k}`, `upsample`. `D_NET64/128/256` -> `StageDiscriminator`s (their conditional head
joins [image code, condition]; ours [condition, image code], so its input channels move).
"""

import numpy as np

from t2izoo.convert.layers import assign_residual_block, assign_stage_discriminator, assign_tree_generator_shared
from t2izoo.convert.layers import assign_upsample_block
from t2izoo.convert.state_dict import StateDict


def assign_generator(state: StateDict, generator):
    """`G_NET`'s state dict into a built `AttnGanGenerator` (same widths)."""
    assign_tree_generator_shared(state, generator)
    for i, stage in enumerate(generator.stages):
        key = f"h_net{i + 2}"
        context = state.take(f"{key}.att.conv_context.weight")  # [hidden, words, 1, 1]
        state.set(stage.attention.projection.kernel, None if context is None else np.transpose(context[:, :, 0, 0]),
                  f"{key}.att.conv_context.weight")
        for k, block in enumerate(stage.residuals):
            assign_residual_block(state, block, f"{key}.residual.{k}")
        assign_upsample_block(state, stage.up, f"{key}.upsample")


def assign_discriminator(state: StateDict, discriminator):
    """`D_NET64/128/256`'s state dict into a built `StageDiscriminator` of the same size."""
    assign_stage_discriminator(state, discriminator, official="attngan")
