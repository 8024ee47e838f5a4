"""Official StackGAN-v2 weights (hanzhanggit/StackGAN-v2 `netG_*.pth`, `netD*.pth`) into this family.

`G_NET` -> `MultiStageGenerator`: `ca_net`, `h_net1` and `img_net{i}` as every tree generator
(t2izoo/convert/layers.py); `h_net{i}` (NEXT_STAGE_G) -> `RefinementStage`: `jointConv`
(conv3x3 + BN + GLU over [condition, h]), `residual.{k}`, `upsample`. `D_NET64/128/256` ->
`StageDiscriminator`s.
"""

from t2izoo.convert.layers import assign_stage_discriminator, assign_tree_generator
from t2izoo.convert.state_dict import StateDict


def _joint_conv(state: StateDict, stage, key: str):
    """NEXT_STAGE_G's `jointConv` (conv3x3 + BN + GLU over [condition, h])."""
    state.assign_conv(stage.joint, f"{key}.jointConv.0")
    state.assign_batch_norm(stage.joint_norm, f"{key}.jointConv.1")


def assign_generator(state: StateDict, generator):
    """`G_NET`'s state dict into a built `MultiStageGenerator` (same widths)."""
    assign_tree_generator(state, generator, generator.refinements, _joint_conv)


def assign_discriminator(state: StateDict, discriminator):
    """`D_NET64/128/256`'s state dict into a built `StageDiscriminator` of the same size."""
    assign_stage_discriminator(state, discriminator, official="stackgan_v2")
