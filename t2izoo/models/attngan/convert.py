"""Official AttnGAN weights (taoxugit/AttnGAN `netG_epoch_*.pth`, `bird_AttnGAN2.pth`,
`coco_AttnGAN2.pth`, and `netD*.pth`) into this family.

`G_NET` -> `AttnGanGenerator`: `ca_net`, `h_net1` and `img_net{i}` as every tree generator
(t2izoo/convert/layers.py); `h_net{i}` (NEXT_STAGE_G) -> `AttentionStage`: `att.conv_context`
(the bias-free 1x1 conv projecting words to the hidden width: our `WordAttention` projection),
`residual.{k}`, `upsample`. `D_NET64/128/256` -> `StageDiscriminator`s (their conditional head
joins [image code, condition]; ours [condition, image code], so its input channels move).
"""

import numpy as np

from t2izoo.conditioning.damsm.convert import read_captions_pickle  # noqa: F401 (the official vocabulary)
from t2izoo.convert.layers import assign_stage_discriminator, assign_tree_generator
from t2izoo.convert.state_dict import StateDict


def _word_attention(state: StateDict, stage, key: str):
    """GlobalAttentionGeneral's `conv_context` (bias-free 1x1 conv, words -> hidden width): our
    `WordAttention` projection."""
    context = state.take(f"{key}.att.conv_context.weight")  # [hidden, words, 1, 1]
    state.set(stage.attention.projection.kernel, None if context is None else np.transpose(context[:, :, 0, 0]),
              f"{key}.att.conv_context.weight")


def assign_generator(state: StateDict, generator):
    """`G_NET`'s state dict into a built `AttnGanGenerator` (same widths)."""
    assign_tree_generator(state, generator, generator.stages, _word_attention)


def assign_discriminator(state: StateDict, discriminator):
    """`D_NET64/128/256`'s state dict into a built `StageDiscriminator` of the same size."""
    assign_stage_discriminator(state, discriminator, official="attngan")


def convert_run(out: str, preset: str, overrides=(), checkpoint: str = "", text_encoder: str = "",
                vocabulary: str = "", image_encoder: str = "", arrays=None) -> str:
    """Official AttnGAN G_NET + DAMSM text encoder + captions.pickle -> a generation run directory.

    The run holds this family's config (preset + overrides, which must give the official widths),
    the official vocabulary (our id k + 1 is official id k; id 1, our `<unk>`, gets a zero word
    vector: the official code drops unknown words instead), the DAMSM text encoder's config
    (with `image_encoder`, the DAMSM CNN_ENCODER too, `image_encoder="inception_torchvision"`, so the
    run also trains with the DAMSM loss; without it `image_encoder="none"`: the run generates,
    evaluates and exports but does not train), and a checkpoint whose generator and EMA generator
    both hold the released weights (the official code saves `avg_param_G`).

    Args:
        image_encoder: the DAMSM `image_encoder*.pth` (optional).
        arrays: {"generator": {key: array}, "text_encoder": {key: array}[, "image_encoder": ...]}
            instead of reading the .pth files (tests).
    """
    import dataclasses

    from t2izoo import configs as config_lib
    from t2izoo.conditioning.base import STORED
    from t2izoo.conditioning.damsm.conditioner import DamsmConditioner
    from t2izoo.conditioning.damsm.config import DAMSM_PRESETS
    from t2izoo.conditioning.damsm.convert import assign_image_encoder, assign_text_encoder, official_text_encoder
    from t2izoo.convert.run_dir import write_run
    from t2izoo.convert.state_dict import ConversionError, StateDict, load_torch_state_dict
    from t2izoo.models.attngan.config import ATTNGAN_PRESETS

    if not (vocabulary and (arrays or (checkpoint and text_encoder))):
        raise ConversionError("--from=attngan needs --checkpoint (G_NET), --text_encoder (the DAMSM RNN_ENCODER) and "
                              "--vocabulary (captions.pickle)")
    if not arrays:
        arrays = {"generator": load_torch_state_dict(checkpoint), "text_encoder": load_torch_state_dict(text_encoder)}
        if image_encoder:
            arrays["image_encoder"] = load_torch_state_dict(image_encoder)
    sources = {"generator": checkpoint or "generator", "text_encoder": text_encoder or "text_encoder",
               "image_encoder": image_encoder or "image_encoder"}
    with_images = "image_encoder" in arrays
    text, vocab, widths = official_text_encoder(arrays["text_encoder"], sources["text_encoder"], vocabulary)
    config = config_lib.apply_overrides(dataclasses.replace(ATTNGAN_PRESETS[preset], dataset=preset,
                                                            text_encoder_dir=STORED), overrides)
    damsm_config = dataclasses.replace(DAMSM_PRESETS.get(preset, DAMSM_PRESETS["cub"]),
                                       image_encoder="inception_torchvision" if with_images else "none",
                                       max_words=config.max_words, **widths)

    def fill(trainer, conditioner):
        assign_text_encoder(text, conditioner.encoder)
        text.finish(f"a DAMSM text encoder of {len(vocab)} words")
        state = StateDict(arrays["generator"], sources["generator"])
        assign_generator(state, trainer.generator)
        state.finish(f"AttnGAN's generator at the {preset!r} preset with {list(overrides)}")
        for ema, live in zip(trainer.ema_weights, trainer.generator.trainable_variables):
            ema.assign(live.value)
        if with_images:
            images = StateDict(arrays["image_encoder"], sources["image_encoder"])
            assign_image_encoder(images, conditioner.image_encoder)
            images.finish(f"the DAMSM image encoder (CNN_ENCODER, D = {damsm_config.embedding_dim})")

    return write_run(out, config, vocab, {DamsmConditioner.stored_config: config_lib.to_dict(damsm_config)}, fill)
