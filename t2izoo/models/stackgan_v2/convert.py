"""Official StackGAN-v2 weights (hanzhanggit/StackGAN-v2 `netG_*.pth`, `netD*.pth`) into this family.

`G_NET` -> `MultiStageGenerator`: `ca_net`, `h_net1` and `img_net{i}` as every tree generator
(t2izoo/convert/layers.py); `h_net{i}` (NEXT_STAGE_G) -> `RefinementStage`: `jointConv`
(conv3x3 + BN + GLU over [condition, h]), `residual.{k}`, `upsample`. `D_NET64/128/256` ->
`StageDiscriminator`s.
"""

from t2izoo.convert.layers import (
    assign_residual_block,
    assign_stage_discriminator,
    assign_tree_generator_shared,
    assign_upsample_block,
)
from t2izoo.convert.state_dict import StateDict


def assign_generator(state: StateDict, generator):
    """`G_NET`'s state dict into a built `MultiStageGenerator` (same widths)."""
    assign_tree_generator_shared(state, generator)
    for i, stage in enumerate(generator.refinements):
        key = f"h_net{i + 2}"
        state.assign_conv(stage.joint, f"{key}.jointConv.0")
        state.assign_batch_norm(stage.joint_norm, f"{key}.jointConv.1")
        for k, block in enumerate(stage.residuals):
            assign_residual_block(state, block, f"{key}.residual.{k}")
        assign_upsample_block(state, stage.up, f"{key}.upsample")


def assign_discriminator(state: StateDict, discriminator):
    """`D_NET64/128/256`'s state dict into a built `StageDiscriminator` of the same size."""
    assign_stage_discriminator(state, discriminator, official="stackgan_v2")
