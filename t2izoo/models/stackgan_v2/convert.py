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


def convert_run(out: str, preset: str, overrides=(), checkpoint: str = "", embeddings: str = "",
                arrays=None, table=None) -> str:
    """Official StackGAN-v2 `netG_*.pth` + the official char-CNN-RNN embeddings -> a generation run.

    StackGAN-v2's text input is Reed et al.'s Torch7 char-CNN-RNN, which no `.pth` holds: the run
    keeps the released embeddings instead (`char-CNN-RNN-embeddings.pickle` with its split's
    `filenames.pickle` and caption files; `--embeddings` may list several splits), as a
    `CharEmbeddingTable` in place of the encoder. It generates, evaluates and exports for exactly
    those captions; any other caption is refused by name (there is no encoder to embed it). The
    vocabulary is built from them. The checkpoint's generator and EMA generator both hold the
    released weights (the official code saves `avg_param_G`); the discriminators keep this
    family's initialisation.

    Args:
        embeddings: comma-separated paths of `char-CNN-RNN-embeddings.pickle` files.
        arrays: {key: array} of G_NET's state dict instead of reading `checkpoint` (tests).
        table: (captions, embeddings [K, D]) instead of reading `embeddings` (tests).
    """
    import dataclasses

    from t2izoo import configs as config_lib
    from t2izoo.conditioning.base import STORED
    from t2izoo.conditioning.char_cnn_rnn.conditioner import (
        TABLE,
        CharCnnRnnConditioner,
    )
    from t2izoo.conditioning.char_cnn_rnn.official import read_official_embeddings
    from t2izoo.convert.run_dir import write_run
    from t2izoo.convert.state_dict import ConversionError, load_torch_state_dict
    from t2izoo.data.text import Vocabulary
    from t2izoo.models.stackgan_v2.config import STACKGAN_V2_PRESETS

    if not (checkpoint or arrays) or not (embeddings or table):
        raise ConversionError("--from=stackgan_v2 needs --checkpoint (netG_*.pth) and --embeddings (the official "
                              "char-CNN-RNN-embeddings.pickle of the captions to generate from)")
    captions, vectors = table if table is not None else read_official_embeddings(embeddings.split(","))
    if arrays is None:
        arrays = load_torch_state_dict(checkpoint)
    source = checkpoint or "generator"
    config = config_lib.apply_overrides(dataclasses.replace(STACKGAN_V2_PRESETS[preset], dataset=preset,
                                                            text_encoder_dir=STORED), overrides)
    vocab = Vocabulary.build(captions)
    description = {TABLE: {"num_captions": len(captions), "embedding_dim": int(vectors.shape[1])},
                   "source": embeddings or "table"}

    def fill(trainer, conditioner):
        conditioner.encoder.set_table(captions, vectors)
        state = StateDict(arrays, source)
        assign_generator(state, trainer.generator)
        state.finish(f"StackGAN-v2's generator at the {preset!r} preset with {list(overrides)} and "
                     f"{vectors.shape[1]}-d text embeddings")
        for ema, live in zip(trainer.ema_weights, trainer.generator.trainable_variables):
            ema.assign(live.value)

    return write_run(out, config, vocab, {CharCnnRnnConditioner.stored_config: description}, fill)
