"""Official weights into the layers two or more families share (t2izoo/layers/).

Each function copies one official module's `state_dict` entries (under `key`) into one Keras
layer, in the official key names of StackGAN-v2 and AttnGAN (`code/model.py` of both: `upBlock`,
`ResBlock`, `CA_NET`, `INIT_STAGE_G`, `GET_IMAGE_G`, `D_NET64/128/256` and their logit heads).
"""

from __future__ import annotations

import numpy as np

from t2izoo.convert.state_dict import StateDict


def initial_stage_order(width: int) -> np.ndarray:
    """Unit order of `InitialStage.fc`: ours reshapes the GLU output to (4, 4, width), the official
    code views it as (width, 4, 4), so our unit (h, w, c) is official unit c * 16 + h * 4 + w, in
    both halves the GLU splits (values, then gates)."""
    h, w, c = np.meshgrid(np.arange(4), np.arange(4), np.arange(width), indexing="ij")
    half = (c * 16 + h * 4 + w).reshape(-1)
    return np.concatenate([half, half + 16 * width])


def assign_upsample_block(state: StateDict, block, key: str):
    """`upBlock`: Upsample, conv3x3 (`.1`), BatchNorm2d (`.2`), GLU."""
    state.assign_conv(block.conv, f"{key}.1")
    state.assign_batch_norm(block.norm, f"{key}.2")


def assign_residual_block(state: StateDict, block, key: str):
    """`ResBlock`: conv3x3 (`block.0`), BN (`block.1`), GLU, conv3x3 (`block.3`), BN (`block.4`)."""
    state.assign_conv(block.conv1, f"{key}.block.0")
    state.assign_batch_norm(block.norm1, f"{key}.block.1")
    state.assign_conv(block.conv2, f"{key}.block.3")
    state.assign_batch_norm(block.norm2, f"{key}.block.4")


def assign_initial_stage(state: StateDict, stage, key: str):
    """`INIT_STAGE_G`: Linear without bias (`fc.0`), BatchNorm1d (`fc.1`), GLU, up-blocks
    (`upsample1..4`); the fc units and BN channels reordered (`initial_stage_order`)."""
    order = initial_stage_order(stage.width)
    state.assign_dense(stage.fc, f"{key}.fc.0", out_order=order)
    state.assign_batch_norm(stage.fc_norm, f"{key}.fc.1", order=order)
    for i, up in enumerate(stage.ups):
        assign_upsample_block(state, up, f"{key}.upsample{i + 1}")


def assign_tree_generator_shared(state: StateDict, generator):
    """What StackGAN-v2's and AttnGAN's `G_NET` share: `ca_net.fc` (CA_NET: Linear + GLU; mu first,
    then log-variance, which ours halves into log sigma), `h_net1` and the image heads
    `img_net{i}.img.0` (GET_IMAGE_G: conv3x3 + tanh)."""
    state.assign_dense(generator.ca.dense, "ca_net.fc")
    assign_initial_stage(state, generator.initial, "h_net1")
    for i, head in enumerate(generator.image_heads):
        state.assign_conv(head, f"img_net{i + 1}.img.0")


def assign_tree_generator(state: StateDict, generator, stages, assign_stage_input):
    """A whole tree `G_NET`: the shared parts, then each NEXT_STAGE_G `h_net{i}` (i >= 2): what the
    family joins to h first (`assign_stage_input(state, stage, key)`: StackGAN-v2's `jointConv`,
    AttnGAN's word attention), then `residual.{k}` and `upsample`, which every tree generator has."""
    assign_tree_generator_shared(state, generator)
    for i, stage in enumerate(stages):
        key = f"h_net{i + 2}"
        assign_stage_input(state, stage, key)
        for k, block in enumerate(stage.residuals):
            assign_residual_block(state, block, f"{key}.residual.{k}")
        assign_upsample_block(state, stage.up, f"{key}.upsample")


def stage_discriminator_keys(image_size: int) -> list:
    """Official keys (conv, BN or None) of D_NET64/128/256's image encoder, in our `encoder` order."""
    keys = [("img_code_s16.0", None), ("img_code_s16.2", "img_code_s16.3"), ("img_code_s16.5", "img_code_s16.6"),
            ("img_code_s16.8", "img_code_s16.9")]
    if image_size >= 128:
        keys.append(("img_code_s32.0", "img_code_s32.1"))
    if image_size >= 256:
        keys.append(("img_code_s64.0", "img_code_s64.1"))
    if image_size == 128:
        keys.append(("img_code_s32_1.0", "img_code_s32_1.1"))
    if image_size == 256:
        keys += [("img_code_s64_1.0", "img_code_s64_1.1"), ("img_code_s64_2.0", "img_code_s64_2.1")]
    return keys


# Where each official code keeps the joint conv and the logit heads of D, and the channel order of
# its joint input ([condition, image code] in StackGAN-v2, [image code, condition] in AttnGAN).
DISCRIMINATOR_HEADS = {
    "stackgan_v2": dict(joint="jointConv", logits="logits", uncond="uncond_logits", condition_first=True),
    "attngan": dict(joint="COND_DNET.jointConv", logits="COND_DNET.outlogits", uncond="UNCOND_DNET.outlogits",
                    condition_first=False),
}


def assign_stage_discriminator(state: StateDict, d, official: str = "stackgan_v2"):
    """One official D_NET{64,128,256} into a `StageDiscriminator(variant="stackgan_v2")`.

    Args:
        official: "stackgan_v2" or "attngan" (their heads are named and joined differently).
    """
    if d.variant != "stackgan_v2":
        raise ValueError("only the joint conditional/unconditional discriminator converts")
    keys = stage_discriminator_keys(d.image_size)
    if len(keys) != len(d.encoder):
        state.problems.append(f"{state.prefix}: a {d.image_size} px discriminator has {len(d.encoder)} encoder "
                              f"layers, the official D_NET{d.image_size} {len(keys)}")
        return
    for (conv, norm, _), (conv_key, norm_key) in zip(d.encoder, keys):
        state.assign_conv(conv, conv_key)
        if norm is not None:
            state.assign_batch_norm(norm, norm_key)
    heads = DISCRIMINATOR_HEADS[official]
    in_order = None
    if not heads["condition_first"]:  # ours joins [condition, code]: move the code's channels behind
        code = 8 * d.ndf
        total = d.joint.kernel.shape[2]
        in_order = np.concatenate([np.arange(code, total), np.arange(code)])
    state.assign_conv(d.joint, f"{heads['joint']}.0", in_order=in_order)
    state.assign_batch_norm(d.joint_norm, f"{heads['joint']}.1")
    state.assign_conv(d.logit, f"{heads['logits']}.0")
    state.assign_conv(d.uncond_logit, f"{heads['uncond']}.0")
